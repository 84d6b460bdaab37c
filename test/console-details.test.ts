// The web console as a person meets it: the upload limit shown beside the file chooser, an over-limit file
// refused in the room (not a bare alert) with the chooser cleared, a 0-byte sheet named as empty, and confirm
// buttons that stop working when their code expires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { PROV } from './provision/helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('web console details', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    t = await makeTestApp({ listen: true, overrides: { ...PROV, 'uploads.maxBytes': 64 * 1024 } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    page = await browser.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${t.app.baseUrl()}/console`);
    await page.fill('#u', 'admin');
    await page.fill('#p', t.app.services.console.generatedAdminPassword!);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#app', { state: 'visible' });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const bot = (text: string) => page.waitForSelector(`.msg:not(.mine) >> text=${text}`, { timeout: 10_000 });

  it('states the upload limit next to the file chooser', async () => {
    await expect.poll(() => page.textContent('#limit')).toBe('max 64 KB');
  });

  it('refuses an over-limit file in the room, naming the limit, and clears the chooser', async () => {
    await page.setInputFiles('#file', { name: 'big.csv', mimeType: 'text/csv', buffer: Buffer.alloc(100 * 1024, 'a') });
    await page.fill('#cmd', 'dhcp import --dry-run');
    await page.press('#cmd', 'Enter');
    const refusal = await bot('big.csv is larger than the upload limit of 64 KB');
    expect(await refusal.textContent()).toMatch(/(❌ )?big\.csv is larger than the upload limit of 64 KB \(uploads\.maxBytes\), so the command was not run/);
    await expect.poll(() => page.$eval('#file', (el) => (el as unknown as { files: { length: number } }).files.length)).toBe(0);
    expect(dialogs).toEqual([]);
    // The person's own line is in the room too, with the file's name.
    expect(await page.locator('.msg.mine', { hasText: 'big.csv' }).count()).toBe(1);
    // Nothing ran: the audit log has no dhcp import.
    const audit = await t.app.db.selectFrom('audit_log').select('command').where('command', 'like', 'dhcp import%').execute();
    expect(audit).toEqual([]);
  });

  it('answers a 0-byte sheet as empty, in dhcp import and provision', async () => {
    await page.setInputFiles('#file', { name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.alloc(0) });
    await page.fill('#cmd', 'dhcp import --dry-run');
    await page.press('#cmd', 'Enter');
    expect(await (await bot('empty.csv is empty')).textContent()).toMatch(/Nothing imported: empty\.csv is empty \(SB_ATTACHMENT_UNREADABLE\)$/);
    await page.setInputFiles('#file', { name: 'phones.csv', mimeType: 'text/csv', buffer: Buffer.alloc(0) });
    await page.fill('#cmd', 'provision fanvil-x1sg --dry-run');
    await page.press('#cmd', 'Enter');
    expect(await (await bot('phones.csv is empty')).textContent()).toMatch(/Nothing provisioned: phones\.csv is empty\./);
    expect(await page.textContent('#log')).not.toMatch(/attach a CSV or XLSX/i);
    expect(dialogs).toEqual([]);
  });

  it('disables a confirm button once its code has expired, whether seen later or while watching', async () => {
    t.app.registry.add({ name: 'wipe demo', usage: 'wipe demo', summary: 'test', role: 'operator', confirm: () => 'This wipes the demo room.', run: async () => 'demo wiped' });
    await page.fill('#cmd', 'wipe demo');
    await page.press('#cmd', 'Enter');
    const button = page.locator('.msg', { hasText: 'This wipes the demo room' }).locator('button.confirm');
    await expect.poll(() => button.isEnabled(), { timeout: 10_000 }).toBe(true);
    const id = Number((await page.locator('.msg', { hasText: 'This wipes the demo room' }).getAttribute('id'))!.slice(1));
    const reopen = async () => {
      await page.reload();
      await page.waitForSelector(`#m${id}`);
    };
    // Seen after its 60 s: disabled and saying so; the code really is refused too.
    await t.app.db
      .updateTable('console_messages')
      .set({ created_at: Date.now() - 61_000 })
      .where('id', '=', id)
      .execute();
    await reopen();
    expect(await button.isDisabled()).toBe(true);
    expect(await button.textContent()).toBe('Expired');
    // Watched while it runs out: live until then, disabled at its end.
    await t.app.db
      .updateTable('console_messages')
      .set({ created_at: Date.now() - 55_000 })
      .where('id', '=', id)
      .execute();
    await reopen();
    expect(await button.isEnabled()).toBe(true);
    await expect.poll(() => button.textContent(), { timeout: 15_000 }).toBe('Expired');
    expect(await button.isDisabled()).toBe(true);
  });
});
