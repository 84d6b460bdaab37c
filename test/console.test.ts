// The web console end to end: a real Chromium logs in, runs `help`, sees the reply and job progress live.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { makeTestApp, type TestApp } from './helpers/app.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('web console', () => {
  let t: TestApp;
  let url: string;
  let password: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await makeTestApp({ listen: true });
    url = t.app.baseUrl();
    password = t.app.services.console.generatedAdminPassword!;
    expect(password).toMatch(/^\S{20}$/);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('logs in, runs help and sees the reply arrive live, then a job edits its message in place', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/console`);
    await page.fill('#u', 'admin');
    await page.fill('#p', password);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#app', { state: 'visible' });
    await expect.poll(() => page.textContent('#head')).toBe('#general');
    await page.fill('#cmd', 'help');
    await page.press('#cmd', 'Enter');
    await page.waitForSelector('.msg:not(.mine) >> text=Switchboard commands', { timeout: 10_000 });
    const log = await page.textContent('#log');
    expect(log).toContain('help users');
    expect(await page.locator('.msg.mine').first().textContent()).toContain('help');

    await page.fill('#cmd', 'selftest 2');
    await page.press('#cmd', 'Enter');
    await page.waitForSelector('.msg >> text=running', { timeout: 10_000 });
    await page.waitForSelector('.msg >> text=Progress reached 2/2', { timeout: 15_000 });
    expect(await page.locator('.msg', { hasText: 'selftest (2 s)' }).count()).toBe(1);
    // A command that asks for confirmation shows a Confirm button that sends `confirm <code>`.
    t.app.registry.add({ name: 'wipe demo', usage: 'wipe demo', summary: 'test', role: 'operator', confirm: () => 'This wipes the demo room.', run: async () => 'demo wiped' });
    await page.fill('#cmd', 'wipe demo');
    await page.press('#cmd', 'Enter');
    await page.click('.msg button.confirm', { timeout: 10_000 });
    await page.waitForSelector('.msg:not(.mine) >> text=demo wiped', { timeout: 10_000 });
    // A file attached in the console reaches the command as an upload.
    t.app.registry.add({
      name: 'count lines',
      usage: 'count lines',
      summary: 'test',
      role: 'viewer',
      run: async (ctx) => {
        const f = ctx.incoming.files[0];
        if (!f) return 'no file';
        const text = (await f.fetch()).toString('utf8');
        return `${f.name}: ${text.trim().split('\n').length} lines`;
      },
    });
    await page.setInputFiles('#file', { name: 'hosts.csv', mimeType: 'text/csv', buffer: Buffer.from('mac,ip\na,b\nc,d\n') });
    await page.fill('#cmd', 'count lines');
    await page.press('#cmd', 'Enter');
    await page.waitForSelector('.msg:not(.mine) >> text=hosts.csv: 3 lines', { timeout: 10_000 });
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'sb_session')!;
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe('Strict');
    await page.close();
  });

  it('refuses state-changing requests without the CSRF token', async () => {
    const login = await fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const { csrf } = (await login.json()) as { csrf: string };
    const noToken = await fetch(`${url}/console/api/command`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ text: 'help' }) });
    expect(noToken.status).toBe(403);
    const ok = await fetch(`${url}/console/api/command`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ text: 'whoami' }) });
    expect(ok.status).toBe(202);
    const form = await fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=admin&password=x' });
    expect(form.status).toBe(415);
  });

  it('locks a username from one address after repeated failures, recording every attempt', async () => {
    await t.app.services.console.auth.setUser('bob', 'right-password-1');
    const attempt = (pw: string) => fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob', password: pw }) });
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await attempt(`wrong-${i}`)).status);
    expect(codes.slice(0, 4)).toEqual([401, 401, 401, 401]);
    expect(codes[5]).toBe(429);
    const right = await attempt('right-password-1');
    expect(right.status).toBe(429);
    expect(((await right.json()) as { error: string }).error).toMatch(/too many failed logins/);
    const rows = await t.app.db.selectFrom('login_attempts').selectAll().where('username', '=', 'bob').orderBy('id').execute();
    expect(rows.length).toBe(7);
    expect(rows.every((r) => r.success === 0 && r.source === '127.0.0.1')).toBe(true);
    // another username from the same address is not locked
    expect((await fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) })).status).toBe(200);
  });

  it('stores a name that matches no user as a keyed hash, and `audit logins` lists and counts attempts', async () => {
    const typo = 'Tr0ub4dor&3-typed-as-name';
    const attempt = (username: string, pw: string) =>
      fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: pw }) });
    for (let i = 0; i < 3; i++) expect((await attempt(typo, `x-${i}`)).status).toBe(401);
    expect((await attempt('admin', password)).status).toBe(200);
    const stored = await t.app.db.selectFrom('login_attempts').selectAll().orderBy('id', 'desc').limit(4).execute();
    const unknown = stored.filter((r) => r.username !== 'admin');
    expect(unknown).toHaveLength(3);
    expect(new Set(unknown.map((r) => r.username)).size).toBe(1);
    expect(unknown[0]!.username).toMatch(/^#[0-9a-f]{32}$/);
    const all = await t.app.db.selectFrom('login_attempts').select('username').execute();
    expect(all.some((r) => r.username.includes('Tr0ub4dor'))).toBe(false);
    expect(t.logs.join('')).not.toContain('Tr0ub4dor');
    // Keyed: not a plain hash of the name, and the key is a secret in the store that every replica reads.
    const crypto = await import('node:crypto');
    expect(unknown[0]!.username.slice(1)).not.toBe(crypto.createHash('sha256').update(typo).digest('hex').slice(0, 32));
    const key = await t.app.secrets.get('login-name-key');
    expect(unknown[0]!.username.slice(1)).toBe(crypto.createHmac('sha256', key!).update(typo).digest('hex').slice(0, 32));

    const list = await t.run('audit logins 10');
    expect(list.exitCode, list.replies.join('\n')).toBe(0);
    const text = list.replies.join('\n');
    expect(text).toMatch(new RegExp(`\\(unknown user ${unknown[0]!.username.slice(0, 9)}\\)\\s+127\\.0\\.0\\.1\\s+failed`));
    expect(text).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d\s+admin\s+127\.0\.0\.1\s+ok/);
    expect(text).not.toContain('Tr0ub4dor');
    const counted = (await t.run(`audit logins ${typo}`)).replies.join('\n');
    expect(counted).toMatch(/no console user of that name.*: 3 attempts, 3 failed, since /);
    expect((await t.run('audit logins admin 2')).replies.join('\n')).toMatch(/^admin: \d+ attempts?, \d+ failed.*\n```\nwhen\s+user\s+source\s+result/);
    await t.run('users grant test:vic viewer');
    expect((await t.run('audit logins', { user: 'vic' })).outcome).toBe('denied');
  });

  it('answers health and metrics', async () => {
    const h = await fetch(`${url}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok' });
    const m = await (await fetch(`${url}/metrics`)).text();
    expect(m).toMatch(/switchboard_commands_total\{command="help",outcome="ok"\} \d+/);
    expect(m).toMatch(/switchboard_jobs\{status="succeeded"\} \d+/);
    expect(m).toMatch(/switchboard_process_resident_memory_bytes/);
  });
});
