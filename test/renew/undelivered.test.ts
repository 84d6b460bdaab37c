// Passwords whose DM failed: kept in memory for a day, sent again only to whoever ran the renewal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UndeliveredPasswords } from '../../src/renew/undelivered.js';
import { registerSecret, scrub } from '../../src/secrets.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

const item = (requestId: number, password: string) => ({ requestId, requester: 'test:admin', account: 'USERSS010-1234', host: '127.0.9.10', password, text: `New account … password: ${password}`, files: [] });

describe('UndeliveredPasswords', () => {
  it('keeps a password for its time, then forgets it (and the scrubber does too)', () => {
    let now = 1_000_000;
    const kept = new UndeliveredPasswords(60_000, () => now);
    registerSecret('Kept-Pass-0001x');
    kept.keep(item(7, 'Kept-Pass-0001x'));
    expect(kept.has(7)).toBe(true);
    expect(scrub('pw Kept-Pass-0001x')).not.toContain('Kept-Pass-0001x');
    now += 59_999;
    expect(kept.get(7)?.password).toBe('Kept-Pass-0001x');
    now += 2;
    expect(kept.has(7)).toBe(false);
    expect(scrub('pw Kept-Pass-0001x')).toBe('pw Kept-Pass-0001x');
  });

  it('forgets a delivered one at once', () => {
    const kept = new UndeliveredPasswords();
    registerSecret('Kept-Pass-0002y');
    kept.keep(item(8, 'Kept-Pass-0002y'));
    kept.delivered(8);
    expect(kept.get(8)).toBeUndefined();
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
    t.app.services.renew.undelivered.keep(item(9, 'Kept-Pass-0003z'));
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
    t.app.services.renew.undelivered.keep(item(10, 'Kept-Pass-0004w'));
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
    expect(t.app.services.renew.undelivered.has(10)).toBe(true);
  });
});
