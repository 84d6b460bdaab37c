// The console and the status board as a support technician sees them, in a real Chromium at 1280 px: tables are
// tables, charts are images that load, nothing is clipped, data never runs as markup, and the board changes live
// when an alert is acknowledged there. Screenshots of every step go to test-artifacts/console-ui/.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { PROV } from './provision/helpers.js';
import { until } from './helpers/wait.js';
import { structured, tablePart } from '../src/core/message.js';
import type { NodeRow, ResultIn } from '../src/monitor/types.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve('test-artifacts/console-ui');
const TOKEN = 'board-calls-token-1';
const XSS = '<img src=x onerror=window.__pwned=1>';

describe('console rendering, help and the status board in Chromium', () => {
  let t: TestApp;
  let url: string;
  let browser: Browser;
  let page: Page;
  const shot = (name: string, p: Page = page) => p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is required at ${CHROMIUM} (set CHROMIUM_PATH)`);
    fs.mkdirSync(SHOTS, { recursive: true });
    t = await makeTestApp({
      listen: true,
      overrides: { ...PROV, 'dhcp.callerid.targets': ['console:support'], 'monitor.alertTargets': ['console:alerts'], 'monitor.groupWindowMs': 200, 'provision.announce.targets': ['console:support'] },
      env: { SWITCHBOARD_CALLERID_TOKEN: TOKEN },
    });
    url = t.app.baseUrl();
    // 30 hosts, one with markup in its owner (it must show as text) and phones for the caller-ID hook.
    const lines = ['mac,ip,hostname,room,phone,owner,access'];
    for (let i = 0; i < 30; i++)
      lines.push(`02:00:00:00:10:${i.toString(16).padStart(2, '0')},10.20.0.${10 + i},pc-${String(i).padStart(2, '0')},R${100 + (i % 6)},${2100 + i},${i === 7 ? XSS : `Owner ${i}`},${i % 4}`);
    const csv = lines.join('\n') + '\n';
    const imp = await t.run('dhcp import', { files: [{ name: 'hosts.csv', size: csv.length, fetch: async () => Buffer.from(csv) }] });
    expect(imp.replies.join('\n')).toMatch(/30 added/);
    // A monitored node with a load sensor: a day of records (a chart) ending CRITICAL, which opens an alert.
    await t.app.services.monitor.createEnrollment('pbx1');
    expect((await t.run('monitor sensor add load kind=load warn=5 crit=10 attempts=1 retention=history:7d')).exitCode).toBe(0);
    expect((await t.run('monitor sensor add disk kind=disk path=/ warn=80 crit=90 attempts=1')).exitCode).toBe(0);
    await t.run('monitor assign load pbx1');
    await t.run('monitor assign disk pbx1');
    const node = (await t.app.db.selectFrom('mon_nodes').select(['id', 'name', 'enabled', 'stale', 'last_seen']).where('name', '=', 'pbx1').executeTakeFirstOrThrow()) as NodeRow;
    const sensorId = (name: string) =>
      t.app.db
        .selectFrom('mon_sensors')
        .select('id')
        .where('name', '=', name)
        .executeTakeFirstOrThrow()
        .then((r) => r.id);
    const load = await sensorId('load');
    const start = Date.now() - 24 * 3_600_000;
    const results: ResultIn[] = [];
    for (let i = 0; i < 96; i++) {
      const v = i < 80 ? 1.5 + Math.sin(i / 5) : 6 + (i - 80) * 0.4;
      const status = v > 10 ? 2 : v > 5 ? 1 : 0;
      results.push({
        id: crypto.randomUUID(),
        sensorId: load,
        at: start + i * 15 * 60_000,
        status,
        output: `LOAD ${['OK', 'WARNING', 'CRITICAL'][status]} - load1 ${v.toFixed(2)}`,
        perfdata: [{ label: 'load1', value: Math.round(v * 100) / 100, warn: '5', crit: '10', min: 0 }],
      });
    }
    await t.app.services.monitor.ingest(node, results);
    await t.app.services.monitor.ingest(node, [{ id: crypto.randomUUID(), sensorId: await sensorId('disk'), at: Date.now(), status: 0, output: 'DISK OK - / 41% used', perfdata: [] }]);
    await until('the load alert opened', async () => (await t.app.services.monitor.alerts.list(false)).length > 0, 10_000);
    // A provisioned phone fetches its config; a MAC nobody provisioned asks for one.
    expect((await t.run('provision fanvil mac=0c:38:3e:12:34:56 ext=1001 password=Xp4!rT9wq2 name=Lobby room=Lobby')).exitCode).toBe(0);
    expect((await fetch(`${url}/provision/0c383e123456.cfg`, { headers: { 'user-agent': 'Fanvil X1SG 2.12.1 0c383e123456' } })).status).toBe(200);
    expect((await fetch(`${url}/provision/0c383e999999.cfg`, { headers: { 'user-agent': 'Fanvil X1SG 2.12.1 0c383e999999' } })).status).toBe(404);
    // A call from extension 2103 (host pc-03, room R103).
    expect((await fetch(`${url}/set_call/2103?token=${TOKEN}`)).status).toBeLessThan(300);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** Elements wider than their box, other than the boxes meant to scroll (tables, code blocks). */
  const clipped = (p: Page): Promise<string[]> =>
    p.evaluate(`Array.from(document.querySelectorAll('body *')).filter(function (h) {
      if (h.offsetParent === null) return false;
      if (h.closest('.tablebox') || h.closest('pre.code')) return false;
      var st = getComputedStyle(h);
      return (h.scrollWidth > h.clientWidth + 1 && st.overflowX !== 'visible') || h.getBoundingClientRect().right > document.documentElement.clientWidth + 1;
    }).map(function (e) { return e.tagName + '#' + e.id + '.' + e.className; })`);
  const lastBot = () => page.locator('.msg:not(.mine)').last();
  const run = async (cmd: string, wait: string) => {
    const before = await page.locator('.msg:not(.mine)').count();
    await page.fill('#cmd', cmd);
    await page.press('#cmd', 'Enter');
    await expect.poll(() => page.locator('.msg:not(.mine)').count(), { timeout: 15_000 }).toBeGreaterThan(before);
    await lastBot().locator(wait).first().waitFor({ timeout: 15_000 });
  };
  const headers = (sel = 'table.grid th') => lastBot().locator(sel).allTextContents();

  it('logs in; an empty room shows a start-here card', async () => {
    await page.goto(`${url}/console`);
    await shot('01-login');
    await page.fill('#u', 'admin');
    await page.fill('#p', t.app.services.console.generatedAdminPassword!);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#start', { timeout: 10_000 });
    expect(await page.textContent('#start')).toContain('Start here');
    expect(await page.locator('#start button.try').allTextContents()).toEqual(expect.arrayContaining(['help', 'dhcp list']));
    await shot('02-empty-room-start-card');
    await page.click('#start button.try >> text=help');
    expect(await page.inputValue('#cmd')).toBe('help');
  });

  it('`help` is a table of groups; `help dhcp` lists the family; `help dhcp list` shows inline code — nothing clipped at 1280 px', async () => {
    await run('help', 'table.grid');
    expect(await page.locator('#start').count()).toBe(0);
    expect(await headers()).toEqual(['group', 'for', 'most used', 'all of it']);
    expect(await lastBot().locator('tbody tr').count()).toBeGreaterThanOrEqual(8);
    expect(await lastBot().locator('code.ic').first().textContent()).toBe('help <group>');
    expect(await lastBot().textContent()).not.toContain('`');
    await shot('03-help');
    await run('help dhcp', 'table.grid');
    expect(await headers()).toEqual(['command', 'what it does', 'role']);
    // The long usage lines wrap: every column is in view without scrolling the table sideways.
    expect(
      await lastBot()
        .locator('.tablebox')
        .evaluate((e) => e.scrollWidth - e.clientWidth),
    ).toBeLessThanOrEqual(1);
    expect(await clipped(page)).toEqual([]);
    await shot('04-help-dhcp');
    await run('help dhcp list', 'code.ic');
    expect(await lastBot().locator('code.ic').allTextContents()).toEqual(expect.arrayContaining(['dhcp list [room=…] [access=0-3] [page=N]', 'dhcp list room=A1']));
    expect(await clipped(page)).toEqual([]);
    await shot('05-help-dhcp-list');
  });

  it('`dhcp list` with 30 hosts is a real table with a sticky header in its own scroll box; markup in data stays text', async () => {
    await run('dhcp list', 'table.grid');
    expect(await headers()).toEqual(['hostname', 'ip', 'mac', 'room', 'owner', 'access', 'phones']);
    expect(await lastBot().locator('tbody tr').count()).toBe(30);
    expect(await lastBot().locator('td', { hasText: XSS }).count()).toBe(1);
    expect(await lastBot().locator('td img').count()).toBe(0);
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    const th = lastBot().locator('table.grid th').first();
    expect(await th.evaluate((e) => (e.ownerDocument.defaultView as unknown as { getComputedStyle(x: unknown): { position: string } }).getComputedStyle(e).position)).toBe('sticky');
    // Scroll the box: the header stays at its top.
    const box = lastBot().locator('.tablebox');
    await box.evaluate((e) => (e.scrollTop = 300));
    const [boxTop, thTop] = [await box.evaluate((e) => e.getBoundingClientRect().top), await th.evaluate((e) => e.getBoundingClientRect().top)];
    expect(Math.abs(thTop - boxTop)).toBeLessThan(3);
    expect(await clipped(page)).toEqual([]);
    await shot('06-dhcp-list-30-hosts');
  });

  it('markup from data in any part (text, inline code, code, table, image alt, file name) stays text', async () => {
    const evil = '<script>window.__pwned=2</script><img src=x onerror=window.__pwned=3>';
    t.app.registry.add({
      name: 'evil reply',
      usage: 'evil reply',
      summary: 'test',
      role: 'viewer',
      run: async () =>
        structured(
          [
            `text ${evil} and \`${evil}\``,
            { kind: 'code', text: evil },
            tablePart([evil, 'n'], [[evil, '1']]),
            { kind: 'image', file: `${evil}.png`, alt: evil },
            { kind: 'file', file: `${evil}.txt` },
          ],
          {
            files: [
              { name: `${evil}.png`, data: Buffer.from('not really a png'), mime: 'image/png' },
              { name: `${evil}.txt`, data: Buffer.from('x'), mime: 'text/plain' },
            ],
          },
        ),
    });
    await run('evil reply', 'a.file >> nth=1');
    const body = lastBot().locator('.body');
    expect(await body.locator('script').count()).toBe(0);
    expect(await body.locator('img').count()).toBe(1); // the image part itself, nothing from data
    expect(await body.locator('img').getAttribute('alt')).toBe(evil);
    expect(await body.locator('code.ic').textContent()).toBe(evil);
    expect(await body.locator('pre.code').textContent()).toBe(evil);
    expect(await body.locator('th').first().textContent()).toBe(evil);
    expect(await body.locator('a.file').last().textContent()).toBe(`File: ${evil}.txt (1 B)`);
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    await shot('07a-markup-stays-text');
  });

  it('`monitor records` shows the chart inline (an image that loaded) with a download link, and the records as a table', async () => {
    await run('monitor records pbx1 load since=25h', 'figure.img img');
    const img = lastBot().locator('figure.img img');
    await expect
      .poll(() => img.evaluate((e) => ((e as unknown as { complete: boolean }).complete ? (e as unknown as { naturalWidth: number }).naturalWidth : 0)), { timeout: 10_000 })
      .toBeGreaterThan(0);
    expect(await img.getAttribute('alt')).toContain('load1');
    expect(await lastBot().locator('figure.img a.file').textContent()).toMatch(/^Download pbx1-load\.png \(\d+(\.\d)? kB\)$/);
    expect(await headers()).toEqual(['at', 'state', 'output']);
    expect(await clipped(page)).toEqual([]);
    await img.scrollIntoViewIfNeeded();
    await shot('07-monitor-records-chart');
  });

  it('the status board shows nodes, the open alert, the call with its room; Ack there changes the row live', async () => {
    const board = await page.context().newPage();
    await board.goto(`${url}/console/board`);
    const row = board.locator('#alerts tbody tr').first();
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute('data-state')).toBe('open');
    expect(await row.textContent()).toContain('pbx1/load');
    expect(await board.locator('#nodes .node .n').first().textContent()).toBe('pbx1');
    expect(await board.locator('#nodes .sensor', { hasText: 'load' }).textContent()).toContain('CRITICAL');
    expect(await board.locator('#nodes .sensor', { hasText: 'disk' }).textContent()).toContain('OK');
    expect(await board.locator('#calls tbody tr').first().textContent()).toMatch(/2103[\s\S]*room R103 · pc-03/);
    expect(await board.locator('#phones tbody tr').first().textContent()).toMatch(/1001\s*Lobby\s*Lobby\s*127\.0\.0\.1/);
    expect(await board.locator('#unknown tbody tr').first().textContent()).toMatch(/0c:38:3e:99:99:99\s*127\.0\.0\.1\s*1×, not provisioned/);
    expect(await clipped(board)).toEqual([]);
    await shot('08-board', board);
    // A new call arrives while the board is open: it appears without a reload.
    expect((await fetch(`${url}/set_call/2111?token=${TOKEN}`)).status).toBeLessThan(300);
    await board.locator('#calls tbody tr', { hasText: 'room R105 · pc-11' }).waitFor({ timeout: 10_000 });
    const loads = await board.evaluate('performance.getEntriesByType("navigation").length');
    await row.locator('button.ack').click();
    await expect.poll(() => board.locator('#alerts tbody tr').first().getAttribute('data-state'), { timeout: 10_000 }).toBe('acked');
    expect(await board.locator('#alerts tbody tr').first().textContent()).toContain('acked by admin');
    expect(await board.evaluate('performance.getEntriesByType("navigation").length')).toBe(loads);
    await shot('09-board-after-ack', board);
    // The ack went through the command path: audited as the console user, answered in the room.
    const audit = await t.app.db.selectFrom('audit_log').select(['command', 'outcome', 'platform', 'user_id']).where('command', '=', 'ack').execute();
    expect(audit).toContainEqual({ command: 'ack', outcome: 'ok', platform: 'console', user_id: 'admin' });
    await page.locator('.msg.mine', { hasText: 'from the status board' }).waitFor({ timeout: 10_000 });
    await shot('10-console-after-board-ack');
    // Without a session the board data is refused and the page says where to log in.
    expect((await fetch(`${url}/console/api/board`)).status).toBe(401);
    const anon = await browser.newPage();
    await anon.goto(`${url}/console/board`);
    await anon.locator('#login a').waitFor({ timeout: 10_000 });
    await anon.close();
    await board.close();
  });

  it("the unknown phone's announcement in #support has a Provision button; a click provisions it as the console user", async () => {
    await page.locator('.room[data-room="support"]').click();
    const ann = page.locator('.msg:not(.mine)', { hasText: 'Unknown phone 0c:38:3e:99:99:99' });
    await ann.waitFor({ timeout: 10_000 });
    const button = ann.locator('button.cmdbtn');
    expect(await button.count()).toBe(1);
    expect(await button.textContent()).toMatch(/^Provision as Fanvil X1SG, ext \d+$/);
    // The text still names the command, for copying.
    expect(await ann.locator('.body').textContent()).toMatch(/provision fanvil-x1sg mac=0c:38:3e:99:99:99 ext=\d+ password=auto/);
    expect(await clipped(page)).toEqual([]);
    await shot('11-unknown-phone-button');
    await button.click();
    await page.locator('.msg.mine', { hasText: 'Provision as Fanvil X1SG' }).waitFor({ timeout: 10_000 });
    await page.locator('.msg:not(.mine)', { hasText: 'sent to you in a direct message' }).waitFor({ timeout: 15_000 });
    expect(await t.app.services.provision.store.exists('0c383e999999')).toBe(true);
    // Its audit row (written after the reply): as the console user, in the room.
    const audit = await until(
      'the audit row of the click',
      () => t.app.db.selectFrom('audit_log').select(['command', 'outcome', 'platform', 'user_id', 'channel']).where('command', '=', 'provision').where('channel', '=', 'support').executeTakeFirst(),
      10_000,
    );
    expect(audit).toEqual({ command: 'provision', outcome: 'ok', platform: 'console', user_id: 'admin', channel: 'support' });
    await shot('12-after-provision-button');
  });
});
