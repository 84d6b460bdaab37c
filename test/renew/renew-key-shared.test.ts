// The renewal SSH key is one key for every process on the store: two replicas with their own data dirs use the
// same key pair (else a PC that trusts replica A's key refuses replica B), and a key generated into the data dir
// by an older version moves into the store unchanged.
import { generateEd25519KeyPair } from '../../src/renew/ssh-keypair.js';
import { afterAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/mysql.js';

describe('renewal SSH key across processes', () => {
  const apps: TestApp[] = [];
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const a of apps) await a.close();
    for (const d of drops) await d();
  });

  it('two replicas on one MariaDB store with their own data dirs use one key pair', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const env = { SWITCHBOARD_PROVISION_KEY: crypto.randomBytes(32).toString('hex') };
    const a = await makeTestApp({ databaseUrl: db.url, env });
    apps.push(a);
    const b = await makeTestApp({ databaseUrl: db.url, env });
    apps.push(b);
    expect(a.dataDir).not.toBe(b.dataDir);
    const [ka, kb] = await Promise.all([a.run('renew key'), b.run('renew key')]);
    expect(ka.replies[0]).toMatch(/^ssh-ed25519 /);
    expect(kb.replies[0]).toBe(ka.replies[0]);
    expect((await a.app.services.renew.keyPair()).privateKey).toBe((await b.app.services.renew.keyPair()).privateKey);
  });

  it('a key an older version generated into <dataDir>/renew/ moves into the store unchanged', async () => {
    const t = await makeTestApp();
    apps.push(t);
    const kp = generateEd25519KeyPair(ssh2, 'old');
    fs.mkdirSync(path.join(t.dataDir, 'renew'), { recursive: true });
    fs.writeFileSync(path.join(t.dataDir, 'renew/id_ed25519'), kp.private, { mode: 0o600 });
    fs.writeFileSync(path.join(t.dataDir, 'renew/id_ed25519.pub'), `${kp.public}\n`);
    expect((await t.run('renew key')).replies[0]).toBe(kp.public.trim());
    const row = await t.app.db.selectFrom('store_secrets').select('sealed').where('name', '=', 'renew-ssh-key').executeTakeFirstOrThrow();
    expect(t.app.sealer.open(row.sealed)).toContain(kp.public.trim());
  });
});
