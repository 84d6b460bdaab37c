// Overrides on SQLite and MariaDB: vendor keys set per model, per room and per phone, with the precedence
// visible in the files phones fetch over HTTP; unset restores the driver's default; `provision diff` and
// --dry-run show a change before anything is written; keys and values a format cannot hold, and keys
// Switchboard owns, are refused with the key and the reason; password-like values are sealed, masked and never
// audited; a change reaching many phones asks first. Then a second replica on the same MariaDB serves what the
// first set, and the other way round.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { mysqlUrl } from '../helpers/env.js';
import { file, PROV } from './helpers.js';
import { isXml, parseXml, phone, SETTINGS } from './driver-kit.js';
import type { Engine } from '../../src/store/db.js';
import { DriverSet } from '../../src/provision/drivers.js';

const YEALINK_UA = 'Yealink SIP-T46S 66.86.0.15 80:5e:c0:12:34:56';
const colon = (m: string) => m.match(/../g)!.join(':');
/** Twelve Yealink phones (4001-4012: 4001-4004 in Sales, the rest in Ops), a Grandstream in Sales, a Cisco. */
const yealinkMac = (i: number) => `805ec0ab${String(i).padStart(4, '0')}`;
const GS_MAC = '000b82ab0001';
const CISCO_MAC = '00562bab0001';
const FANVIL_MAC = '0c383eab0001';
const SHEET = [
  'model,mac,extension,name,password,room',
  ...Array.from({ length: 12 }, (_, i) => `yealink,${colon(yealinkMac(i + 1))},${4001 + i},Desk ${4001 + i},Pw#${4001 + i}abcd,${i < 4 ? 'Sales' : 'Ops'}`),
  `grandstream,${colon(GS_MAC)},4101,Sales GS,Pw#4101abcd,Sales`,
  `cisco,${colon(CISCO_MAC)},4201,Lobby,Pw#4201abcd,Lobby`,
  `fanvil,${colon(FANVIL_MAC)},4401,Annex desk,Pw#4401abcd,Lobby`,
].join('\n');

async function get(t: TestApp, name: string, ua = YEALINK_UA): Promise<string> {
  const port = (t.app.http.server.address() as AddressInfo).port;
  const r = await fetch(`http://127.0.0.1:${port}/provision/${name}`, { headers: { 'user-agent': ua } });
  expect(r.status, `GET /provision/${name}`).toBe(200);
  return r.text();
}
const yealinkFile = (i: number) => `${yealinkMac(i)}.cfg`;
const lineOf = (body: string, key: string) => body.split('\n').find((l) => l.startsWith(`${key} =`));
const versionOf = (t: TestApp, mac: string) => t.app.services.provision.get(mac)!.version;
async function storedVersion(t: TestApp, mac: string): Promise<number> {
  const r = await t.app.db.selectFrom('phones').select('version').where('mac', '=', mac).executeTakeFirstOrThrow();
  return Number(r.version);
}
const said = (r: { replies: string[] }) => r.replies.join('\n');
/** The site settings, without fetch announcements (their messages would land among the replies). */
const SITE = { ...PROV, 'provision.announce.fetches': false };
/** A body without its "config version N" comment line (the rest must be the driver's own again). */
const noVersion = (body: string) => body.replace(/config version \d+/, 'config version _');

for (const engine of ['sqlite', 'mysql'] as Engine[]) {
  describe(`overrides (${engine})`, () => {
    let t: TestApp;
    const original = new Map<number, string>();

    beforeAll(async () => {
      if (engine === 'mysql') mysqlUrl(); // fails loudly in CI when MariaDB is not configured
      t = await makeTestApp({ engine, listen: true, overrides: SITE });
      const r = await t.run('provision', { files: [file('offices.csv', SHEET)] });
      expect((await t.app.jobs.wait(r.jobIds[0]!)).status).toBe('succeeded');
      for (const i of [1, 2, 5]) original.set(i, await get(t, yealinkFile(i)));
    });
    afterAll(() => t?.close());

    it('sets a key per model, room and phone; the narrowest wins in the file each phone fetches over HTTP', async () => {
      const gsBefore = await get(t, `cfg${GS_MAC}.xml`, 'Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82ab0001');
      const v1 = versionOf(t, yealinkMac(1));

      const model = await t.run('provision set model=yealink lang.gui=English features.dnd.enable=1', { confirmed: true });
      expect(model.exitCode, said(model)).toBe(0);
      expect(said(model)).toContain('Set for every Yealink T3x/T4x/T5x phone (model=yealink-t4x): lang.gui = English, features.dnd.enable = 1.');
      expect(said(model)).toContain('12 phones: 12 changed (version raised), 0 unchanged.');

      // A room holding two models needs the model named; then only that model's phones in the room move.
      const ambiguous = await t.run('provision set room=Sales lang.gui=Portuguese');
      expect(ambiguous.exitCode).toBe(1);
      expect(said(ambiguous)).toContain('Room "Sales" holds phones of 2 models (yealink-t4x, grandstream-gxp); keys belong to one model: add model=<one of them>.');
      const room = await t.run('provision set room=Sales model=yealink-t4x lang.gui=Portuguese');
      expect(room.exitCode, said(room)).toBe(0);
      expect(said(room)).toContain('4 phones: 4 changed (version raised), 0 unchanged.');

      // One phone by its bare extension.
      const one = await t.run('provision set 4001 lang.gui=Spanish');
      expect(one.exitCode, said(one)).toBe(0);
      expect(said(one)).toContain(`Set for Yealink T3x/T4x/T5x ${colon(yealinkMac(1))} (ext 4001): lang.gui = Spanish.`);

      const a = await get(t, yealinkFile(1));
      const b = await get(t, yealinkFile(2));
      const c = await get(t, yealinkFile(5));
      expect(lineOf(a, 'lang.gui')).toBe('lang.gui = Spanish');
      expect(lineOf(b, 'lang.gui')).toBe('lang.gui = Portuguese');
      expect(lineOf(c, 'lang.gui')).toBe('lang.gui = English');
      for (const body of [a, b, c]) {
        expect(lineOf(body, 'features.dnd.enable')).toBe('features.dnd.enable = 1');
        expect(body.split('\n').filter((l) => l.startsWith('lang.gui')).length).toBe(1);
      }
      expect(versionOf(t, yealinkMac(1))).toBe(v1 + 3);
      expect(await storedVersion(t, yealinkMac(1))).toBe(v1 + 3);
      expect(a).toContain(`config version ${v1 + 3}`);
      // The Grandstream in the same room took none of the Yealink keys.
      expect(await get(t, `cfg${GS_MAC}.xml`, 'Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82ab0001')).toBe(gsBefore);

      // Where each of a phone's overrides comes from; what one scope holds; everything.
      expect(said(await t.run('provision overrides 4001'))).toMatch(/2 overrides apply to .*\n[\s\S]*features\.dnd\.enable\s+1\s+model yealink-t4x[\s\S]*lang\.gui\s+Spanish\s+this phone/);
      expect(said(await t.run('provision overrides room=sales model=yealink'))).toMatch(/1 override set for Yealink T3x\/T4x\/T5x phones in room sales .*\(4 phones\):[\s\S]*lang\.gui\s+Portuguese/);
      expect(said(await t.run('provision set room=sales model=yealink'))).toMatch(/1 override set for/);
      expect(said(await t.run('provision overrides'))).toMatch(/4 overrides \(driver defaults < model < room < phone\):/);
    });

    it('an XML format takes its own keys: a Grandstream P-value element is added, then replaced', async () => {
      const ua = 'Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82ab0001';
      expect((await t.run(`provision set ${colon(GS_MAC)} p1362=pt`)).exitCode).toBe(0);
      expect((await t.run(`provision set mac=${colon(GS_MAC)} P1362=de`)).exitCode).toBe(0);
      const body = await get(t, `cfg${GS_MAC}.xml`, ua);
      expect(body.match(/<P1362>/g)?.length).toBe(1);
      expect(body).toContain('    <P1362>de</P1362>\n  </config>');
      expect(parseXml(body)).toMatchObject({ ok: true });
      expect(said(await t.run('provision overrides ext=4101'))).toMatch(/P1362\s+de\s+this phone/);
    });

    it('a key with spaces is quoted: a Fanvil "MODULE/Key" line set in its module; the audit keeps the key, not the value', async () => {
      const r = await t.run('provision set 4401 "phone feature module/DST Type"=2 "SIP CONFIG MODULE/SIP1 DTMF Mode"=1');
      expect(r.exitCode, said(r)).toBe(0);
      expect(said(r)).toContain('PHONE FEATURE MODULE/DST Type = 2, SIP CONFIG MODULE/SIP1 DTMF Mode = 1.');
      const body = await get(t, `${FANVIL_MAC}.cfg`, 'Fanvil X1SG 2.12.1 0c383eab0001');
      expect(body).toContain('DST Type           :2\r\n');
      expect(body).toContain('SIP1 Enable Reg    :1\r\nSIP1 DTMF Mode     :1\r\n\r\n<PHONE FEATURE MODULE>');
      const audit = await t.app.db.selectFrom('audit_log').select('args').where('command', '=', 'provision set').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
      expect(audit.args).toBe('provision set 4401 "phone feature module/DST Type=***" "SIP CONFIG MODULE/SIP1 DTMF Mode=***"');
      expect((await t.run('provision unset 4401 "PHONE FEATURE MODULE/DST Type" "sip config module/SIP1 DTMF Mode"')).exitCode).toBe(0);
      expect(await get(t, `${FANVIL_MAC}.cfg`, 'Fanvil X1SG 2.12.1 0c383eab0001')).toContain('DST Type           :0\r\n');
    });

    it('unset restores the wider scope, then the driver default, byte for byte but for the version', async () => {
      // A key the driver writes itself: the override replaces its line, unset brings the default back.
      expect((await t.run('provision set 4005 local_time.summer_time=1')).exitCode).toBe(0);
      expect(lineOf(await get(t, yealinkFile(5)), 'local_time.summer_time')).toBe('local_time.summer_time = 1');
      expect((await t.run('provision unset 4005 local_time.summer_time')).exitCode).toBe(0);
      expect(lineOf(await get(t, yealinkFile(5)), 'local_time.summer_time')).toBe('local_time.summer_time = 0');

      const phoneLevel = await t.run('provision unset ext=4001 lang.gui');
      expect(said(phoneLevel)).toContain('the phones get the value of a wider scope, or the driver default');
      expect(lineOf(await get(t, yealinkFile(1)), 'lang.gui')).toBe('lang.gui = Portuguese');
      expect((await t.run('provision unset room=Sales model=yealink lang.gui')).exitCode).toBe(0);
      expect(lineOf(await get(t, yealinkFile(1)), 'lang.gui')).toBe('lang.gui = English');

      // Not set at that scope (it is at another): said, nothing changes.
      const v = versionOf(t, yealinkMac(1));
      const missing = await t.run('provision unset 4001 features.dnd.enable');
      expect(missing.exitCode).toBe(0);
      expect(said(missing)).toContain(`features.dnd.enable is not set for Yealink T3x/T4x/T5x ${colon(yealinkMac(1))} (ext 4001) (it is set for model yealink-t4x).\nNothing changed.`);
      expect(versionOf(t, yealinkMac(1))).toBe(v);

      const all = await t.run('provision unset model=yealink lang.gui features.dnd.enable', { confirmed: true });
      expect(all.exitCode, said(all)).toBe(0);
      for (const i of [1, 2, 5]) {
        const now = await get(t, yealinkFile(i));
        expect(now).not.toMatch(/^(lang\.gui|features\.dnd\.enable) =/m);
        expect(noVersion(now)).toBe(noVersion(original.get(i)!));
      }
      expect(said(await t.run('provision overrides 4001'))).toContain('No overrides apply to Yealink T3x/T4x/T5x');
    });

    it('diff shows what a change would do before it is made, masks passwords, and writes nothing', async () => {
      const mac = yealinkMac(6);
      const before = await get(t, yealinkFile(6));
      const v = versionOf(t, mac);
      const nothing = await t.run('provision diff 4006');
      expect(said(nothing)).toBe(`Nothing would change: the next render of Yealink T3x/T4x/T5x ${colon(mac)} (ext 4006) as it stands in the store is the file served now (version ${v}).`);

      const d = await t.run('provision diff 4006 lang.gui=French local_time.summer_time=1');
      expect(d.exitCode, said(d)).toBe(0);
      const text = said(d);
      expect(text).toContain(`would change ${mac}.cfg (version ${v} → ${v + 1}); nothing was written:`);
      expect(text).toContain(`--- ${mac}.cfg (served, version ${v})\n+++ ${mac}.cfg (next render, version ${v + 1})`);
      expect(text).toMatch(/^-local_time\.summer_time = 0\n\+local_time\.summer_time = 1$/m);
      expect(text).toMatch(/^\+lang\.gui = French$/m);
      expect(text).toMatch(new RegExp(`^-# Yealink configuration for ${mac}, written by Switchboard; config version ${v}$`, 'm'));
      // The SIP password and the admin password sit in context lines: masked.
      expect(text).not.toContain('Pw#4006abcd');
      expect(text).not.toContain('Adm1n!pass');
      expect(await get(t, yealinkFile(6))).toBe(before);
      expect(await storedVersion(t, mac)).toBe(v);

      // The same for a change over a room, with --dry-run.
      const dry = await t.run('provision set room=ops model=yealink lang.gui=French --dry-run');
      expect(said(dry)).toContain('Dry run, nothing written: would set for Yealink T3x/T4x/T5x phones in room ops (room=ops model=yealink-t4x): lang.gui = French.');
      expect(said(dry)).toContain('8 phones: 8 would change, 0 unchanged.');
      expect(said(dry)).toMatch(/^\+lang\.gui = French$/m);
      expect(said(dry)).toContain('… and 5 more phones (provision diff <mac|ext> shows one).');
      const v5 = versionOf(t, yealinkMac(5));
      expect(said(dry)).toContain(
        `Yealink T3x/T4x/T5x ${colon(yealinkMac(5))} (ext 4005), version ${v5} → ${v5 + 1}:\n\`\`\`\n--- ${yealinkMac(5)}.cfg (served, version ${v5})\n+++ ${yealinkMac(5)}.cfg (next render, version ${v5 + 1})`,
      );
      expect(await get(t, yealinkFile(6))).toBe(before);
      expect(await t.app.db.selectFrom('provision_overrides').selectAll().execute()).toHaveLength(1); // P1362 only

      // An override in the store that a phone's row does not carry yet (set while it was re-provisioned, say):
      // diff shows the next render; regenerate makes it.
      await t.app.db
        .insertInto('provision_overrides')
        .values({ model: 'yealink-t4x', scope: 'phone', target: mac, vendor_key: 'lang.gui', key_lc: 'lang.gui', value: 'Italian', secret: 0, forced: 0, set_by: 'test', set_at: Date.now() })
        .execute();
      const pending = said(await t.run('provision diff 4006'));
      expect(pending).toContain(`as it stands in the store would change ${mac}.cfg (version ${v} → ${v + 1})`);
      expect(pending).toMatch(/^\+lang\.gui = Italian$/m);
      expect(await get(t, yealinkFile(6))).toBe(before);
      expect(said(await t.run('provision regenerate 4006'))).toContain('1 changed (version raised)');
      expect(lineOf(await get(t, yealinkFile(6)), 'lang.gui')).toBe('lang.gui = Italian');
      expect(said(await t.run('provision diff 4006'))).toMatch(/^Nothing would change/);
      expect((await t.run('provision unset 4006 lang.gui')).exitCode).toBe(0);
    });

    it('refuses keys and values the format cannot hold, and keys Switchboard owns, naming the key and why', async () => {
      const refused = async (cmd: string, why: string) => {
        const r = await t.run(cmd);
        expect(r.exitCode, said(r)).toBe(1);
        expect(said(r)).toContain(why);
        return said(r);
      };
      await refused('provision set 4001 "lang gui"=x', '"lang gui" contains a space, which a key in Yealink "key = value" lines cannot hold');
      await refused('provision set 4001 "lang.gui#x"=x', '"lang.gui#x" contains "#", which starts a comment in Yealink "key = value" lines');
      await refused('provision set 4001 "lang\nui"=x', '"lang\\nui" has a line break; a key in Yealink "key = value" lines is one line');
      await refused('provision set 4001 lang.gui="a\u0007b"', '"lang.gui": its value has a control character (code 7), which Yealink "key = value" lines cannot carry');
      await refused('provision set 4001 lang.gui="one\ntwo"', '"lang.gui": its value has a line break');
      await refused('provision set 4001 lang.gui=" padded"', '"lang.gui": its value starts or ends with a space, which phones strip from Yealink "key = value" lines');
      await refused(
        'provision set 4201 "9lives"=x',
        '"9lives" is not a valid XML element name: it must start with a letter or "_" and hold only letters, digits and . _ - (Cisco MPP flat-profile parameters)',
      );
      await refused('provision set ext=4101 Language=pt', '"Language" is not a Grandstream P-value: P followed by up to 5 digits, e.g. P1362');
      await refused('provision set 4001 lang.gui=a lang.gui=b', '"lang.gui" is given twice');
      await refused('provision set 4999 lang.gui=x', 'No provisioned phone with MAC or extension "4999".');
      const many = await refused('provision set 4001 "a b"=1 ok.key=1 "c#d"=2', 'Nothing set for Yealink T3x/T4x/T5x');
      expect(many.split('\n').filter((l) => l.startsWith('• ')).length).toBe(2);
      expect((await t.run('provision set model=nokia x=1')).replies.join('\n')).toMatch(/unknown model "nokia"/);

      // Keys Switchboard writes for the phones to keep working: refused without --force.
      await refused(
        'provision set 4001 account.1.password=Other-Pw-123',
        '"account.1.password" is an account credential (from the phone\'s row: provision it again to change it); Switchboard writes it for the phones to keep working. Add --force to override it anyway.',
      );
      await refused('provision set 4001 static.auto_provision.server.url=http://elsewhere/', '"static.auto_provision.server.url" is the provisioning server and its credentials');
      await refused('provision set 4201 Admin_Password=x', '"Admin_Password" is the admin password (provision.adminPassword)');
      await refused('provision set 4101 P34=x', '"P34" is an account credential');
      expect(await t.app.db.selectFrom('provision_overrides').selectAll().execute()).toHaveLength(1);

      const forced = await t.run('provision set 4001 static.auto_provision.server.url=http://10.20.0.9/prov/ --force');
      expect(forced.exitCode, said(forced)).toBe(0);
      expect(said(forced)).toContain('⚠ static.auto_provision.server.url is the provisioning server and its credentials: set with --force');
      expect(lineOf(await get(t, yealinkFile(1)), 'static.auto_provision.server.url')).toBe('static.auto_provision.server.url = http://10.20.0.9/prov/');
      expect(said(await t.run('provision overrides 4001'))).toMatch(/static\.auto_provision\.server\.url\s+http:\/\/10\.20\.0\.9\/prov\/\s+this phone/);
      expect(said(await t.run('provision overrides'))).toMatch(/phone 80:5e:c0:ab:00:01 \(ext 4001\)\s+static\.auto_provision\.server\.url\s+http:\/\/10\.20\.0\.9\/prov\/\s+.* \(forced\)/);
      expect((await t.run('provision unset 4001 static.auto_provision.server.url')).exitCode).toBe(0);
    });

    it('a password-like value is sealed at rest, masked in replies and listings, never audited, and served to the phone', async () => {
      const secret = 'Ldap-S3cret-77';
      const r = await t.run(`provision set 4002 ldap.password=${secret} ldap.user=reader`);
      expect(r.exitCode, said(r)).toBe(0);
      expect(said(r)).toContain('ldap.password = ••••••, ldap.user = reader');
      expect(said(r)).not.toContain(secret);
      expect(lineOf(await get(t, yealinkFile(2)), 'ldap.password')).toBe(`ldap.password = ${secret}`);
      const listed = said(await t.run('provision overrides'));
      expect(listed).toMatch(/ldap\.password\s+••••••/);
      expect(listed).not.toContain(secret);
      // --secret marks a value whose key does not say so (a Grandstream P-value, say).
      expect((await t.run('provision set 4101 P8023=Gs-Hidden-42 --secret')).exitCode).toBe(0);
      expect(said(await t.run('provision overrides 4101'))).toMatch(/P8023\s+••••••/);
      const d = said(await t.run('provision diff 4002 ldap.user=other'));
      expect(d).toMatch(/^ ldap\.password = ••••••$/m);
      expect(d).not.toContain(secret);

      const stored = JSON.stringify(await t.app.db.selectFrom('provision_overrides').selectAll().execute());
      expect(stored).not.toContain(secret);
      expect(stored).not.toContain('Gs-Hidden-42');
      expect(stored).toContain('reader');
      const rows = JSON.stringify(await t.app.db.selectFrom('phones').select('extra').execute());
      expect(rows).not.toContain(secret);
      const audit = await t.app.db.selectFrom('audit_log').select(['command', 'args', 'detail']).where('command', 'in', ['provision set', 'provision diff', 'provision unset']).execute();
      expect(audit.length).toBeGreaterThan(10);
      const auditText = JSON.stringify(audit);
      for (const v of [secret, 'Gs-Hidden-42', 'Other-Pw-123', 'reader', 'Spanish', 'http://10.20.0.9/prov/']) expect(auditText).not.toContain(v);
      expect(auditText).toContain('ldap.password=***');
      for (const m of t.chat.messages) expect(m.text).not.toContain(secret);
      expect((await t.run('provision unset 4002 ldap.password ldap.user')).exitCode).toBe(0);
      expect((await t.run('provision unset 4101 P8023')).exitCode).toBe(0);
    });

    it(`asks before a change reaching more than 10 phones; the pending command is kept sealed`, async () => {
      const before = await get(t, yealinkFile(3));
      const ask = await t.run('provision set model=yealink-t4x ldap.password=Wide-S3cret-9');
      expect(ask.outcome).toBe('confirm');
      expect(said(ask)).toMatch(/set ldap\.password for every Yealink T3x\/T4x\/T5x phone \(model=yealink-t4x\): 12 phones are rendered again \(4001, 4002, 4003, 4004, 4005, …\)/);
      expect(said(ask)).not.toContain('Wide-S3cret-9');
      expect(await get(t, yealinkFile(3))).toBe(before);
      const pending = JSON.stringify(await t.app.db.selectFrom('confirmations').selectAll().execute());
      expect(pending).not.toContain('Wide-S3cret-9');
      const code = /confirm ([A-Z0-9]{6})/.exec(said(ask))![1]!;
      const go = await t.run(`confirm ${code}`);
      expect(go.exitCode, said(go)).toBe(0);
      expect(lineOf(await get(t, yealinkFile(3)), 'ldap.password')).toBe('ldap.password = Wide-S3cret-9');
      // Fewer phones do not ask.
      expect((await t.run('provision unset room=sales model=yealink ldap.password')).outcome).toBe('ok');
      expect((await t.run('provision unset model=yealink ldap.password')).outcome).toBe('confirm');
      expect((await t.run('provision unset model=yealink ldap.password', { confirmed: true })).exitCode).toBe(0);
      expect(noVersion(await get(t, yealinkFile(3)))).toBe(noVersion(before));
    });

    it('a phone provisioned later into a scope gets its overrides; one provisioned again into another room follows it', async () => {
      expect((await t.run('provision set room=annex model=yealink lang.gui=German')).exitCode).toBe(0); // no phone there yet
      const r = await t.run(`provision yealink mac=${colon(yealinkMac(50))} ext=4050 password=Pw#4050abcd room=Annex`);
      expect(r.exitCode, said(r)).toBe(0);
      expect(lineOf(await get(t, yealinkFile(50)), 'lang.gui')).toBe('lang.gui = German');
      const moved = await t.run(`provision yealink mac=${colon(yealinkMac(50))} ext=4050 password=Pw#4050abcd room=Ops`);
      expect(said(moved)).toMatch(/1 updated/);
      expect(lineOf(await get(t, yealinkFile(50)), 'lang.gui')).toBeUndefined();
      expect((await t.run('provision unset room=annex model=yealink lang.gui')).exitCode).toBe(0);
      // Removing a phone forgets the overrides set for it alone; provisioned again, it starts from its scopes.
      expect((await t.run('provision set 4050 lang.gui=Czech')).exitCode).toBe(0);
      expect((await t.run(`provision rm ${colon(yealinkMac(50))}`, { confirmed: true })).exitCode).toBe(0);
      expect(said(await t.run('provision overrides'))).not.toContain('Czech');
      expect((await t.run(`provision yealink mac=${colon(yealinkMac(50))} ext=4050 password=Pw#4050abcd room=Ops`)).exitCode).toBe(0);
      expect(lineOf(await get(t, yealinkFile(50)), 'lang.gui')).toBeUndefined();
    });

    it('provision models names the override keys of each model', async () => {
      const r = said(await t.run('provision models'));
      expect(r).toContain('Override keys (provision set <scope> <key>=<value>):');
      expect(r).toContain('• grandstream-gxp: Grandstream P-values (P followed by digits), e.g. P1362 (language) or P8 (IP mode)');
      expect(r).toMatch(/• fanvil-x1sg: Fanvil text configuration: "MODULE NAME\/Key Name"/);
    });
  });
}

describe('two replicas on one MariaDB store', () => {
  let a: TestApp;
  let b: TestApp;
  const mac = '805ec0ac0001';
  const poll = async (x: TestApp) => {
    await x.app.changes.poll();
    await x.app.changes.poll();
  };
  beforeAll(async () => {
    mysqlUrl();
    a = await makeTestApp({ engine: 'mysql', listen: true, overrides: SITE });
    b = await makeTestApp({ replicaOf: a, listen: true, overrides: SITE });
    const r = await a.run(`provision yealink mac=${colon(mac)} ext=4301 password=Pw#4301abcd room=Lab`);
    expect(r.exitCode, said(r)).toBe(0);
    await poll(b);
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('what one sets (a secret value too) the other serves byte for byte; the store is the truth', async () => {
    expect((await a.run('provision set room=lab lang.gui=Dutch')).exitCode).toBe(0);
    expect((await a.run('provision set 4301 ldap.password=Repl-S3cret-1')).exitCode).toBe(0);
    await poll(b);
    const onA = await get(a, `${mac}.cfg`);
    expect(lineOf(onA, 'lang.gui')).toBe('lang.gui = Dutch');
    expect(lineOf(onA, 'ldap.password')).toBe('ldap.password = Repl-S3cret-1');
    expect(await get(b, `${mac}.cfg`)).toBe(onA);
    expect(b.app.services.provision.get(mac)!.version).toBe(a.app.services.provision.get(mac)!.version);

    // B changes it; A follows. B's listing shows what A set.
    expect(said(await b.run('provision overrides 4301'))).toMatch(/lang\.gui\s+Dutch\s+room lab/);
    expect((await b.run('provision unset room=lab model=yealink lang.gui')).exitCode).toBe(0);
    await poll(a);
    const back = await get(a, `${mac}.cfg`);
    expect(lineOf(back, 'lang.gui')).toBeUndefined();
    expect(back).toBe(await get(b, `${mac}.cfg`));
    // What A would render next from the store is what it serves.
    expect(said(await a.run('provision diff 4301'))).toMatch(/^Nothing would change/);
  });
});

describe('the Fanvil override style follows the configured format', () => {
  it('text: "MODULE/Key" lines in their module; XML: element paths created where missing; both well-formed and idempotent', async () => {
    const drivers = await DriverSet.load();
    const d = drivers.get('fanvil-x1sg')!;
    const style = d.overrides!;
    const p = phone(d, '0c383e0a0b0c', '5001', 'Ana', 'pw');
    const text = style.apply(
      d.render(p, SETTINGS),
      [
        { key: 'PHONE FEATURE MODULE/DST Type', value: '2' },
        { key: 'DSS CONFIG MODULE/DSS Home Page', value: '1' },
      ],
      SETTINGS,
    )[0]!.body;
    expect(text).toContain('DST Type           :2\r\n');
    expect(text).not.toContain('DST Type           :0');
    expect(text).toContain('\r\n<DSS CONFIG MODULE>\r\nDSS Home Page      :1\r\n\r\n<<END OF FILE>>\r\n');
    expect(style.key('phone feature module/DST Type', {})).toEqual({ key: 'PHONE FEATURE MODULE/DST Type' });
    expect(style.key('phone/date/EnableDST', {})).toMatchObject({ problem: expect.stringContaining('is not a Fanvil text configuration key: "MODULE NAME/Key Name"') });

    const xml = { ...SETTINGS, options: { format: 'xml' } };
    expect(style.key('Version', xml.options)).toMatchObject({ problem: expect.stringContaining('cannot be overridden') });
    expect(style.key('PHONE FEATURE MODULE/DST Type', xml.options)).toMatchObject({ problem: expect.stringContaining('is not a Fanvil XML configuration key') });
    const list = [
      { key: 'phone/date/EnableDST', value: '2' },
      { key: 'phone/display/DefaultLanguage', value: 'pt<br>' },
      { key: 'sip/line[2]/DTMFMode', value: '1' },
    ];
    const body = style.apply(d.render(p, xml), list, xml)[0]!.body;
    expect(isXml(body)).toBe(true);
    const parsed = parseXml(body);
    expect(parsed).toMatchObject({ ok: true });
    expect(body).toContain('            <EnableDST>2</EnableDST>\n');
    expect(body).not.toContain('<EnableDST>0</EnableDST>');
    expect(body).toContain('        <display>\n            <DefaultLanguage>pt&lt;br&gt;</DefaultLanguage>\n        </display>\n    </phone>');
    expect(body).toContain('        <line index="2">\n            <DTMFMode>1</DTMFMode>\n        </line>\n    </sip>');
    expect(style.apply([{ ...d.render(p, xml)[0]!, body }], list, xml)[0]!.body).toBe(body);
    // A text key after a switch to XML is left out, not written as garbage.
    expect(style.apply(d.render(p, xml), [{ key: 'PHONE FEATURE MODULE/DST Type', value: '2' }], xml)[0]!.body).toBe(d.render(p, xml)[0]!.body);
  });
});
