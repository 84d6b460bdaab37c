// The base URL every process writes into what it hands out (agent enrolment, QR labels, phone files) comes
// from config, so `exec` — which binds no socket — writes the same absolute URL as the running bot. A start
// whose base URL is a loopback address (no http.publicUrl, listening on 127.0.0.1) says so in its log.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/env.js';
import { startProcess, type StartedProcess } from './helpers/start-process.js';
import { until } from './helpers/wait.js';

describe('base URL in exec', () => {
  it('exec monitor enroll prints an absolute --server URL and warns that a loopback one reaches no PBX', async () => {
    const dir = tmpDir();
    const r = await runCli(['exec', 'monitor enroll pbx-acme'], { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_HTTP_PORT: '8123' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/switchboard agent enroll --server http:\/\/127\.0\.0\.1:8123 --code \S+/);
    expect(r.stdout).toMatch(/loopback address.*http\.publicUrl/);
    const pub = await runCli(['exec', 'monitor enroll pbx-other'], { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_PUBLIC_URL: 'https://sb.example.org/' });
    expect(pub.stdout).toMatch(/--server https:\/\/sb\.example\.org --code/);
    expect(pub.stdout).not.toMatch(/loopback/);
  });
});

describe('the loopback warning of `switchboard start`', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A real `switchboard start` on a fresh SQLite data dir, listening on 127.0.0.1 (an ephemeral port). */
  async function start(env: NodeJS.ProcessEnv): Promise<{ p: StartedProcess; url: string; logs: () => { level: number; msg: string; baseUrl?: string }[] }> {
    const dir = tmpDir();
    const p = startProcess({
      SWITCHBOARD_DATA_DIR: dir,
      SWITCHBOARD_HTTP_HOST: '127.0.0.1',
      SWITCHBOARD_HTTP_PORT: '0',
      SWITCHBOARD_ADMIN_PASSWORD: 'Console!pw-1234',
      SWITCHBOARD_LOG_LEVEL: 'info',
      ...env,
    });
    cleanup.push(async () => {
      p.child.kill('SIGTERM');
      await p.exited;
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const url = await p.url;
    const logs = () =>
      p.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; baseUrl?: string });
    // "switchboard started" is logged after the check, on the same stream: once it is there, so is any warning.
    await until('the "switchboard started" log line', () => logs().some((l) => l.msg === 'switchboard started'), 30_000);
    return { p, url, logs };
  }

  it('warns at start when no http.publicUrl is set and the bot listens on loopback, naming the URL and the fix', async () => {
    const { p, url, logs } = await start({});
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const warnings = logs().filter((l) => l.level === 40 && /loopback/.test(l.msg));
    expect(warnings).toEqual([
      expect.objectContaining({
        baseUrl: url,
        msg: `⚠ the bot is reached at ${url}, a loopback address: phones, PBX agents and QR labels elsewhere cannot use it. Set http.publicUrl (SWITCHBOARD_PUBLIC_URL) to an address they reach.`,
      }),
    ]);
    expect(p.stderr).not.toMatch(/loopback/); // a log line, not part of the start banner
  });

  it('says nothing of loopback when http.publicUrl is set', async () => {
    const { p, logs } = await start({ SWITCHBOARD_PUBLIC_URL: 'https://sb.example.org' });
    expect(logs().length).toBeGreaterThan(0);
    expect(p.stdout + p.stderr).not.toMatch(/loopback/);
  });
});
