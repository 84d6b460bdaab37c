// Three replicas started at the same moment on one empty MariaDB database: exactly one creates the console
// admin and prints its generated password, and that password logs in.
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './helpers/env.js';
import { runCli } from './helpers/cli.js';
import { createTestDatabase } from './helpers/mysql.js';
import { sharedKey, startProcess, type StartedProcess } from './helpers/start-process.js';

describe('first start of three replicas on one MariaDB', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  // An empty database, and one already migrated (then the three reach the bootstrap closest together).
  it.each([
    { store: 'empty', migrated: false },
    { store: 'migrated but without users', migrated: true },
  ])('on a $store database: exactly one generated admin password is printed, and it works on every replica', async ({ migrated }) => {
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const dir = tmpDir();
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const env = { DATABASE_URL: db.url, SWITCHBOARD_PROVISION_KEY: sharedKey(), SWITCHBOARD_HTTP_PORT: '0', SWITCHBOARD_ADMIN_PASSWORD: '', SWITCHBOARD_LOG_LEVEL: 'warn' };
    if (migrated) expect((await runCli(['migrate'], { ...env, SWITCHBOARD_DATA_DIR: dir })).code).toBe(0);
    const replicas: StartedProcess[] = [];
    for (const name of ['r1', 'r2', 'r3']) {
      const p = startProcess({ ...env, SWITCHBOARD_DATA_DIR: path.join(dir, name) });
      cleanup.push(() => void p.child.kill('SIGKILL'));
      replicas.push(p);
    }
    const urls = await Promise.all(replicas.map((p) => p.url));
    const printed = replicas.flatMap((p) => [...p.stderr.matchAll(/Console login: admin \/ (\S+)/g)].map((m) => m[1]!));
    expect(printed).toHaveLength(1);
    const password = printed[0]!;
    for (const url of urls) {
      const login = await fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
      expect(login.status, url).toBe(200);
    }
  });
});
