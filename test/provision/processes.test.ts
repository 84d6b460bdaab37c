// One SQLite store, several processes: a running `switchboard start` serves phones provisioned through
// `switchboard exec` within 2 s (no restart), with an absolute provisioning URL in their files; restarting it
// and running another `exec` leave every phone's version and bytes as they were. Needs `npm run build`.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { openStore, type Store } from '../../src/store/db.js';

const PHONES = [
  {
    mac: '0c383eaa0001',
    line: 'provision fanvil-x1sg mac=0c:38:3e:aa:00:01 ext=7001 password=Pw!7001abcd server=pbx.example.lan room=Lab',
    url: /^Flash Server IP\s*:\s*http:\/\/127\.0\.0\.1:\d+\/provision\/$/m,
  },
  {
    mac: '00908faa0002',
    line: 'provision audiocodes-405hd mac=00:90:8f:aa:00:02 ext=7002 password=Pw!7002abcd server=pbx.example.lan',
    url: /^provisioning\/configuration\/url=http:\/\/127\.0\.0\.1:\d+\/provision\/$/m,
  },
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('exec and restarts against a running switchboard on one SQLite store', () => {
  const dataDir = tmpDir();
  let env: NodeJS.ProcessEnv;
  let base: string;
  let child: ChildProcess | undefined;
  let store: Store;

  const start = async () => {
    child = spawnCli(['start'], env);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    await until(`the server on ${base} (stderr: ${stderr})`, async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok, 60_000, 200);
  };
  const stop = async () => {
    const c = child!;
    child = undefined;
    c.kill('SIGTERM');
    if (c.exitCode === null) await new Promise((res) => c.once('close', res));
  };
  const fileOf = (mac: string) => `${mac.startsWith('0c383e') ? mac : mac.toUpperCase()}.cfg`;
  const served = async (mac: string) => {
    const r = await fetch(`${base}/provision/${fileOf(mac)}`);
    return r.status === 200 ? await r.text() : undefined;
  };
  const stored = async () =>
    (await store.db.selectFrom('phones').select(['mac', 'version', 'digest', 'generated_at']).orderBy('mac').execute()).map((r) => ({
      ...r,
      version: Number(r.version),
      generated_at: Number(r.generated_at),
    }));
  const everything = async () => ({
    rows: await stored(),
    bodies: await Promise.all(PHONES.map((p) => served(p.mac))),
    files: PHONES.map((p) => fs.readFileSync(path.join(dataDir, 'provision', fileOf(p.mac)), 'utf8')),
  });

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // No http.publicUrl: the URL phones get is computed from http.host and http.port, the same in every process.
    env = { SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_HTTP_PORT: String(port), SWITCHBOARD_ADMIN_PASSWORD: 'Console!pw-1234', SWITCHBOARD_LOG_LEVEL: 'warn' };
    await start();
    store = openStore({ sqlitePath: path.join(dataDir, 'switchboard.sqlite') });
  }, 90_000);
  afterAll(async () => {
    child?.kill('SIGKILL');
    await store?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a phone provisioned through exec is served by the running process within 2 s, with an absolute provisioning URL', async () => {
    for (const p of PHONES) {
      expect(await served(p.mac)).toBeUndefined();
      const r = await runCli(['exec', p.line], env);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/1 new/);
      const body = await until(`${p.mac} served by the running process`, () => served(p.mac), 2_000, 50);
      expect(body).toMatch(p.url);
      expect(body).not.toMatch(/(Flash Server IP\s*:|configuration\/url=)\/provision\//);
      // Byte for byte what exec wrote beside it from the same store.
      expect(body).toBe(fs.readFileSync(path.join(dataDir, 'provision', fileOf(p.mac)), 'utf8'));
    }
    expect((await stored()).map((r) => r.version)).toEqual([1, 1]);
  }, 120_000);

  it("restarting the process and running exec leave every phone's version and bytes unchanged", async () => {
    const before = await everything();
    expect(before.bodies.every((b) => typeof b === 'string')).toBe(true);
    await stop();
    await start();
    expect(await everything()).toEqual(before);
    const r = await runCli(['exec', 'whoami'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(await everything()).toEqual(before);
    // And `provision regenerate all` through exec finds nothing to change either.
    const regen = await runCli(['exec', 'provision regenerate all'], env);
    expect(regen.stdout).toMatch(/Regenerated 2 phones: 0 changed \(version raised\), 2 unchanged\./);
    expect(await everything()).toEqual(before);
  }, 120_000);

  it('a phone removed through exec is 404 on the running process within 2 s, its local file gone', async () => {
    const r = await runCli(['exec', '--yes', 'provision rm 0c:38:3e:aa:00:01'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await until('the removed phone to be 404', async () => (await served('0c383eaa0001')) === undefined, 2_000, 50);
    expect(fs.existsSync(path.join(dataDir, 'provision', '0c383eaa0001.cfg'))).toBe(false);
    expect(await served('00908faa0002')).toMatch(PHONES[1]!.url);
  }, 60_000);
});
