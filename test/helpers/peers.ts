// Several apps in this one process on one store, each with its own owner name (as if on other hosts), sharing
// one recording chat adapter: "replicas" for tests of who owns a job or a lease, without spawning processes.
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { features } from '../../src/features.js';
import type { Engine } from '../../src/store/db.js';
import { RecordingAdapter } from './app.js';
import { createTestDatabase } from './mysql.js';
import { tmpDir } from './env.js';

export interface Peers {
  apps: RunningApp[];
  chat: RecordingAdapter;
  logs: string[][];
  close(): Promise<void>;
}

/** `n` apps (mode 'test' unless given) on one fresh store; `perApp[i]` are config overrides for app i. */
export async function peerApps(engine: Engine, n: number, perApp: Record<string, unknown>[] = [], mode: 'test' | 'exec' | 'server' = 'test'): Promise<Peers> {
  const dataDir = tmpDir();
  const db = engine === 'mysql' ? await createTestDatabase() : undefined;
  const chat = new RecordingAdapter();
  const apps: RunningApp[] = [];
  const logs: string[][] = [];
  for (let i = 0; i < n; i++) {
    const config = loadConfig({
      env: {},
      sections: features.flatMap((f) => (f.config ? [f.config] : [])),
      overrides: { dataDir, ...(db ? { databaseUrl: db.url } : {}), 'http.port': 0, 'jobs.editIntervalMs': 0, 'auth.admins': ['test:admin'], ...(perApp[i] ?? {}) },
    });
    const lines: string[] = [];
    logs.push(lines);
    const log = createLogger({
      level: 'debug',
      pretty: false,
      destination: new Writable({
        write(c, _e, cb) {
          lines.push(c.toString());
          cb();
        },
      }),
    });
    apps.push(await createApp({ mode, config, log, adapters: [chat], owner: `peer-${i}.test:${1000 + i}:p${i}` }));
  }
  return {
    apps,
    chat,
    logs,
    async close() {
      for (const a of apps) await a.close().catch(() => undefined);
      await db?.drop();
      fs.rmSync(path.resolve(dataDir), { recursive: true, force: true });
    },
  };
}

export function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
