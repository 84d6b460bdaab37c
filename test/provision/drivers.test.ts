// The phone drivers on their own: golden files for every fixture phone (the same files the core's sheet and
// HTTP suites compare against), version and line encoding, auth, escaping, validation, user agents and
// model-wide common files. UPDATE_GOLDEN=1 rewrites the golden files from the drivers.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { driver as audiocodes } from '../../drivers/phones/audiocodes-405hd.js';
import { driver as fanvil } from '../../drivers/phones/fanvil-x1sg.js';
import type { Phone, PhoneDriver, ProvisionSettings } from '../../drivers/phones/contract.js';
import { DriverSet } from '../../src/provision/drivers.js';

const GOLDEN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const SETTINGS: ProvisionSettings = {
  configUrl: 'http://10.20.0.5:8080/provision/',
  ntpServer: 'pool.ntp.org',
  timezone: 'America/Sao_Paulo',
  utcOffsetMinutes: -180,
  adminPassword: 'Adm1n!pass',
  version: 1,
  options: {},
};
const XML: ProvisionSettings = { ...SETTINGS, options: { format: 'xml' } };
const AUTH = { user: 'phones', password: 'Pr0v!s10n-secret' };

/** A fixture row as the core normalises it (defaults: server pbx.example.lan, port 5060, line 1). */
function phone(model: PhoneDriver, mac: string, extension: string, name: string, password: string, server = '', room?: string): Phone {
  const p: Phone = { mac, model: model.id, extension, name: name || extension, authUser: extension, password, server: server || 'pbx.example.lan', port: 5060, line: 1, extra: {} };
  if (room) p.room = room;
  return p;
}

// test/fixtures: phones-fanvil-en.csv, phones-fanvil-pt.xlsx, phones-provisionador.csv, phones-mixed-models.csv, phones-audiocodes-pt.csv
const FANVIL_PHONES: Phone[] = [
  phone(fanvil, '0c383e4d210a', '2301', 'Front Office', 'Vt6@pL3nq8', 'pbx.example.lan', 'Atrium'),
  phone(fanvil, '0c383e4d210b', '2302', 'Moreau, Claire', 'H5#ws9Kdx2', '', '14'),
  phone(fanvil, '0c383e4d210c', '2303', 'Help Desk', 'Qm3$zr8Fy6', 'pbx.example.lan', 'Helpdesk'),
  phone(fanvil, '0c383e4d210d', '2304', 'Loading Dock', 'Bn2%tc7Gv5', 'pbx.example.lan', 'Dock'),
  phone(fanvil, '0c383e5e3201', '2411', 'Secretária', 'Tz5#2411kq', 'pbx.example.lan', 'Pátio'),
  phone(fanvil, '0c383e5e3202', '2412', 'Almoxarifado', 'Tz5#2412kq', '', '1º andar'),
  phone(fanvil, '0c383e5e3203', '2413', 'Gerência', 'Tz5#2413kq', 'pbx.example.lan', 'Galpão Norte'),
  phone(fanvil, '0c383e816501', '2741', '', 'Pv#2741abcd', 'pbx.example.lan'),
  phone(fanvil, '0c383e816502', '2742', '', 'Pv#2742abcd', 'pbx.example.lan'),
  phone(fanvil, '0c383e705401', '2631', 'Mail Room', 'Mx!2631abcd'),
];
const AUDIOCODES_PHONES: Phone[] = [
  phone(audiocodes, '00908f705402', '2632', 'Night Shift', 'Mx!2632abcd'),
  phone(audiocodes, '00908f6f4301', '2521', 'Conceição Brandão', 'Ac#2521vMx', 'pbx.example.lan', 'Expedição'),
  phone(audiocodes, '00908f6f4302', '2522', 'Lúcia Gonçalves', 'Ac#2522wNy', 'pbx.example.lan', 'Jurídico'),
  phone(audiocodes, '00908f6f4303', '2523', 'Sala de Vídeo', 'Ac#2523xPz', '', 'Auditório 2'),
];

const GOLDEN_SETS: [dir: string, driver: PhoneDriver, settings: ProvisionSettings, phones: Phone[]][] = [
  ['fanvil-x1sg', fanvil, SETTINGS, FANVIL_PHONES],
  ['fanvil-x1sg-xml', fanvil, XML, FANVIL_PHONES],
  ['audiocodes-405hd', audiocodes, SETTINGS, AUDIOCODES_PHONES],
];

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** Well-formed XML or the parser's error. */
function parseXml(xml: string): { ok: true; texts: string[] } | { ok: false; error: string } {
  const texts: string[] = [];
  const parser = new SaxesParser();
  let error: string | undefined;
  parser.on('error', (e) => {
    error ??= e.message;
  });
  parser.on('text', (t) => texts.push(t));
  parser.write(xml).close();
  return error ? { ok: false, error } : { ok: true, texts };
}

function fanvilVersionOf(body: string): number {
  const m = /^<<VOIP CONFIG FILE>>Version:(\d+\.\d+)/.exec(body) ?? /<Version>(\d+\.\d+)<\/Version>/.exec(body);
  if (!m) throw new Error('no version field');
  return Number(m[1]);
}

describe('phone drivers: golden files', () => {
  for (const [dir, driver, settings, phones] of GOLDEN_SETS) {
    describe(dir, () => {
      for (const p of phones) {
        it(`${p.mac} (ext ${p.extension}) renders exactly its golden file`, () => {
          expect(driver.validate(p)).toEqual([]);
          const files = driver.render(p, settings);
          expect(files.map((f) => f.name)).toEqual(driver.fileNames(p.mac));
          for (const f of files) {
            const file = path.join(GOLDEN_DIR, dir, f.name);
            if (UPDATE) {
              fs.mkdirSync(path.dirname(file), { recursive: true });
              fs.writeFileSync(file, f.body);
            }
            expect(Buffer.from(f.body, 'utf8').equals(fs.readFileSync(file)), `${dir}/${f.name} differs from its golden file`).toBe(true);
          }
        });
      }
    });
  }
});

describe('Fanvil X1SG driver', () => {
  const reception = FANVIL_PHONES[0]!;

  it('text format: 64-character version line, the account on SIP1, NTP, zone in 15-minute steps, admin, auto-update, end marker', () => {
    const body = fanvil.render(reception, SETTINGS)[0]!.body;
    const lines = body.split('\r\n');
    expect(lines[0]).toBe('<<VOIP CONFIG FILE>>Version:2.0001'.padEnd(64));
    expect(body).toContain('SIP1 Phone Number  :2301\r\n');
    expect(body).toContain('SIP1 Display Name  :Front Office\r\n');
    expect(body).toContain('SIP1 Register Addr :pbx.example.lan\r\n');
    expect(body).toContain('SIP1 Register Port :5060\r\n');
    expect(body).toContain('SIP1 Register User :2301\r\n');
    expect(body).toContain('SIP1 Register Pswd :Vt6@pL3nq8\r\n');
    expect(body).toContain('SIP1 Enable Reg    :1\r\n');
    expect(body).toContain('SNTP Server        :pool.ntp.org\r\n');
    expect(body).toContain('Time Zone          :-12\r\n');
    expect(body).toContain('Account1 Password  :Adm1n!pass\r\n');
    expect(body).toContain('Flash Server IP    :http://10.20.0.5:8080/provision/\r\n');
    expect(body).toContain('Flash Protocol     :4\r\n');
    expect(body.endsWith('<<END OF FILE>>\r\n')).toBe(true);
    expect(body).not.toMatch(/SIP2/);
  });

  it('the zone follows the offset in 15-minute steps', () => {
    const tz = (m: number) => /Time Zone          :(-?\d+)\r\nTime Zone Name     :(\S+)\r\n/.exec(fanvil.render(reception, { ...SETTINGS, utcOffsetMinutes: m })[0]!.body)!.slice(1);
    expect(tz(-180)).toEqual(['-12', 'UTC-03']);
    expect(tz(60)).toEqual(['4', 'UTC+1']);
    expect(tz(330)).toEqual(['22', 'UTC+5:30']);
    expect(tz(0)).toEqual(['0', 'UTC']);
  });

  for (const [format, settings] of [
    ['text', SETTINGS],
    ['xml', XML],
  ] as const) {
    it(`${format}: version 2 has a higher version field than version 1 and a different body`, () => {
      const v1 = fanvil.render(reception, settings)[0]!.body;
      const v2 = fanvil.render(reception, { ...settings, version: 2 })[0]!.body;
      expect(fanvilVersionOf(v1)).toBe(2.0001);
      expect(fanvilVersionOf(v2)).toBeGreaterThan(fanvilVersionOf(v1));
      expect(v2).not.toBe(v1);
      // Past 9999 the version carries into the integer part, still increasing.
      const big = [9998, 9999, 10000, 10001].map((version) => fanvilVersionOf(fanvil.render(reception, { ...settings, version })[0]!.body));
      expect([...big].sort((a, b) => a - b)).toEqual(big);
      expect(new Set(big).size).toBe(4);
    });

    it(`${format}: line 2 uses SIP2`, () => {
      const body = fanvil.render({ ...reception, line: 2 }, settings)[0]!.body;
      if (format === 'text') {
        expect(body).toContain('SIP2 Register User :2301\r\n');
        expect(body).not.toMatch(/SIP1 /);
      } else {
        expect(body).toContain('<line index="2">');
        expect(body).not.toContain('<line index="1">');
      }
    });

    it(`${format}: basic auth goes into the auto-update server user and password`, () => {
      const without = fanvil.render(reception, settings)[0]!.body;
      const body = fanvil.render(reception, { ...settings, auth: AUTH })[0]!.body;
      if (format === 'text') {
        expect(without).toContain('Default Username   :\r\nDefault Password   :\r\n');
        expect(body).toContain('Default Username   :phones\r\nDefault Password   :Pr0v!s10n-secret\r\n');
      } else {
        expect(body).toContain('<DefaultUsername>phones</DefaultUsername>');
        expect(body).toContain('<DefaultPassword>Pr0v!s10n-secret</DefaultPassword>');
      }
      expect(count(body, AUTH.password)).toBe(1);
    });

    it(`${format}: each secret appears exactly once, where the vendor keeps it`, () => {
      for (const p of FANVIL_PHONES) {
        const body = fanvil.render(p, settings)[0]!.body;
        expect(count(body, p.password), p.mac).toBe(1);
        expect(count(body, SETTINGS.adminPassword), p.mac).toBe(1);
      }
    });

    it(`${format}: https provisioning URLs use Flash Protocol 5`, () => {
      const body = fanvil.render(reception, { ...settings, configUrl: 'https://prov.example.lan/provision/' })[0]!.body;
      expect(body).toMatch(format === 'text' ? /Flash Protocol     :5\r\n/ : /<FlashProtocol>5<\/FlashProtocol>/);
    });
  }

  it('xml: <sysConf> with escaped &<>"\' that still parses, and accents in UTF-8', () => {
    const tricky = { ...reception, name: `Tom & Jerry <R&D> "Q" 'x'`, password: `p&<>"'w0rd` };
    expect(fanvil.validate(tricky)).toEqual([]);
    const f = fanvil.render(tricky, XML)[0]!;
    expect(f.contentType).toMatch(/xml/);
    expect(f.body.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<sysConf>\n')).toBe(true);
    expect(f.body).toContain('<DisplayName>Tom &amp; Jerry &lt;R&amp;D&gt; &quot;Q&quot; &apos;x&apos;</DisplayName>');
    expect(f.body).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
    const parsed = parseXml(f.body);
    expect(parsed).toMatchObject({ ok: true });
    if (parsed.ok) {
      expect(parsed.texts).toContain(tricky.name);
      expect(parsed.texts).toContain(tricky.password);
    }
    const accented = fanvil.render(FANVIL_PHONES[4]!, XML)[0]!.body;
    expect(accented).toContain('<DisplayName>Secretária</DisplayName>');
    expect(parseXml(accented)).toMatchObject({ ok: true });
  });

  it('accepts accented names and renders them in UTF-8', () => {
    for (const name of ['João Conceição', 'Inês Araújo']) {
      const p = { ...reception, name };
      expect(fanvil.validate(p)).toEqual([]);
      expect(fanvil.render(p, SETTINGS)[0]!.body).toContain(`SIP1 Display Name  :${name}\r\n`);
    }
  });

  it('validate names what the format cannot carry, field by field', () => {
    const problems = (p: Partial<Phone>) => fanvil.validate({ ...reception, ...p });
    expect(problems({ name: 'Front\nDesk' })).toEqual([{ field: 'name', message: 'has a line break; Fanvil config lines cannot carry it' }]);
    expect(problems({ name: 'Front\rDesk' })[0]?.field).toBe('name');
    expect(problems({ password: 'abc\u0007def' })).toEqual([{ field: 'password', message: 'has a control character (code 7); Fanvil config lines cannot carry it' }]);
    expect(problems({ name: ' Front Office' })).toEqual([{ field: 'name', message: 'starts or ends with a space, which Fanvil phones strip from config lines' }]);
    expect(problems({ password: 'secret ' })[0]?.field).toBe('password');
    expect(problems({ name: 'x'.repeat(33) })).toEqual([{ field: 'name', message: 'is 33 characters long; a Fanvil display name holds at most 32' }]);
    expect(problems({ name: 'ç'.repeat(32) })).toEqual([]);
    expect(problems({ password: 'p'.repeat(65) })[0]).toMatchObject({ field: 'password', message: expect.stringMatching(/at most 64/) });
    expect(problems({ extension: '10 01' })).toEqual([{ field: 'extension', message: '"10 01" may only hold letters, digits and . * # + _ - (1 to 32 of them)' }]);
    expect(problems({ extension: '1001:1' })[0]?.field).toBe('extension');
    expect(problems({ authUser: 'user@pbx' })[0]?.field).toBe('auth_user');
    expect(problems({ server: 'pbx example' })[0]).toMatchObject({ field: 'server', message: expect.stringMatching(/not a host name or IPv4/) });
    expect(problems({ server: `${'a'.repeat(61)}.lan` })[0]).toMatchObject({ field: 'server', message: expect.stringMatching(/at most 64/) });
    expect(problems({ server: '10.20.0.2' })).toEqual([]);
    expect(problems({ line: 3 })).toEqual([{ field: 'line', message: 'line 3: Fanvil X1SG has 2 lines' }]);
    expect(problems({ line: 2 })).toEqual([]);
    expect(problems({ port: 70000 })[0]?.field).toBe('port');
    expect(
      problems({ name: 'A\nB', extension: '1 2', line: 3 })
        .map((p) => p.field)
        .sort(),
    ).toEqual(['extension', 'line', 'name']);
  });

  it('parseUserAgent reads model, firmware and MAC, leniently about the MAC separators', () => {
    expect(fanvil.parseUserAgent('Fanvil X1SG 2.12.1 0c383e123456')).toEqual({ vendor: 'Fanvil', model: 'X1SG', firmware: '2.12.1', mac: '0c383e123456' });
    expect(fanvil.parseUserAgent('Fanvil X1S 2.4.0.5487 0C:38:3E:12:34:56')).toEqual({ vendor: 'Fanvil', model: 'X1S', firmware: '2.4.0.5487', mac: '0c383e123456' });
    expect(fanvil.parseUserAgent('Fanvil X1SP 2.12.1 0c-38-3e-12-34-56')?.mac).toBe('0c383e123456');
    expect(fanvil.parseUserAgent('Fanvil X6U Pro 0.0.10 0c383e2cd782')).toEqual({ vendor: 'Fanvil', model: 'X6U-Pro', firmware: '0.0.10', mac: '0c383e2cd782' });
    expect(fanvil.parseUserAgent('Fanvil X1SG 2.12.1')).toEqual({ vendor: 'Fanvil', model: 'X1SG', firmware: '2.12.1' });
    expect(fanvil.parseUserAgent('AUDC-IPPhone/2.2.12.126 (405HD; 00908FAABB01)')).toBeNull();
    expect(fanvil.parseUserAgent('Mozilla/5.0')).toBeNull();
    expect(fanvil.parseUserAgent('')).toBeNull();
  });

  it("commonFile answers the X1S family's model files with a minimal valid file, and nothing else", () => {
    const { version: _v, ...common } = SETTINGS;
    for (const name of ['f0X1SGhw1.100.cfg', 'f0X1shw1.100.cfg', 'F0X1SPHW1.100.CFG']) {
      const f = fanvil.commonFile!(name, common);
      expect(f, name).not.toBeNull();
      expect(f!.name).toBe(name);
      expect(f!.contentType).not.toMatch(/html/);
      expect(f!.body.startsWith('<<VOIP CONFIG FILE>>Version:2.0001')).toBe(true);
      expect(f!.body).toContain('<AUTOUPDATE CONFIG MODULE>\r\n');
      expect(f!.body).toContain('Flash Server IP    :http://10.20.0.5:8080/provision/\r\n');
      expect(f!.body.endsWith('<<END OF FILE>>\r\n')).toBe(true);
    }
    const xml = fanvil.commonFile!('f0X1SGhw1.100.cfg', { ...common, options: { format: 'xml' } })!;
    expect(parseXml(xml.body)).toMatchObject({ ok: true });
    expect(xml.body).toContain('<FlashServerIP>http://10.20.0.5:8080/provision/</FlashServerIP>');
    // A common file is the same for every phone: no credentials in it.
    expect(fanvil.commonFile!('f0X1SGhw1.100.cfg', { ...common, auth: AUTH })!.body).not.toContain(AUTH.password);
    for (const name of ['../../etc/passwd', '0c383e123457.cfg', '0c383e123456.cfg', 'f0X3shw1.100.cfg', 'index.html', '']) {
      expect(fanvil.commonFile!(name, common), name).toBeNull();
    }
  });

  it('fileNames(mac) are the names render() writes: <mac>.cfg in lower case', () => {
    expect(fanvil.fileNames('0c383e123456')).toEqual(['0c383e123456.cfg']);
    for (const settings of [SETTINGS, XML]) expect(fanvil.render(reception, settings).map((f) => f.name)).toEqual(fanvil.fileNames(reception.mac));
  });

  it('render is deterministic', () => {
    expect(fanvil.render(reception, SETTINGS)).toEqual(fanvil.render(reception, SETTINGS));
  });
});

describe('AudioCodes 405HD driver', () => {
  const conceicao = AUDIOCODES_PHONES[1]!;

  it('renders <MAC>.cfg key=value lines: line 0, registrar/proxy, NTP and zone, admin, static provisioning', () => {
    const [f] = audiocodes.render(conceicao, SETTINGS);
    expect(f!.name).toBe('00908F6F4301.cfg');
    const body = f!.body;
    for (const line of [
      'voip/line/0/enabled=1',
      'voip/line/0/id=2521',
      'voip/line/0/description=Conceição Brandão',
      'voip/line/0/auth_name=2521',
      'voip/line/0/auth_password=Ac#2521vMx',
      'voip/signalling/sip/proxy_address=pbx.example.lan',
      'voip/signalling/sip/proxy_port=5060',
      'voip/signalling/sip/sip_registrar/addr=pbx.example.lan',
      'voip/signalling/sip/sip_registrar/port=5060',
      'system/ntp/enabled=1',
      'system/ntp/primary_server_address=pool.ntp.org',
      'system/ntp/gmt_offset=-03:00',
      'system/password=Adm1n!pass',
      'provisioning/method=STATIC',
      'provisioning/configuration/url=http://10.20.0.5:8080/provision/',
    ])
      expect(body.split('\n'), line).toContain(line);
    for (const l of body.split('\n').filter((l) => l && !l.startsWith(';'))) expect(l).toMatch(/^[a-z0-9_/]+=[^\r\n]*$/);
    expect(body.endsWith('\n')).toBe(true);
  });

  it('the zone is written as ±HH:MM', () => {
    const off = (m: number) => /system\/ntp\/gmt_offset=(\S+)/.exec(audiocodes.render(conceicao, { ...SETTINGS, utcOffsetMinutes: m })[0]!.body)![1];
    expect([off(-180), off(0), off(330), off(-570)]).toEqual(['-03:00', '+00:00', '+05:30', '-09:30']);
  });

  it('version 2 renders a higher version than version 1 and a different body', () => {
    const v = (version: number) => audiocodes.render(conceicao, { ...SETTINGS, version })[0]!.body;
    const num = (b: string) => Number(/^; config version (\d+)$/m.exec(b)![1]);
    expect(num(v(2))).toBeGreaterThan(num(v(1)));
    expect(v(2)).not.toBe(v(1));
  });

  it('line 2 maps to voip/line/1', () => {
    const body = audiocodes.render({ ...conceicao, line: 2 }, SETTINGS)[0]!.body;
    expect(body).toContain('voip/line/1/auth_name=2521\n');
    expect(body).not.toContain('voip/line/0/');
  });

  it('basic auth is embedded in the provisioning URL, percent-encoded', () => {
    const body = audiocodes.render(conceicao, { ...SETTINGS, auth: { user: 'phones', password: 'p@ss:w/rd' } })[0]!.body;
    expect(body).toContain('provisioning/configuration/url=http://phones:p%40ss%3Aw%2Frd@10.20.0.5:8080/provision/\n');
    expect(new URL(/configuration\/url=(\S+)/.exec(body)![1]!).password).toBe('p%40ss%3Aw%2Frd');
    const plain = audiocodes.render(conceicao, { ...SETTINGS, auth: AUTH })[0]!.body;
    expect(count(plain, AUTH.password)).toBe(1);
  });

  it('each secret appears exactly once', () => {
    for (const p of AUDIOCODES_PHONES) {
      const body = audiocodes.render(p, SETTINGS)[0]!.body;
      expect(count(body, p.password), p.mac).toBe(1);
      expect(count(body, SETTINGS.adminPassword), p.mac).toBe(1);
    }
  });

  it('validate names what key=value lines cannot carry', () => {
    const problems = (p: Partial<Phone>) => audiocodes.validate({ ...conceicao, ...p });
    expect(problems({})).toEqual([]);
    expect(problems({ name: 'Sala\r\nA' })).toEqual([{ field: 'name', message: 'has a line break; AudioCodes key=value lines cannot carry it' }]);
    expect(problems({ password: 'Senha\n1' })[0]?.field).toBe('password');
    expect(problems({ password: ' Senha1' })).toEqual([{ field: 'password', message: 'starts or ends with a space, which AudioCodes phones strip from key=value lines' }]);
    expect(problems({ password: 'Sen;ha1' })).toEqual([{ field: 'password', message: 'contains ";", which starts a comment in AudioCodes configuration files' }]);
    expect(problems({ password: '{abc}' })[0]).toMatchObject({ field: 'password', message: expect.stringMatching(/encrypted/) });
    expect(problems({ name: 'n'.repeat(33) })[0]).toMatchObject({ field: 'name', message: expect.stringMatching(/at most 32/) });
    expect(problems({ extension: '2001/1' })[0]?.field).toBe('extension');
    expect(problems({ line: 3 })).toEqual([{ field: 'line', message: 'line 3: AudioCodes 405HD has 2 lines' }]);
  });

  it('parseUserAgent reads firmware, model and MAC; other vendors are not it', () => {
    expect(audiocodes.parseUserAgent('AUDC-IPPhone/2.2.12.126 (405HD; 00908FAABB01)')).toEqual({ vendor: 'AudioCodes', model: '405HD', firmware: '2.2.12.126', mac: '00908faabb01' });
    expect(audiocodes.parseUserAgent('AUDC-IPPhone/3.4.4.1000 (445HD; 00:90:8F:AA:BB:02)')).toEqual({ vendor: 'AudioCodes', model: '445HD', firmware: '3.4.4.1000', mac: '00908faabb02' });
    expect(audiocodes.parseUserAgent('AUDC-IPPhone/1.2.1_build_6')).toEqual({ vendor: 'AudioCodes', model: '400HD', firmware: '1.2.1_build_6' });
    expect(audiocodes.parseUserAgent('Fanvil X1SG 2.12.1 0c383e123456')).toBeNull();
    expect(audiocodes.parseUserAgent('Mozilla/5.0')).toBeNull();
  });

  it('commonFile answers <model>.cfg with a minimal valid file, and nothing else', () => {
    const { version: _v, ...common } = SETTINGS;
    for (const name of ['405HD.cfg', '405hd.cfg', '445HD.cfg']) {
      const f = audiocodes.commonFile!(name, common)!;
      expect(f, name).not.toBeNull();
      expect(f.name).toBe(name);
      expect(f.contentType).not.toMatch(/html/);
      expect(f.body.split('\n')).toContain('provisioning/configuration/url=http://10.20.0.5:8080/provision/');
      for (const l of f.body.split('\n').filter((l) => l && !l.startsWith(';'))) expect(l).toMatch(/^[a-z0-9_/]+=[^\r\n]*$/);
    }
    expect(audiocodes.commonFile!('405HD.cfg', { ...common, auth: AUTH })!.body).not.toContain(AUTH.password);
    for (const name of ['../../etc/passwd', '00908FAABB02.cfg', '00908faabb01.cfg', 'f0X1SGhw1.100.cfg', '']) {
      expect(audiocodes.commonFile!(name, common), name).toBeNull();
    }
  });

  it('fileNames(mac) are the names render() writes: <MAC>.cfg in upper case', () => {
    expect(audiocodes.fileNames('00908f6f4301')).toEqual(['00908F6F4301.cfg']);
    for (const p of AUDIOCODES_PHONES) expect(audiocodes.render(p, SETTINGS).map((f) => f.name)).toEqual(audiocodes.fileNames(p.mac));
  });
});

describe('both drivers together', () => {
  it('load from drivers/phones/ and answer to their ids, labels and aliases without clashing', async () => {
    const set = await DriverSet.load();
    expect(set.list.map((d) => d.id)).toEqual(expect.arrayContaining(['audiocodes-405hd', 'fanvil-x1sg'])); // and every other driver file
    for (const name of ['fanvil-x1sg', 'Fanvil X1SG', 'x1sg', 'X1S', 'fanvil']) expect(set.find(name)?.id, name).toBe('fanvil-x1sg');
    for (const name of ['audiocodes-405hd', '405hd', '405', 'AudioCodes', '400HD']) expect(set.find(name)?.id, name).toBe('audiocodes-405hd');
    expect(set.byOui('0c383e123456').map((d) => d.id)).toEqual(['fanvil-x1sg']);
    expect(set.byOui('00a859000001').map((d) => d.id)).toEqual(['fanvil-x1sg']);
    expect(set.byOui('00908faabb01').map((d) => d.id)).toEqual(['audiocodes-405hd']);
    expect(set.parseUserAgent('Fanvil X1SG 2.12.1 0c383e123456')?.driver.id).toBe('fanvil-x1sg');
    expect(set.parseUserAgent('AUDC-IPPhone/2.2.12.126 (405HD; 00908FAABB01)')?.driver.id).toBe('audiocodes-405hd');
    expect(set.parseUserAgent('Mozilla/5.0 (X11; Linux x86_64)')).toBeNull();
  });

  it("neither driver claims the other's common files or user agents", () => {
    const { version: _v, ...common } = SETTINGS;
    expect(fanvil.commonFile!('405HD.cfg', common)).toBeNull();
    expect(audiocodes.commonFile!('f0X1SGhw1.100.cfg', common)).toBeNull();
  });
});
