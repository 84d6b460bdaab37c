// `switchboard start` on embedded defaults, and `switchboard exec` against the same store while it runs.
import { afterAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { runCli, spawnCli } from './helpers/cli.js';
import { tmpDir } from './helpers/env.js';

describe('switchboard start', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('migrates a new SQLite store, prints the console URL and admin password, answers /healthz, and serves exec meanwhile', async () => {
    const dataDir = tmpDir();
    const env = { SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_HTTP_PORT: '0', SWITCHBOARD_LOG_LEVEL: 'info', SWITCHBOARD_ADMIN_PASSWORD: '' };
    child = spawnCli(['start'], env);
    let stderr = '';
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no console URL printed; stderr: ${stderr}`)), 30_000);
      child!.stderr!.on('data', (d) => {
        stderr += d;
        const m = /Web console: (http:\/\/[^\s]+)\/console/.exec(stderr);
        if (m && /Console login: admin \/ \S{20}/.test(stderr)) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    expect(stdout).toMatch(/"msg":"store migrated"/);
    const h = await fetch(`${url}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok' });
    const password = /Console login: admin \/ (\S{20})/.exec(stderr)![1]!;
    expect(stdout).not.toContain(password);
    const login = await fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    expect(login.status).toBe(200);
    const r = await runCli(['exec', 'selftest', '1'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✅ Job #1 selftest \(1 s\): done/);
    child.kill('SIGTERM');
    const code = await new Promise((res) => child!.once('close', res));
    expect(code).toBe(0);
  });
});
