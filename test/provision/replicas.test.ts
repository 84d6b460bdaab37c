// Two processes on one MariaDB store (two apps with their own data dirs, one database, one store key): what
// one provisions or removes the other serves (or stops serving) within 2 s, byte for byte; one fetch of a new
// config version reaching both is announced once, and so is an unknown MAC; both render the same admin
// password. Then, on SQLite: a legacy phone-admin.secret moves into the store, and the loopback warning in
// provisioning replies is given once an hour per channel.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { PROV } from './helpers.js';

const { 'provision.adminPassword': _pw, ...SITE } = PROV;

const url = (t: TestApp, file: string) => `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}/provision/${file}`;
async function get(t: TestApp, file: string, ua = 'Fanvil X1SG 2.12.1'): Promise<string | undefined> {
  const r = await fetch(url(t, file), { headers: { 'user-agent': ua } });
  return r.status === 200 ? await r.text() : undefined;
}
const fetched = (t: TestApp) => t.chat.messages.filter((m) => /0c:38:3e:bb:00:01 .*fetched its config/.test(m.text));
const unknown = (t: TestApp) => t.chat.messages.filter((m) => /Unknown phone 0c:38:3e:99:99:01/.test(m.text));
const settle = (...ts: TestApp[]) => Promise.all(ts.map((t) => t.app.services.provision.announcer?.settle()));

describe('two processes on one MariaDB store', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const provisionKey = crypto.randomBytes(32).toString('hex');
    const overrides = { ...SITE, 'provision.announce.unknown': true, 'provision.announce.targets': ['test:support'] };
    a = await makeTestApp({ engine: 'mysql', listen: true, overrides, provisionKey });
    b = await makeTestApp({ engine: 'mysql', databaseUrl: a.app.config.databaseUrl, listen: true, overrides, provisionKey });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a phone provisioned on A is served byte-identical by B within 2 s, with the admin password both share', async () => {
    const r = await a.run('provision fanvil mac=0c:38:3e:bb:00:01 ext=8101 name="Lab desk" password=Pw!8101abcd room=Lab');
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    const onA = await get(a, '0c383ebb0001.cfg');
    expect(onA).toMatch(/^Flash Server IP\s*:http:\/\/10\.20\.0\.5:8080\/provision\/$/m);
    const onB = await until('B to serve the phone A provisioned', () => get(b, '0c383ebb0001.cfg'), 2_000, 50);
    expect(onB).toBe(onA);
    // Asked of B before B had read A's change: a 404 for that moment, but not announced as an unknown phone.
    await settle(a, b);
    expect([...a.chat.texts(), ...b.chat.texts()].filter((x) => /Unknown phone 0c:38:3e:bb:00:01/.test(x))).toEqual([]);
    // Neither data dir holds the password: it is the store's, the same for both.
    const pw = await a.app.secrets.get('phone-admin-password');
    expect(pw).toBeTruthy();
    expect(a.dataDir).not.toBe(b.dataDir);
    expect(onA).toContain(pw!);
    for (const t of [a, b]) expect(fs.existsSync(path.join(t.dataDir, 'phone-admin.secret'))).toBe(false);
    const ac = await b.run('provision audiocodes mac=00:90:8f:bb:00:02 ext=8102 password=Pw!8102abcd');
    expect(ac.exitCode, ac.replies.join('\n')).toBe(0);
    const acOnB = await get(b, '00908FBB0002.cfg', 'AUDC-IPPhone/2.2.12.126 (405HD; 00908FBB0002)');
    expect(acOnB).toContain(pw!);
    expect(await until('A to serve the phone B provisioned', () => get(a, '00908FBB0002.cfg', 'AUDC-IPPhone/2.2.12.126 (405HD; 00908FBB0002)'), 2_000, 50)).toBe(acOnB);
  });

  it('a process does not render a phone again for its own change coming back through the feed', async () => {
    const before = a.app.services.provision.fileByName('0c383ebb0001.cfg');
    await a.app.changes.poll();
    await a.app.changes.poll();
    expect(a.app.services.provision.fileByName('0c383ebb0001.cfg')).toBe(before);
  });

  it('one fetch of a new config version reaching both processes is announced once', async () => {
    await until('the first fetches to be announced', () => fetched(a).length + fetched(b).length > 0, 5_000);
    await settle(a, b);
    expect(fetched(a).length + fetched(b).length).toBe(1);
    const r = await b.run('provision fanvil mac=0c:38:3e:bb:00:01 ext=8101 name="Lab desk 2" password=Pw!8101abcd room=Lab');
    expect(r.replies.join('\n')).toMatch(/1 updated/);
    const v2 = await get(b, '0c383ebb0001.cfg');
    expect(v2).toContain('Lab desk 2');
    await until('A to serve version 2', async () => (await get(a, '0c383ebb0001.cfg', 'x')) === v2, 2_000, 50);
    await until('A to have read version 2', () => a.app.services.provision.get('0c383ebb0001')?.version === 2, 2_000, 50);
    await Promise.all([get(a, '0c383ebb0001.cfg'), get(b, '0c383ebb0001.cfg'), get(a, '0c383ebb0001.cfg'), get(b, '0c383ebb0001.cfg')]);
    await until('the new version to be announced', () => fetched(a).length + fetched(b).length > 1, 5_000);
    await settle(a, b);
    expect(fetched(a).length + fetched(b).length).toBe(2);
    expect([...fetched(a), ...fetched(b)].at(-1)!.text).toBe('☎️ Fanvil X1SG 0c:38:3e:bb:00:01 (ext 8101, Lab) fetched its config from 127.0.0.1');
  });

  it('an unknown MAC asking both processes is announced once', async () => {
    await Promise.all([get(a, '0c383e999901.cfg'), get(b, '0c383e999901.cfg'), get(b, '0c383e999901.cfg')]);
    await until('the unknown phone to be announced', () => unknown(a).length + unknown(b).length > 0, 5_000);
    await settle(a, b);
    expect(unknown(a).length + unknown(b).length).toBe(1);
  });

  it('a sheet of 250 phones provisioned on A (one "reload the topic" change) is served byte-identical by B within 2 s', async () => {
    const macOf = (i: number) => `0c:38:3e:cc:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    const rows = Array.from({ length: 250 }, (_, i) => `fanvil,${macOf(i)},${9000 + i},Desk ${i},Pw#${9000 + i}abcd,Floor`);
    const sheet = Buffer.from(['model,mac,extension,name,password,room', ...rows].join('\n'));
    const r = await a.run('provision', { files: [{ name: 'floor.csv', size: sheet.length, fetch: async () => sheet }] });
    expect((await a.app.jobs.wait(r.jobIds[0]!)).status).toBe('succeeded');
    // Over 200 keys, the change is one '*' row: B reloads the whole topic.
    expect(await a.app.db.selectFrom('change_feed').select('id').where('topic', '=', 'phones').where('k', '=', '*').execute()).not.toEqual([]);
    const file = (i: number) => `${macOf(i).replace(/:/g, '')}.cfg`;
    await until('B to serve the last phone of the sheet', () => get(b, file(249)), 2_000, 50);
    for (let i = 0; i < 250; i++) {
      const onA = a.app.services.provision.fileByName(file(i))?.body;
      expect(onA, file(i)).toBeDefined();
      expect(b.app.services.provision.fileByName(file(i))?.body, file(i)).toEqual(onA);
    }
  });

  it('a phone removed on B stops being served by A within 2 s', async () => {
    const r = await b.run('provision rm 0c:38:3e:bb:00:01', { confirmed: true });
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    await until('A to stop serving the removed phone', async () => (await get(a, '0c383ebb0001.cfg', 'x')) === undefined, 2_000, 50);
    expect(a.app.services.provision.get('0c383ebb0001')).toBeUndefined();
    expect(fs.existsSync(path.join(a.dataDir, 'provision', '0c383ebb0001.cfg'))).toBe(false);
  });
});

describe("the phones' admin password of an older version", () => {
  let t: TestApp;
  const dataDir = tmpDir();
  beforeAll(async () => {
    fs.writeFileSync(path.join(dataDir, 'phone-admin.secret'), 'Legacy-Adm1n-pw\n', { mode: 0o600 });
    t = await makeTestApp({ overrides: { ...SITE, dataDir } });
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('moves from <dataDir>/phone-admin.secret into the store, so phones keep it', async () => {
    expect(await t.app.secrets.get('phone-admin-password')).toBe('Legacy-Adm1n-pw');
    expect(fs.existsSync(path.join(dataDir, 'phone-admin.secret'))).toBe(false);
    const r = await t.run('provision fanvil mac=0c:38:3e:bb:00:09 ext=8109 password=Pw!8109abcd');
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    expect(fs.readFileSync(path.join(dataDir, 'provision', '0c383ebb0009.cfg'), 'utf8')).toContain('Legacy-Adm1n-pw');
  });
});

describe('the loopback warning in provisioning replies', () => {
  let t: TestApp;
  beforeAll(async () => {
    // No provision.url: phones are told http://127.0.0.1:<port>/provision/.
    const { 'provision.url': _u, ...noUrl } = SITE;
    t = await makeTestApp({ overrides: noUrl });
  });
  afterAll(() => t.close());

  it('is given once an hour per channel', async () => {
    const warned = (r: { replies: string[] }) => /a loopback address/.test(r.replies.join('\n'));
    const first = await t.run('provision fanvil mac=0c:38:3e:bb:00:11 ext=8111 password=Pw!8111abcd');
    expect(first.exitCode, first.replies.join('\n')).toBe(0);
    expect(first.replies.join('\n')).toMatch(
      /⚠ Phones are told to fetch from http:\/\/127\.0\.0\.1:\d+\/provision\/, a loopback address; set http\.publicUrl \(SWITCHBOARD_PUBLIC_URL\) or provision\.url \(SWITCHBOARD_PROVISION_URL\) to an address they can reach\./,
    );
    const second = await t.run('provision fanvil mac=0c:38:3e:bb:00:12 ext=8112 password=Pw!8112abcd');
    expect(second.exitCode, second.replies.join('\n')).toBe(0);
    expect(warned(second)).toBe(false);
    const elsewhere = await t.run('provision fanvil mac=0c:38:3e:bb:00:13 ext=8113 password=Pw!8113abcd', { channel: 'C2' });
    expect(warned(elsewhere)).toBe(true);
    // An hour later the channel is told again.
    await t.app.db
      .updateTable('claims')
      .set({ expires_at: Date.now() - 1 })
      .where('k', '=', 'loopback-warning:test:C1')
      .execute();
    expect(warned(await t.run('provision fanvil mac=0c:38:3e:bb:00:14 ext=8114 password=Pw!8114abcd'))).toBe(true);
  });
});
