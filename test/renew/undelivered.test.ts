// Passwords whose DM failed: kept sealed in the store for a day (any replica can resend), sent again only to
// whoever ran the renewal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { UndeliveredPasswords } from '../../src/renew/undelivered.js';
import { Sealer } from '../../src/store/sealer.js';
import type { Store } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { openScratchStore } from '../helpers/mysql.js';
import { registerSecret, scrub } from '../../src/secrets.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

const item = (requestId: number, password: string) => ({
  requestId,
  requester: 'test:admin',
  account: 'USERSS010-1234',
  host: '127.0.9.10',
  password,
  text: `New account … password: ${password}`,
  files: [],
});

describe.each(['sqlite', 'mysql'] as const)('UndeliveredPasswords on %s', (engine) => {
  let store: Store;
  let close: () => Promise<void>;
  const sealer = new Sealer(crypto.randomBytes(32));
  beforeAll(async () => {
    ({ store, close } = await openScratchStore(engine));
    await migrateToLatest(store);
  });
  afterAll(() => close());

  it('keeps a password sealed for its time, readable by another process on the store, then forgets it', async () => {
    let now = 1_000_000;
    const kept = new UndeliveredPasswords(store.db, sealer, 60_000, () => now);
    const replica = new UndeliveredPasswords(store.db, sealer, 60_000, () => now);
    await kept.keep({ ...item(7, 'Kept-Pass-0001x'), files: [{ name: 'sheet.pdf', mime: 'application/pdf', data: Buffer.from('%PDF-1.4 sheet') }] });
    const row = await store.db.selectFrom('renew_undelivered').selectAll().where('request_id', '=', 7).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain('Kept-Pass-0001x');
    expect(await replica.has(7)).toBe(true);
    now += 59_999;
    const got = await replica.get(7);
    expect(got?.password).toBe('Kept-Pass-0001x');
    expect(got?.files[0]?.data.toString()).toBe('%PDF-1.4 sheet');
    expect(scrub('pw Kept-Pass-0001x')).not.toContain('Kept-Pass-0001x');
    now += 2;
    expect(await kept.has(7)).toBe(false);
    expect(await kept.get(7)).toBeUndefined();
  });

  it('forgets a delivered one at once', async () => {
    const kept = new UndeliveredPasswords(store.db, sealer);
    await kept.keep(item(8, 'Kept-Pass-0002y'));
    const u = await kept.get(8);
    await kept.delivered(8, u!.password);
    expect(await kept.get(8)).toBeUndefined();
    expect(scrub('Kept-Pass-0002y')).toBe('Kept-Pass-0002y');
  });
});

describe('renew resend', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
    await t.run('users grant test:bob operator');
  });
  afterAll(() => t.close());

  it('sends a kept password by DM to the requester only, once, and never into the channel', async () => {
    registerSecret('Kept-Pass-0003z');
    await t.app.services.renew.undelivered.keep(item(9, 'Kept-Pass-0003z'));
    t.chat.clear();
    const other = await t.run('renew resend 9', { user: 'bob' });
    expect(other.exitCode).toBe(1);
    expect(other.replies[0]).toMatch(/only the person who ran request #9 can have its password sent/);
    const mine = await t.run('renew resend 9');
    expect(mine.exitCode).toBe(0);
    const dm = t.chat.messages.find((m) => m.dmTo === 'admin')!;
    expect(dm.secret).toBe(true);
    expect(dm.text).toContain('password: Kept-Pass-0003z');
    expect(mine.replies.filter((r) => !r.includes('password: ')).join('\n')).toMatch(/The password of USERSS010-1234 on 127\.0\.9\.10 \(request #9\) was sent to you by direct message\./);
    for (const m of t.chat.messages.filter((x) => !x.dmTo)) expect(m.text).not.toContain('Kept-Pass-0003z');
    const again = await t.run('renew resend 9');
    expect(again.replies[0]).toMatch(/no password is waiting for request #9/);
  });

  it('keeps the password when the DM fails again', async () => {
    registerSecret('Kept-Pass-0004w');
    await t.app.services.renew.undelivered.keep(item(10, 'Kept-Pass-0004w'));
    const dm = t.chat.dm.bind(t.chat);
    t.chat.dm = async () => {
      throw new Error('DMs are closed');
    };
    try {
      const r = await t.run('renew resend 10');
      expect(r.exitCode).toBe(1);
      expect(r.replies[0]).toMatch(/could not be sent either \(DMs are closed\); the password is still kept/);
      expect(r.replies[0]).not.toContain('Kept-Pass-0004w');
    } finally {
      t.chat.dm = dm;
    }
    expect(await t.app.services.renew.undelivered.has(10)).toBe(true);
  });
});
