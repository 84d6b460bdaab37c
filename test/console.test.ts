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
    password = t.app.generatedAdminPassword!;
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
    expect(log).toContain('users grant');
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
    t.app.registry.add({ name: 'count lines', usage: 'count lines', summary: 'test', role: 'viewer', run: async (ctx) => {
      const f = ctx.incoming.files[0];
      if (!f) return 'no file';
      const text = (await f.fetch()).toString('utf8');
      return `${f.name}: ${text.trim().split('\n').length} lines`;
    } });
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
    await t.app.consoleAuth.setUser('bob', 'right-password-1');
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
