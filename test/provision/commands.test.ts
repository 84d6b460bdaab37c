// The rest of `provision`: models, the XML variant, Windows-1252 sheets, dry runs, regenerate after a
// config change, job progress, and config errors that stop start-up.
import fs from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { fixture as fixturePath } from '../helpers/env.js';
import { DriverSet } from '../../src/provision/drivers.js';
import { file, fixture, golden, PROV } from './helpers.js';

/** Every driver in drivers/phones/, found as the app finds them: a new model needs no edit here. */
const drivers = await DriverSet.load();

async function job(t: TestApp, line: string, files: ReturnType<typeof file>[]) {
  const r = await t.run(line, { files });
  expect(r.jobIds.length, r.replies.join('\n')).toBe(1);
  const j = await t.app.jobs.wait(r.jobIds[0]!);
  const msg = t.chat.messages.find((m) => m.edits.some((e) => e.includes(`#${r.jobIds[0]}`)) || m.text.includes(`#${r.jobIds[0]}`));
  return { job: j, text: j.status === 'succeeded' ? (JSON.parse(j.result ?? '{}') as { text: string }).text : (j.error ?? ''), msg };
}

describe('provision commands', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { ...PROV, 'provision.drivers': { 'fanvil-x1sg': { format: 'xml' } } } });
  });
  afterAll(() => t.close());

  it('provision models lists each driver with its aliases, OUIs, lines, file names and the sheet columns', async () => {
    const r = (await t.run('provision models')).replies.join('\n');
    expect(r).toContain(`${drivers.list.length} models:`);
    for (const d of drivers.list) expect(r, d.id).toMatch(new RegExp(`^${d.id}\\s+${d.label.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s`, 'm'));
    expect(r).toMatch(/yealink-t4x\s+Yealink T3x\/T4x\/T5x\s+.*<mac>\.cfg\s+Yealink SIP-T46S/);
    expect(r).toMatch(/poly-vvx\s+.*<mac>\.cfg <mac>-phone\.cfg\s+FileTransport PolycomVVX/);
    expect(r).toMatch(/grandstream-gxp\s+.*cfg<mac>\.xml\s+Grandstream Model HW/);
    expect(r).toMatch(/fanvil-x1sg\s+Fanvil X1SG\s+.*x1sg.*0c:38:3e 00:a8:59\s+2\s+<mac>\.cfg\s+Fanvil X1SG 2\.12\.1/);
    expect(r).toMatch(/audiocodes-405hd\s+AudioCodes 405HD\s+.*00:90:8f\s+2\s+<MAC>\.cfg/);
    expect(r).toMatch(/Sheet columns: mac\|mac_address.* extension\|ext\|ramal .*password\|senha/);
    expect(r).toMatch(/Phones fetch from http:\/\/10\.20\.0\.5:8080\/provision\//);
  });

  it('with format xml configured, Fanvil files are the <sysConf> XML golden files', async () => {
    const r = await job(t, 'provision fanvil-x1sg', [fixture('phones-fanvil-en.csv')]);
    expect(r.job.status, r.text).toBe('succeeded');
    for (const f of ['0c383e4d210a.cfg', '0c383e4d210b.cfg']) {
      const body = fs.readFileSync(path.join(t.dataDir, 'provision', f));
      expect(body).toEqual(golden('fanvil-x1sg-xml', f));
      expect(body.toString()).toMatch(/<sysConf>/);
    }
  });

  it('the job message shows the progress and ends with the per-row table', async () => {
    const r = await job(t, 'provision fanvil-x1sg --dry-run', [fixture('phones-fanvil-en.csv')]);
    expect(r.text).toMatch(/^Dry run, nothing written: 4 phones \(Fanvil X1SG\) from phones-fanvil-en\.csv: 0 new, 0 updated, 4 unchanged/);
    expect(r.text).toMatch(/row\s+mac\s+ext\s+name\s+room\s+ip\s+file\s+v\s+result/);
    expect(r.text).toMatch(/3\s+0c:38:3e:4d:21:0b\s+2302\s+Moreau, Claire\s+14\s+10\.20\.0\.\d+\s+0c383e4d210b\.cfg\s+1\s+unchanged/);
    expect(r.msg?.text).toMatch(/Moreau, Claire/);
  });

  it('a Windows-1252 sheet reads the same as its UTF-8 original', async () => {
    const utf8 = fs.readFileSync(fixturePath('phones-audiocodes-pt.csv'), 'utf8').replace(/^\uFEFF/, '');
    const cp = iconv.encode(utf8, 'win1252');
    expect(cp.includes(Buffer.from('ã', 'utf8'))).toBe(false);
    const r = await job(t, 'provision audiocodes', [file('telefones-1252.csv', cp)]);
    expect(r.job.status, r.text).toBe('succeeded');
    const p = t.app.services.provision.get('00908f6f4302')!;
    expect(p.name).toBe('Lúcia Gonçalves');
    for (const f of p.files) expect(fs.readFileSync(path.join(t.dataDir, 'provision', f))).toEqual(golden('audiocodes-405hd', f));
  });

  it('a MAC whose OUI belongs to another vendor is provisioned with a warning', async () => {
    const r = await t.run('provision fanvil mac=00:90:8f:66:00:09 ext=6609 password=Pw!66090000');
    expect(r.exitCode).toBe(0);
    expect(r.replies.join('\n')).toMatch(/⚠ row 1: 00:90:8f:66:00:09 has an OUI of AudioCodes but is provisioned as Fanvil X1SG/);
    await t.run('provision rm 00:90:8f:66:00:09', { confirmed: true });
  });

  it('an inline --dry-run writes nothing', async () => {
    const r = await t.run('provision fanvil mac=0c:38:3e:66:00:01 ext=6601 password=Dry!run-pw1 --dry-run');
    expect(r.replies.join('\n')).toMatch(/Dry run, nothing written: 1 phone \(Fanvil X1SG\) from the command: 1 new/);
    expect(t.app.services.provision.get('0c383e660001')).toBeUndefined();
    expect(fs.existsSync(path.join(t.dataDir, 'provision', '0c383e660001.cfg'))).toBe(false);
  });

  it('regenerate after a config change raises the version of every changed phone', async () => {
    const before = t.app.services.provision.get('0c383e4d210a')!.version;
    (t.app.config.provision as { ntpServer: string }).ntpServer = 'ntp.example.lan';
    const r = await t.run('provision regenerate all');
    expect(r.replies.join('\n')).toMatch(/Regenerated 7 phones: 7 changed \(version raised\), 0 unchanged/);
    expect(t.app.services.provision.get('0c383e4d210a')!.version).toBe(before + 1);
    expect(fs.readFileSync(path.join(t.dataDir, 'provision', '0c383e4d210a.cfg'), 'utf8')).toMatch(/ntp\.example\.lan/);
    expect((await t.run('provision regenerate 2301')).replies.join('\n')).toMatch(/1 phone: 0 changed .*1 unchanged/);
  });

  it('unknown models and fields get the usage line and what was wrong', async () => {
    const m = await t.run('provision avaya-j179 mac=0c:38:3e:66:00:02 ext=6602 password=x');
    expect(m.exitCode).toBe(2);
    expect(m.replies.join('\n')).toContain(`unknown model "avaya-j179"; known: ${drivers.list.map((d) => `${d.id} (${d.label})`).join(', ')}`);
    const f = await t.run('provision fanvil mac=0c:38:3e:66:00:02 ext=6602 password=Pw!66020000 colour=red');
    expect(f.exitCode).toBe(2);
    expect(f.replies.join('\n')).toMatch(/unknown field: colour/);
    const none = await t.run('provision fanvil');
    expect(none.replies.join('\n')).toMatch(/attach a CSV or XLSX sheet of phones, or give one phone as mac=… ext=… password=…/);
  });
});

describe('the progress of a real run', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { ...PROV, 'jobs.editIntervalMs': 0 } });
  });
  afterAll(() => t.close());

  const sheet = (n: number, changed = -1) =>
    [
      'mac,ext,name,password',
      ...Array.from(
        { length: n },
        (_, i) => `0c:38:3e:07:${String(Math.floor(i / 100)).padStart(2, '0')}:${String(i % 100).padStart(2, '0')},${7000 + i},${i === changed ? 'Moved' : `Desk ${i}`},Pw!${7000 + i}abcd`,
      ),
    ].join('\n') + '\n';

  it('the job message shows rows validated, then files written against the number of files, then the table', async () => {
    const r = await job(t, 'provision fanvil-x1sg', [file('desks.csv', sheet(1200))]);
    expect(r.job.status, r.text).toBe('succeeded');
    const edits = r.msg!.edits;
    expect(edits.some((e) => /running .* — \d+\/1200 rows validated$/.test(e))).toBe(true);
    const writing = edits.filter((e) => /— 1200\/1200 rows validated, \d+\/1200 files written$/.test(e));
    expect(writing.length).toBeGreaterThan(0);
    expect(writing.at(-1)).toMatch(/1200\/1200 files written$/);
    const last = edits.at(-1)!;
    expect(last).toMatch(/^✅ Job #\d+ provision 1200 rows from desks\.csv: done\nProvisioned: 1200 phones \(Fanvil X1SG\) from desks\.csv: 1200 new, 0 updated, 0 unchanged\.\n```\nrow\s+mac\s+ext/);
    expect(last).toMatch(/```\n… 1150 more rows in the attached CSV\.$/);
    expect(last).not.toMatch(/```\n```/); // one fenced table, not an empty block beside it
    expect(edits.indexOf(writing[0]!)).toBeLessThan(edits.length - 1);
    // The CSV follows in a message that reads as a sentence and says what the file is.
    const files = t.chat.messages.filter((m) => m.files.some((f) => f.name === 'provisioned.csv'));
    expect(files.map((m) => m.text)).toEqual([`Job #${r.job.id} (provision 1200 rows from desks.csv): the result for each phone, provisioned.csv`]);
  });

  it('files written are counted against the files to write: one changed phone of 1200 is 1/1', async () => {
    const r = await job(t, 'provision fanvil-x1sg', [file('desks.csv', sheet(1200, 5))]);
    expect(r.text).toMatch(/0 new, 1 updated, 1199 unchanged/);
    expect(r.msg!.edits.some((e) => /— 1200\/1200 rows validated, 1\/1 files written$/.test(e))).toBe(true);
  });
});

describe('provisioning config errors stop start-up with the key and the reason', () => {
  it('an admin password a driver cannot carry, named by its key and never echoed', async () => {
    const err = await makeTestApp({ overrides: { ...PROV, 'provision.adminPassword': 'Adm;n!pass' } }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /config key "provision\.adminPassword" \(SWITCHBOARD_PHONE_ADMIN_PASSWORD\) cannot be used with AudioCodes 405HD phones: it contains ";", which starts a comment in AudioCodes configuration files/,
    );
    expect((err as Error).message).not.toContain('Adm;n!pass');
    await expect(makeTestApp({ overrides: { ...PROV, 'provision.adminPassword': '{Admin!pass}' } })).rejects.toThrow(/provision\.adminPassword.*is wrapped in \{ \}/);
  });

  it('an unknown driver option value', async () => {
    await expect(makeTestApp({ overrides: { ...PROV, 'provision.drivers': { 'fanvil-x1sg': { format: 'yaml' } } } })).rejects.toThrow(
      /provision\.drivers\.fanvil-x1sg\.format" has value "yaml": must be one of "text", "xml"/,
    );
  });
  it('options for a driver that does not exist, and a bad time zone', async () => {
    await expect(makeTestApp({ overrides: { ...PROV, 'provision.drivers': { snom: {} } } })).rejects.toThrow(/provision\.drivers\.snom" names no phone driver/);
    await expect(makeTestApp({ overrides: { ...PROV, 'provision.timezone': 'Mars/Olympus' } })).rejects.toThrow(/provision\.timezone" has value "Mars\/Olympus": must be an IANA time zone/);
  });
});
