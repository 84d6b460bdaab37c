// The extra check over ../shared/fixtures (or $SWITCHBOARD_SHARED_FIXTURES): sheets of the same kinds as
// test/fixtures, made outside the project, run through the import paths that matter — each phone sheet
// provisions with its phone count and leaks none of its passwords, the bad sheet gets its row-specific errors and
// writes nothing, the hosts sample imports as written. The exact figures of the suite come from test/fixtures;
// these assertions are about shapes (row numbers, reasons, counts), so they hold for any sheets of those kinds.
//
// The one conditional in the suite: when the shared folder is absent these tests are SKIPPED, because a clone of
// the project alone must pass its tests (README "Development", test/fixtures/README.md). On the project's CI
// machine the folder is there, so they run. SWITCHBOARD_SHARED_FIXTURES naming a missing folder fails instead.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { mysqlUrl, sharedFixtures } from './helpers/env.js';
import { file, PROV } from './provision/helpers.js';
import { readSheet } from '../src/util/sheet.js';
import { parseMac } from '../src/util/mac.js';
import type { Engine } from '../src/store/db.js';

const SHARED = sharedFixtures();

/** The phone sheets, the command that provisions each, how many phones it holds and their model ('' = per row). */
const PHONE_SHEETS: [name: string, line: string, phones: number, model: string][] = [
  ['phones-fanvil-en.csv', 'provision fanvil-x1sg', 4, 'fanvil-x1sg'],
  ['phones-fanvil-pt.xlsx', 'provision "Fanvil X1SG"', 3, 'fanvil-x1sg'],
  ['phones-audiocodes-pt.csv', 'provision 405hd', 3, 'audiocodes-405hd'],
  ['phones-mixed-models.csv', 'provision', 2, ''],
  ['phones-provisionador.csv', 'provision x1sg', 2, 'fanvil-x1sg'],
];

const read = (name: string): Buffer => fs.readFileSync(path.join(SHARED!, name));

async function provision(t: TestApp, line: string, name: string) {
  const r = await t.run(line, { files: [file(name, read(name))] });
  if (!r.jobIds.length) return { job: undefined, text: r.replies.join('\n') };
  const job = await t.app.jobs.wait(r.jobIds[0]!);
  return { job, text: job.status === 'succeeded' ? (JSON.parse(job.result ?? '{}') as { text: string }).text : (job.error ?? '') };
}

const provDir = (t: TestApp) => path.join(t.dataDir, 'provision');
const written = (t: TestApp) => (fs.existsSync(provDir(t)) ? fs.readdirSync(provDir(t)).filter((f) => !f.startsWith('.')) : []);

for (const engine of ['sqlite', 'mysql'] as Engine[]) {
  describe.skipIf(!SHARED)(`the shared fixtures in ${SHARED ?? '../shared/fixtures (absent: skipped)'} (${engine})`, () => {
    let t: TestApp;
    beforeAll(async () => {
      if (engine === 'mysql') mysqlUrl();
      t = await makeTestApp({ engine, overrides: PROV });
    });
    afterAll(() => t?.close());

    it('phones-bad.csv: each bad row is named with its row number and reason, the good row is not, nothing is written', async () => {
      const r = await provision(t, 'provision fanvil-x1sg', 'phones-bad.csv');
      expect(r.job?.status).toBe('failed');
      const text = r.text;
      expect(text).toMatch(/^Nothing provisioned: 6 problems in phones-bad\.csv:/);
      expect(text).toMatch(/row 3 \(mac\): ".+" is not a MAC address/);
      expect(text).toMatch(/row 4 \(mac\): MAC [0-9a-f:]{17} is also on row 2/);
      expect(text).toMatch(/row 5 \(extension\): extension \S+ is also on row 2/);
      expect(text).toMatch(/row 6 \(password\): password is empty/);
      expect(text).toMatch(/row 7 \(name\): name has a line break/);
      expect(text).toMatch(/row 8: name is a formula \(column C\); paste its value as text instead/);
      expect(text).not.toMatch(/• row 2\b/);
      expect(text).not.toMatch(/HYPERLINK/);
      expect(text).not.toMatch(/\n\s+at .*\.(js|ts):\d+/);
      expect(written(t)).toEqual([]);
      expect(await t.app.db.selectFrom('phones').selectAll().execute()).toEqual([]);
    });

    it('hosts-sample.csv imports every row as written: canonical MACs, access levels 0-3, a shared number, ip=auto given an address', async () => {
      const sheet = await readSheet(read('hosts-sample.csv'), 'hosts-sample.csv');
      const r = await t.run('dhcp import', { files: [file('hosts-sample.csv', read('hosts-sample.csv'))] });
      expect(r.replies.join('\n')).toMatch(new RegExp(`Imported: ${sheet.rows.length} added`));
      const hosts = [];
      for (const row of sheet.rows) {
        const h = await t.app.services.dhcp.getByMac(row.cells.mac!);
        expect(h, `row ${row.row}`).toMatchObject({ mac: parseMac(row.cells.mac!), hostname: row.cells.hostname, access: Number(row.cells.access) });
        if (row.cells.phone) expect(h!.phones, `row ${row.row}`).toEqual([row.cells.phone]);
        if (row.cells.ip === 'auto')
          expect(h!.ip, `row ${row.row}`).toMatch(/^10\.20\.0\.([2-9]|[1-9]\d)$/); // below the pool
        else expect(h!.ip, `row ${row.row}`).toBe(row.cells.ip);
        hosts.push(h!);
      }
      expect([...new Set(hosts.map((h) => h.access))].sort()).toEqual([0, 1, 2, 3]);
      expect(sheet.rows.some((row) => row.cells.ip === 'auto')).toBe(true);
      const numbers = hosts.flatMap((h) => h.phones);
      expect(
        numbers.some((n, i) => numbers.indexOf(n) !== i),
        'two hosts share a phone number',
      ).toBe(true);
    });

    for (const [name, line, count, model] of PHONE_SHEETS) {
      it(`${name}: ${count} phones provisioned, each with its files, no password in chat, logs, audit or jobs`, async () => {
        const before = t.app.services.provision.all().length;
        const r = await provision(t, line, name);
        expect(r.job?.status, r.text).toBe('succeeded');
        expect(r.text).toMatch(new RegExp(`Provisioned: ${count} phones? \\(.+\\) from ${name.replace(/\./g, '\\.')}: ${count} new, 0 updated, 0 unchanged`));
        const phones = t.app.services.provision.all();
        expect(phones.length).toBe(before + count);
        const sheet = await readSheet(read(name), name);
        for (const row of sheet.rows) {
          const p = t.app.services.provision.get(parseMac(row.cells.mac!)!.replace(/:/g, ''));
          expect(p, `${name} row ${row.row}`).toBeTruthy();
          if (model) expect(p!.model).toBe(model);
          expect(p!.files.length).toBeGreaterThan(0);
          for (const f of p!.files) expect(fs.readFileSync(path.join(provDir(t), f), 'utf8'), `${name} ${f}`).toContain(p!.extension);
        }
        const secrets = sheet.rows.map((row) => row.cells.password ?? row.cells.senha ?? '').filter(Boolean);
        expect(secrets.length).toBe(count);
        const chat = t.chat.messages.flatMap((m) => [m.text, ...m.edits]).join('\n');
        const audit = JSON.stringify(await t.app.db.selectFrom('audit_log').selectAll().execute());
        const jobs = JSON.stringify(await t.app.db.selectFrom('jobs').selectAll().execute());
        for (const pw of secrets)
          for (const [where, s] of [
            ['chat', chat],
            ['logs', t.logs.join('\n')],
            ['audit', audit],
            ['jobs', jobs],
          ] as const)
            expect(s.includes(pw), `a ${name} password in ${where}`).toBe(false);
      });
    }
  });
}
