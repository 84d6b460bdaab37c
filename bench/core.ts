// Core figures: command dispatch throughput through the registry, roles and audit on SQLite; and start-up
// (`switchboard start` to /healthz 200 on an existing SQLite store, idle RSS; see _startup.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { features } from '../src/features.js';
import { startupFigures } from './_startup.js';

export async function run(): Promise<Record<string, unknown>> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-core-'));
  const config = loadConfig({ env: {}, sections: features.flatMap((f) => (f.config ? [f.config] : [])), overrides: { dataDir, 'http.port': 0 } });
  const app = await createApp({ mode: 'test', config, log: pino({ level: 'silent' }) });
  const n = 2000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await app.dispatcher.handle({ platform: 'cli', channel: 'bench', user: { id: 'bench' }, text: 'whoami', files: [] });
  const ms = performance.now() - t0;
  await app.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  const dispatch = { dispatch_whoami_per_s: Math.round((n / ms) * 1000), dispatch_mean_ms: +(ms / n).toFixed(3) };
  return { ...dispatch, ...(await startupFigures()) };
}
