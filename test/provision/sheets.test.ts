// Fixture sheets → provisioning job → files on disk equal to the drivers' golden files; bad sheets
// get specific messages and write nothing. Runs on SQLite and on MariaDB.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { fixture as fixturePath, mysqlUrl } from '../helpers/env.js';
import { file, fixture, golden, FIXTURE_PASSWORDS, PROV } from './helpers.js';
import { DriverSet } from '../../src/provision/drivers.js';
import type { Engine } from '../../src/store/db.js';

/** Every driver in drivers/phones/, found as the app finds them: a new model needs no edit here. */
const drivers = await DriverSet.load();

async function provision(t: TestApp, line: string, files: ReturnType<typeof file>[]) {
  const r = await t.run(line, { files });
  if (!r.jobIds.length) return { ...r, job: undefined, text: r.replies.join('\n') };
  const job = await t.app.jobs.wait(r.jobIds[0]!);
  const msg = t.chat.messages.find((m) => m.text.includes(`#${r.jobIds[0]}`));
  return { ...r, job, text: job.status === 'succeeded' ? (JSON.parse(job.result ?? '{}') as { text: string }).text : (job.error ?? ''), message: msg };
}

const provDir = (t: TestApp) => path.join(t.dataDir, 'provision');
const written = (t: TestApp) => (fs.existsSync(provDir(t)) ? fs.readdirSync(provDir(t)).filter((f) => !f.startsWith('.')) : []);

for (const engine of ['sqlite', 'mysql'] as Engine[]) {
  describe(`provisioning from the fixture sheets (${engine})`, () => {
    let t: TestApp;
    beforeAll(async () => {
      if (engine === 'mysql') mysqlUrl(); // fails loudly in CI when MariaDB is not configured
      t = await makeTestApp({ engine, overrides: PROV });
    });
    afterAll(() => t?.close());

    const cases: [string, string, string, string[]][] = [
      ['phones-fanvil-en.csv', 'provision fanvil-x1sg', 'fanvil-x1sg', ['0c383e4d210a.cfg', '0c383e4d210b.cfg', '0c383e4d210c.cfg', '0c383e4d210d.cfg']],
      ['phones-fanvil-pt.xlsx', 'provision "Fanvil X1SG"', 'fanvil-x1sg', ['0c383e5e3201.cfg', '0c383e5e3202.cfg', '0c383e5e3203.cfg']],
      ['phones-provisionador.csv', 'provision x1sg', 'fanvil-x1sg', ['0c383e816501.cfg', '0c383e816502.cfg']],
      ['phones-audiocodes-pt.csv', 'provision 405hd', 'audiocodes-405hd', []],
      ['phones-mixed-models.csv', 'provision', '', []],
    ];
    for (const [sheet, line, model, names] of cases) {
      it(`${sheet}: every file is byte-identical to its golden file`, async () => {
        const r = await provision(t, line, [fixture(sheet)]);
        expect(r.job?.status, r.text).toBe('succeeded');
        const phones = t.app.services.provision.all().filter((p) => r.text.includes(p.mac.match(/../g)!.join(':')));
        expect(phones.length).toBeGreaterThan(0);
        for (const p of phones) {
          expect(p.version).toBe(1);
          if (model) expect(p.model).toBe(model);
          for (const f of p.files) expect(fs.readFileSync(path.join(provDir(t), f)), `${sheet} ${f}`).toEqual(golden(p.model, f));
        }
        for (const n of names) expect(phones.flatMap((p) => p.files)).toContain(n);
        expect(r.text).toMatch(/Provisioned: \d+ phones? .* \d+ new/);
      });
    }

    it('the XLSX sheet keeps accents and a numeric extension cell; the provisionador sheet names phones by extension', async () => {
      const x = t.app.services.provision.get('0c383e5e3201')!;
      expect(x).toMatchObject({ extension: '2411', name: 'Secretária', room: 'Pátio', server: 'pbx.example.lan' });
      expect(t.app.services.provision.get('0c383e5e3202')!.server).toBe('pbx.example.lan');
      expect(t.app.services.provision.get('0c383e816501')!.name).toBe('2741');
      expect(t.app.services.provision.get('00908f6f4301')!).toMatchObject({ name: 'Conceição Brandão', room: 'Expedição' });
    });

    it('rows with ip or ip=auto became DHCP reservations carrying the provisioning URL as option 66', async () => {
      const a = await t.app.services.dhcp.getByMac('0c:38:3e:4d:21:0a');
      expect(a).toMatchObject({ ip: '10.20.0.41', bootServer: 'http://10.20.0.5:8080/provision/', phones: ['2301'], room: 'Atrium' });
      const b = await t.app.services.dhcp.getByMac('0c:38:3e:4d:21:0b');
      expect(b?.ip).toMatch(/^10\.20\.0\.\d+$/);
      expect(b?.bootServer).toBe('http://10.20.0.5:8080/provision/');
      expect(await t.app.services.dhcp.getByMac('0c:38:3e:4d:21:0c')).toBeUndefined();
      const isc = await t.run('dhcp render isc');
      expect(isc.replies.join('\n')).toMatch(/hardware ethernet 0c:38:3e:4d:21:0a;\n {2}fixed-address 10\.20\.0\.41;[\s\S]*?option tftp-server-name "http:\/\/10\.20\.0\.5:8080\/provision\/";/);
    });

    it('no SIP password reaches a reply, a log line, the audit log, job arguments or the store in clear', async () => {
      const texts = t.chat.messages.flatMap((m) => [m.text, ...m.edits]).join('\n');
      const logs = t.logs.join('\n');
      const audit = JSON.stringify(await t.app.db.selectFrom('audit_log').selectAll().execute());
      const jobs = JSON.stringify(await t.app.db.selectFrom('jobs').selectAll().execute());
      const phones = JSON.stringify(await t.app.db.selectFrom('phones').selectAll().execute());
      for (const pw of FIXTURE_PASSWORDS) {
        for (const [where, s] of [
          ['chat', texts],
          ['logs', logs],
          ['audit', audit],
          ['jobs', jobs],
          ['phones table', phones],
        ])
          expect(s.includes(pw), `${pw} in ${where}`).toBe(false);
      }
      const list = await t.run('provision show 2301');
      expect(list.replies.join('\n')).toMatch(/password sealed at rest/);
    });

    it("provisioning the same sheet again changes nothing; a changed row raises that phone's version", async () => {
      const again = await provision(t, 'provision fanvil-x1sg', [fixture('phones-fanvil-en.csv')]);
      expect(again.text).toMatch(/0 new, 0 updated, 4 unchanged/);
      const before = fs.readFileSync(path.join(provDir(t), '0c383e4d210a.cfg'), 'utf8');
      const csv = fs.readFileSync(fixturePath('phones-fanvil-en.csv'), 'utf8').replace('Front Office', 'Front Counter');
      const changed = await provision(t, 'provision fanvil-x1sg', [file('phones-fanvil-en.csv', csv)]);
      expect(changed.text).toMatch(/0 new, 1 updated, 3 unchanged/);
      expect(t.app.services.provision.get('0c383e4d210a')!.version).toBe(2);
      const after = fs.readFileSync(path.join(provDir(t), '0c383e4d210a.cfg'), 'utf8');
      expect(after).toMatch(/Front Counter/);
      expect(after).not.toBe(before);
    });

    it('a phone already provisioned as another model is refused until removed', async () => {
      const csv = 'mac,ramal,senha\n0c:38:3e:81:65:01,6101,Pw#6101abcd\n';
      const r = await provision(t, 'provision 405hd', [file('swap.csv', csv)]);
      expect(r.job?.status).toBe('failed');
      expect(r.text).toMatch(/row 2 \(mac\): 0c:38:3e:81:65:01 is already provisioned as a Fanvil X1SG \(ext 2741\); run provision rm 0c:38:3e:81:65:01 first/);
    });

    it('one phone inline, with no file', async () => {
      const r = await t.run('provision fanvil mac=0C383E770001 ext=7001 name="Sala Verde" password=Inl1ne!pw room=7');
      expect(r.exitCode, r.replies.join('\n')).toBe(0);
      expect(r.replies.join('\n')).toMatch(/Provisioned: 1 phone \(Fanvil X1SG\) from the command: 1 new/);
      expect(fs.readFileSync(path.join(provDir(t), '0c383e770001.cfg'), 'utf8')).toMatch(/Sala Verde/);
      const audit = JSON.stringify(await t.app.db.selectFrom('audit_log').selectAll().execute());
      expect(audit).not.toMatch(/Inl1ne!pw/);
      const bad = await t.run('provision fanvil mac=0C383E770002 ext=7002 password=');
      expect(bad.exitCode).toBe(1);
      expect(bad.replies.join('\n')).toMatch(/password: password is empty/);
    });
  });
}

describe('bad sheets get a specific message and write nothing', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: PROV });
  });
  afterAll(() => t.close());

  async function refused(name: string, data: Buffer | string, line = 'provision fanvil-x1sg'): Promise<string> {
    const r = await provision(t, line, [file(name, data)]);
    expect(r.job?.status ?? 'no job').not.toBe('succeeded');
    expect(r.exitCode === 1 || r.job?.status === 'failed').toBe(true);
    expect(written(t)).toEqual([]);
    expect(await t.app.db.selectFrom('phones').selectAll().execute()).toEqual([]);
    expect(await t.app.services.dhcp.all()).toEqual([]);
    expect(r.text).not.toMatch(/\n\s+at .*\.(js|ts):\d+/); // no stack trace
    return r.text;
  }

  it('phones-bad.csv: every bad row is listed with its number and reason, the good row is not written either', async () => {
    const text = await refused('phones-bad.csv', fs.readFileSync(fixturePath('phones-bad.csv')));
    expect(text).toMatch(/^Nothing provisioned: 6 problems in phones-bad\.csv:/);
    expect(text).toMatch(/row 3 \(mac\): "zz:38:3e:92:76:02" is not a MAC address/);
    expect(text).toMatch(/row 4 \(mac\): MAC 0c:38:3e:92:76:01 is also on row 2/);
    expect(text).toMatch(/row 5 \(extension\): extension 2851 is also on row 2/);
    expect(text).toMatch(/row 6 \(password\): password is empty/);
    expect(text).toMatch(/row 7 \(name\): name has a line break/);
    expect(text).toMatch(/row 8: name is a formula \(column C\); paste its value as text instead/);
    expect(text).not.toMatch(/HYPERLINK|example\.invalid/);
    expect(text).not.toMatch(/• row 2\b/);
  });

  it('a missing required column names the column and what the header has', async () => {
    const text = await refused('nopass.csv', 'mac,ramal,nome\n0c:38:3e:00:00:09,1009,X\n');
    expect(text).toMatch(/the header row has no "password" \(or "senha", "secret"\) column; it has: mac, ramal, nome/);
  });

  it('an empty file, a header-only file, a 20 MB file and a file that is not a sheet', async () => {
    expect(await refused('empty.csv', '')).toMatch(/Nothing provisioned: empty\.csv is empty\./);
    expect(await refused('header.csv', 'mac,extension,password\n')).toMatch(/header\.csv has a header row but no data rows/);
    expect(await refused('big.csv', Buffer.alloc(20 * 1024 * 1024, 'a'))).toMatch(/big\.csv is 20\.0 MB; the limit is 5\.0 MB/);
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    expect(await refused('phones.csv', png)).toMatch(/phones\.csv is not a sheet: it holds binary data/);
    expect(await refused('phones.xlsx', 'mac,extension\n')).toMatch(/named \.xlsx but is not an XLSX workbook/);
    expect(await refused('photo.png', png)).toMatch(/photo\.png is not a sheet Switchboard reads: send CSV or XLSX/);
  });

  it('a field with a vendor-format delimiter or a control character, an unknown model, a bad ip', async () => {
    const text = await refused(
      'fmt.csv',
      'mac,ext,name,password,ip,model\n0c:38:3e:00:00:11,1011,Tab\there,Pw!1011abcd,,\n0c:38:3e:00:00:12,1012,Ok,Pw!1012abcd,10.20.0.999,\n0c:38:3e:00:00:13,1013,Ok,Pw!1013abcd,,avaya\n0c:38:3e:00:00:14,10 14,Ok,Pw!1014abcd,,\n',
    );
    expect(text).toMatch(/row 2 \(name\): name has a control character/);
    expect(text).toMatch(/row 3 \(ip\): ip "10\.20\.0\.999" is not an IPv4 address or "auto"/);
    expect(text).toContain(`row 4 (model): model "avaya" is not known (known: ${drivers.names()})`);
    expect(text).toMatch(/row 5 \(extension\): extension "10 14" may only hold letters, digits/);
  });

  it('an XLSX formula cell is refused as such', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('Phones');
    ws.addRow(['mac', 'extension', 'name', 'password']);
    ws.addRow(['0c:38:3e:00:00:21', 2101, { formula: 'HYPERLINK("http://x","Click")', result: 'Click' }, 'Pw!2101abcd']);
    const buf = Buffer.from(await wb.xlsx.writeBuffer());
    expect(await refused('formula.xlsx', buf)).toMatch(/row 2: name is a formula/);
  });

  it('an IP outside every DHCP subnet is refused by the DHCP checks before anything is written', async () => {
    const text = await refused('ip.csv', 'mac,ext,password,ip\n0c:38:3e:00:00:31,3101,Pw!3101abcd,192.0.2.10\n');
    expect(text).toMatch(/row 2 \(ip\): DHCP: .*192\.0\.2\.10/);
  });
});
