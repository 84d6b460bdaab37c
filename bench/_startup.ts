// Start-up figures: `switchboard start` on an existing SQLite data dir, spawned as a real process, timed
// from spawn until GET /healthz answers 200 (median of 3 starts), and its RSS once idle.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ROOT, stopChild } from './_util.js';

export const START_TARGET_MS = 1000;
export const IDLE_RSS_TARGET_MB = 150;

function startBot(dataDir: string, port: number): ChildProcess {
  const env = {
    ...process.env,
    SWITCHBOARD_DATA_DIR: dataDir,
    SWITCHBOARD_HTTP_PORT: String(port),
    SWITCHBOARD_HTTP_HOST: '127.0.0.1',
    SWITCHBOARD_LOG_LEVEL: 'error',
    SWITCHBOARD_ADMIN_PASSWORD: '',
    DATABASE_URL: '',
  };
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/switchboard.js'), 'start'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000))); // the banner goes here too
  child.once('exit', (code) => {
    if (code) process.stderr.write(`switchboard start exited with ${code}: ${err}\n`);
  });
  return child;
}

async function untilHealthy(child: ChildProcess, port: number, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`switchboard start exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > end) throw new Error('/healthz did not answer 200');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function rssMb(pid: number): number | null {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : null;
  } catch {
    return null; // not Linux
  }
}

export async function startupFigures(): Promise<Record<string, unknown>> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-start-'));
  const port = await freePort();
  try {
    // First start: creates and migrates the store (not timed); the timed starts find an existing one.
    const first = startBot(dataDir, port);
    await untilHealthy(first, port);
    await stopChild(first);
    const times: number[] = [];
    let idleRss: number | null = null;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const child = startBot(dataDir, port);
      try {
        await untilHealthy(child, port);
        times.push(performance.now() - t0);
        if (i === 0) {
          await new Promise((r) => setTimeout(r, 3000)); // idle: start-up work and first polls done
          idleRss = rssMb(child.pid!);
        }
      } finally {
        await stopChild(child);
      }
    }
    const median = [...times].sort((a, b) => a - b)[1]!;
    return {
      start_to_healthz_ms: Math.round(median),
      start_to_healthz_target_ms: START_TARGET_MS,
      start_to_healthz_runs_ms: times.map(Math.round),
      idle_rss_mb: idleRss,
      idle_rss_target_mb: IDLE_RSS_TARGET_MB,
    };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
