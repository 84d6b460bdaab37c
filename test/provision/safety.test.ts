// What an audit of provisioning asked for: no password echoed by a formula message, the chat's copy of
// the sheet removed, every bad row of a big sheet listed, vendor delimiters refused through a sheet, all or
// nothing when the phone store fails, and phones whose sealed password cannot be opened set aside.
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import type { IncomingFile } from '../../src/core/types.js';
import { file, fixture, PROV } from './helpers.js';

async function provision(t: TestApp, line: string, files: IncomingFile[]) {
  const r = await t.run(line, { files });
  if (!r.jobIds.length) return { ...r, job: undefined, text: r.replies.join('\n') };
  const job = await t.app.jobs.wait(r.jobIds[0]!);
  return { ...r, job, text: job.status === 'succeeded' ? (JSON.parse(job.result ?? '{}') as { text: string }).text : (job.error ?? '') };
}

/** An upload whose removal from the chat is observed; `removable` is what the platform answers. */
function removable(f: IncomingFile, answer: boolean) {
  const seen = { discards: 0, fetches: 0 };
  const out: IncomingFile = {
    ...f,
    fetch: async () => {
      seen.fetches++;
      return f.fetch();
    },
    discard: async () => {
      seen.discards++;
      return answer;
    },
  };
  return { file: out, seen };
}

const provDir = (t: TestApp) => path.join(t.dataDir, 'provision');
const written = (t: TestApp) => (fs.existsSync(provDir(t)) ? fs.readdirSync(provDir(t)).filter((f) => !f.startsWith('.')) : []);

async function everywhere(t: TestApp): Promise<string> {
  const chat = t.chat.messages.flatMap((m) => [m.text, ...m.edits, ...m.files.map((f) => f.data.toString())]).join('\n');
  const audit = JSON.stringify(await t.app.db.selectFrom('audit_log').selectAll().execute());
  const jobs = JSON.stringify(await t.app.db.selectFrom('jobs').selectAll().execute());
  return [chat, t.logs.join('\n'), audit, jobs].join('\n');
}

describe('provisioning: secrets, uploads, big and bad sheets', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: PROV });
  });
  afterAll(() => t.close());

  it('a password cell that is a formula (XLSX with its computed result, CSV starting with =) is named by row and column, its text nowhere', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('Phones');
    ws.addRow(['mac', 'extension', 'name', 'password']);
    ws.addRow(['0c:38:3e:00:10:01', 1001, 'Ana', { formula: 'CONCAT("Fx!sec","ret99")', result: 'Fx!secret99' }]);
    const x = await provision(t, 'provision fanvil-x1sg', [file('formula.xlsx', Buffer.from(await wb.xlsx.writeBuffer()))]);
    expect(x.job?.status).toBe('failed');
    expect(x.text).toMatch(/row 2: password is a formula \(column D\); paste its value as text instead/);
    const c = await provision(t, 'provision fanvil-x1sg', [file('formula.csv', 'mac,extension,password,name\n0c:38:3e:00:10:02,1002,=Cv!secret77,Bia\n')]);
    expect(c.job?.status).toBe('failed');
    expect(c.text).toMatch(/row 2: password is a formula \(column C\); paste its value as text instead/);
    expect(c.text).not.toMatch(/row 2 \(password\)/); // no second message about the same cell's value
    const all = await everywhere(t);
    expect(all).not.toContain('Fx!secret99');
    expect(all).not.toContain('Cv!secret77');
    expect(written(t)).toEqual([]);
  });

  it('on a real run the sheet is removed from the chat once read, and the reply says so', async () => {
    const u = removable(fixture('phones-provisionador.csv'), true);
    const r = await provision(t, 'provision x1sg', [u.file]);
    expect(r.job?.status, r.text).toBe('succeeded');
    expect(u.seen.discards).toBe(1);
    expect(r.text).toMatch(/\nphones-provisionador\.csv was removed from the channel \(it holds SIP passwords\)\.$/);
  });

  it('when the platform cannot remove it, the reply says to delete it by hand; refused sheets and dry runs are removed too', async () => {
    const bad = removable(file('bad.csv', 'mac,ext,password\nzz,1,Pw!x12345678\n'), false);
    const r = await provision(t, 'provision fanvil-x1sg', [bad.file]);
    expect(r.job?.status).toBe('failed');
    expect(bad.seen.discards).toBe(1);
    expect(r.text).toMatch(/⚠ bad\.csv could not be removed from the channel: delete it by hand, it holds SIP passwords\./);
    const headerOnly = removable(file('header.csv', 'mac,ext,password\n'), true);
    const h = await provision(t, 'provision fanvil-x1sg', [headerOnly.file]);
    expect(h.text).toMatch(/^❌ Nothing provisioned: header\.csv has a header row but no data rows\. \(SB_SHEET_BAD_ROW\)\nheader\.csv was removed from the channel/);
    expect(headerOnly.seen.discards).toBe(1);
    const dry = removable(fixture('phones-provisionador.csv'), true);
    const d = await provision(t, 'provision x1sg --dry-run', [dry.file]);
    expect(d.text).toMatch(/^Dry run, nothing written/);
    expect(dry.seen.discards).toBe(1);
  });

  it('a file bigger than the limit is refused from its announced size, without downloading it', async () => {
    const big = removable({ name: 'big.csv', size: 20 * 1024 * 1024, fetch: async () => Buffer.alloc(20 * 1024 * 1024, 'a') }, true);
    const r = await provision(t, 'provision fanvil-x1sg', [big.file]);
    expect(r.text).toBe('❌ Nothing provisioned: big.csv is 20.0 MB; the limit is 5.0 MB. (SB_ATTACHMENT_TOO_LARGE)\nbig.csv was removed from the channel (it holds SIP passwords).');
    expect(big.seen.fetches).toBe(0);
    expect(big.seen.discards).toBe(1);
  });

  it('an upload that cannot be downloaded is still removed from the channel, or the reply says to delete it', async () => {
    const broken = removable(
      {
        name: 'phones.csv',
        size: 100,
        fetch: async () => {
          throw new Error('the platform answered 502');
        },
      },
      false,
    );
    const r = await provision(t, 'provision fanvil-x1sg', [broken.file]);
    expect(r.text).toBe(
      '❌ Nothing provisioned: cannot download phones.csv: the platform answered 502 (SB_ATTACHMENT_UNREADABLE)\n⚠ phones.csv could not be removed from the channel: delete it by hand, it holds SIP passwords.',
    );
    expect(broken.seen.discards).toBe(1);
  });

  it('a sheet with more than 50 bad rows lists 50 and attaches a CSV with every bad row, number, field and reason', async () => {
    const lines = ['mac,ext,password'];
    for (let i = 0; i < 70; i++) lines.push(`0c:38:3e:00:2${String(i).padStart(3, '0').slice(0, 1)}:${String(i).padStart(2, '0')}x,${3000 + i},Pw!${3000 + i}abcd`);
    lines.push('0c:38:3e:00:30:01,=cmd|calc,Pw!3999abcd');
    const r = await provision(t, 'provision fanvil-x1sg', [file('many.csv', lines.join('\n') + '\n')]);
    expect(r.job?.status).toBe('failed');
    expect(r.text).toMatch(/^Nothing provisioned: 71 problems in many\.csv:/);
    expect(r.text.split('\n').filter((l) => l.startsWith('• row '))).toHaveLength(50);
    expect(r.text).toMatch(/… and 21 more in the attached provision-problems\.csv, which lists every one/);
    const msg = t.chat.messages.find((m) => m.files.some((f) => f.name === 'provision-problems.csv'));
    expect(msg?.text).toMatch(new RegExp(`^Job #${r.jobIds[0]}: all 71 problems in many\\.csv`));
    const csv = msg!.files.find((f) => f.name === 'provision-problems.csv')!.data.toString();
    const rows = parse(csv) as string[][];
    expect(rows[0]).toEqual(['row', 'field', 'reason']);
    expect(rows).toHaveLength(72);
    expect(rows.slice(1).map((x) => Number(x[0]))).toEqual(Array.from({ length: 71 }, (_, i) => i + 2));
    expect(rows[1]).toEqual(['2', 'mac', expect.stringMatching(/is not a MAC address/)]);
    expect(rows[71]).toEqual(['72', '', expect.stringMatching(/^ext is a formula \(column B\); paste its value as text instead$/)]);
    expect(written(t)).not.toContain('0c383e003001.cfg');
  });

  it('a ";" in an AudioCodes name or password is refused through the sheet with the row, field and reason', async () => {
    const csv = 'mac,ramal,nome,senha\n00:90:8f:00:40:01,4401,"Ana; Recepção",Pw!4401abcd\n00:90:8f:00:40:02,4402,Bia,Pw;4402abcd\n00:90:8f:00:40:03,4403,Cris,{Pw4403abcd}\n';
    const r = await provision(t, 'provision audiocodes-405hd', [file('semicolon.csv', csv)]);
    expect(r.job?.status).toBe('failed');
    expect(r.text).toMatch(/row 2 \(name\): contains ";", which starts a comment in AudioCodes configuration files/);
    expect(r.text).toMatch(/row 3 \(password\): contains ";", which starts a comment in AudioCodes configuration files/);
    expect(r.text).toMatch(/row 4 \(password\): is wrapped in \{ \}, which AudioCodes phones read as an encrypted value/);
    expect(await everywhere(t)).not.toMatch(/Pw;4402abcd|\{Pw4403abcd\}/);
    expect(written(t).filter((f) => /^00908F0040/i.test(f))).toEqual([]);
  });

  it('a modelo column mixes models in one sheet', async () => {
    const csv = 'mac;ramal;senha;modelo\n0c:38:3e:00:50:01;5501;Pw!5501abcd;X1SG\n00:90:8f:00:50:02;5502;Pw!5502abcd;405HD\n';
    const r = await provision(t, 'provision', [file('modelos.csv', csv)]);
    expect(r.job?.status, r.text).toBe('succeeded');
    expect(t.app.services.provision.get('0c383e005001')?.model).toBe('fanvil-x1sg');
    expect(t.app.services.provision.get('00908f005002')?.model).toBe('audiocodes-405hd');
  });
});

describe('a failure to store the phones leaves nothing half-written', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: PROV });
  });
  afterAll(() => t.close());

  it('DHCP reservations written for the batch are put back, no file is written, no phone is stored', async () => {
    const dhcp = t.app.services.dhcp;
    // A reservation that the batch will change (new IP, option 66) and must get back as it was.
    const pre = await dhcp.upsertHosts([{ mac: '0c:38:3e:00:60:02', ip: '10.20.0.40', hostname: 'desk-6002', owner: 'Before', comment: 'kept' }], 'test');
    expect(pre.ok, JSON.stringify(pre.errors)).toBe(true);
    const before = await dhcp.getByMac('0c:38:3e:00:60:02');
    await sql`CREATE TRIGGER phones_fail BEFORE INSERT ON phones BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END`.execute(t.app.db);
    // The batch also gives the host a room it had none of: putting it back must clear it again.
    expect(before?.room).toBeNull();
    const csv = 'mac,ext,password,ip,room\n0c:38:3e:00:60:01,6001,Pw!6001abcd,10.20.0.41,Sala 1\n0c:38:3e:00:60:02,6002,Pw!6002abcd,10.20.0.42,Sala 2\n';
    const r = await provision(t, 'provision fanvil-x1sg', [file('fail.csv', csv)]);
    await sql`DROP TRIGGER phones_fail`.execute(t.app.db);
    expect(r.job?.status).toBe('failed');
    expect(r.text).toMatch(
      /^Nothing provisioned: 1 problem in fail\.csv: \(SB_PROVISION_REFUSED\)\n• storing the phones failed \(ref [0-9a-f]{6}; details in the bot's log\), so no phone and no file was written; the 2 DHCP reservations it wrote were put back as they were/,
    );
    expect(await dhcp.getByMac('0c:38:3e:00:60:01')).toBeUndefined();
    const after = await dhcp.getByMac('0c:38:3e:00:60:02');
    expect({ ...after, updatedAt: 0, updatedBy: '' }).toEqual({ ...before, updatedAt: 0, updatedBy: '' });
    expect(written(t)).toEqual([]);
    expect(await t.app.db.selectFrom('phones').selectAll().execute()).toEqual([]);
    expect(t.app.services.provision.all()).toEqual([]);
    // And the same sheet goes through once the store works again.
    const ok = await provision(t, 'provision fanvil-x1sg', [file('fail.csv', csv)]);
    expect(ok.job?.status, ok.text).toBe('succeeded');
    expect(written(t).sort()).toEqual(['0c383e006001.cfg', '0c383e006002.cfg']);
    expect((await dhcp.getByMac('0c:38:3e:00:60:02'))?.ip).toBe('10.20.0.42');
  });
});

describe('a phone whose sealed password cannot be opened', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ listen: true, overrides: PROV });
    const r = await provision(t, 'provision fanvil-x1sg', [fixture('phones-fanvil-en.csv')]);
    expect(r.job?.status, r.text).toBe('succeeded');
    // As after a changed key: the sealed text no longer opens (authentication tag mismatch).
    const row = await t.app.db.selectFrom('phones').select('password_sealed').where('mac', '=', '0c383e4d210b').executeTakeFirstOrThrow();
    const [v, iv, , ct] = row.password_sealed.split(':');
    await t.app.db
      .updateTable('phones')
      .set({ password_sealed: `${v}:${iv}:${Buffer.alloc(16).toString('base64')}:${ct}` })
      .where('mac', '=', '0c383e4d210b')
      .execute();
    await t.app.services.provision.init();
  });
  afterAll(() => t.close());

  const url = (t: TestApp, f: string) => `http://127.0.0.1:${(t.app.http.server.address() as { port: number }).port}/provision/${f}`;

  it('start-up goes on: the others are served, that one is not, and the log says which (no secret)', async () => {
    expect(t.app.services.provision.all().map((p) => p.mac)).toEqual(['0c383e4d210a', '0c383e4d210c', '0c383e4d210d']);
    expect((await fetch(url(t, '0c383e4d210a.cfg'))).status).toBe(200);
    const r = await fetch(url(t, '0c383e4d210b.cfg'));
    expect(r.status).toBe(404);
    expect(await r.text()).toMatch(/phone 0c:38:3e:4d:21:0b is provisioned but its sealed SIP password cannot be opened with this key/);
    expect(t.logs.join('\n')).toMatch(/"mac":"0c383e4d210b".*sealed SIP password cannot be opened with this key; its files are not served/);
  });

  it('provision show, list and regenerate name the phone and say what to do', async () => {
    const show = await t.run('provision show 2302');
    expect(show.exitCode).toBe(1);
    expect(show.replies.join('\n')).toMatch(
      /⚠ Fanvil X1SG 0c:38:3e:4d:21:0b \(ext 2302\): its sealed SIP password cannot be opened with this key \(was SWITCHBOARD_PROVISION_KEY or provision\.key changed\?\), so its files are not served; put the old key back, or provision the phone again with its password\./,
    );
    expect((await t.run('provision list')).replies.join('\n')).toMatch(
      /⚠ 1 more phone is stored but not served: its sealed SIP password cannot be opened with this key \(0c:38:3e:4d:21:0b; see provision show <mac>\)/,
    );
    const regen = await t.run('provision regenerate all');
    expect(regen.exitCode).toBe(1);
    const text = regen.replies.join('\n');
    expect(text).toMatch(/^❌ Regenerated 3 phones: 0 changed \(version raised\), 3 unchanged\./);
    expect(text).toMatch(/1 phone not regenerated and not served:\n• 0c:38:3e:4d:21:0b \(ext 2302\): its sealed SIP password cannot be opened/);
  });

  it('provisioning it again with its password seals it anew and serves it', async () => {
    const r = await t.run('provision fanvil mac=0c:38:3e:4d:21:0b ext=2302 name="Moreau, Claire" password=H5#ws9Kdx2 server=pbx.example.lan room=14');
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    expect(r.replies.join('\n')).toMatch(/1 updated/);
    expect((await fetch(url(t, '0c383e4d210b.cfg'))).status).toBe(200);
    expect((await t.run('provision regenerate all')).exitCode).toBe(0);
  });
});
