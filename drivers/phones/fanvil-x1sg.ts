// Fanvil X1S / X1SG / X1SP (2 SIP lines). Renders <mac>.cfg in the sectioned text format (default) or the
// <sysConf> XML format (option format: 'xml'); firmware generations differ in which one they parse.
//
// Sources followed (public provisioning templates of the same firmware family, no vendor PDF at hand):
// - Wazo provd Fanvil plugin (wazo-platform/wazo-provd-plugins, plugins/wazo_fanvil): sysConf XML element
//   names (<sip><line index>, <phone><date>, <web><account index>, <ap>), "f0<model>hw1.100.cfg" common file
//   names (f0X3shw1.100.cfg, f0X3sghw1.100.cfg…), the user agent "Fanvil X4 2.10.2.6887 0c383e07e16c", the
//   time zone table (Time Zone = offset in 15-minute steps: UTC-3 → -12, name "UTC-03"), <mac>.cfg in lower
//   case and UTF-8.
// - Text exports of X-series 2.x firmware in several FreePBX/PBX provisioning templates: the
//   "<<VOIP CONFIG FILE>>Version:2.0000" first line padded with spaces (64 characters before CRLF, as
//   ZeroTouchSIP cites the vendor's provisioning guide), "Key␣padded to 19:value" lines, <SIP CONFIG MODULE>
//   "SIP1 Register Pswd", <PHONE FEATURE MODULE> "--DateTime Config--" (Enable SNTP, SNTP Server, Time Zone,
//   Time Zone Name, DST Type), <MMI CONFIG MODULE> "Account1 Name/Password/Level", <AUTOUPDATE CONFIG MODULE>
//   "Default Username/Default Password" (credentials for the provisioning server), "Flash Server IP",
//   "Flash Protocol" (4 = HTTP, 5 = HTTPS), "Flash Mode", "Flash Interval", ending "<<END OF FILE>>".
// - Version: the phone applies a file only when its version is higher than the running one; we write
//   2.NNNN (settings.version, 4 digits, as in Fanvil's own "2.0002" examples), carrying into the integer part
//   past 9999 so both numeric and string comparison keep increasing.
// - DST: the core passes only the standard offset, so DST is switched off (right for America/Sao_Paulo).
// - Overrides (`provision set`) follow the configured format. Text: "MODULE NAME/Key Name" (e.g.
//   "PHONE FEATURE MODULE/DST Type"): the key's line in that module is replaced, or added at the module's end
//   (a missing module is added before <<END OF FILE>>). XML: an element path under <sysConf>, "[n]" for an
//   index attribute (phone/date/EnableDST, sip/line[1]/DTMFMode): the element is replaced or created with the
//   missing elements of its path. Keys of the other format are left out (after a format change). The line
//   credentials, the admin account, the auto-provisioning server and credentials are Switchboard's; the
//   version cannot be overridden (the phone applies a file only when it rises).
import type { FieldProblem, Override, OverrideStyle, Phone, PhoneDriver, ProvisionSettings, RenderedFile, UserAgentInfo } from './contract.js';
import { basicKeyProblem, lineValueProblem, looksSecret, parsePath, setXmlPath, showKey } from './override-styles.js';
import { commonProblems, normMac, xmlEscape } from './util.js';

const MAX_LINES = 2;
const TEXT_TYPE = 'text/plain; charset=utf-8';
const XML_TYPE = 'application/xml; charset=utf-8';
const KEY_WIDTH = 19;
const HEADER_WIDTH = 64;
/** Model-wide files the X1S family probes besides <mac>.cfg ("f0" + model + "hw1.100.cfg"), lower-cased. */
const COMMON_FILES = new Set(['f0x1shw1.100.cfg', 'f0x1sghw1.100.cfg', 'f0x1sphw1.100.cfg']);

type Format = 'text' | 'xml';
type CommonSettings = Omit<ProvisionSettings, 'version'>;

function formatOf(options: Record<string, unknown>): Format {
  return options.format === 'xml' ? 'xml' : 'text';
}

/** settings.version → Fanvil's "2.0001" style, always increasing with the version. */
function fanvilVersion(version: number): string {
  const v = Math.max(1, Math.floor(version));
  return `${2 + Math.floor(v / 10000)}.${String(v % 10000).padStart(4, '0')}`;
}

/** Offset in minutes → Fanvil's Time Zone (15-minute steps) and Time Zone Name (as in Wazo's table). */
function timeZone(offsetMinutes: number): { steps: number; name: string } {
  const steps = Math.round(offsetMinutes / 15);
  const abs = Math.abs(steps * 15);
  const h = Math.floor(abs / 60);
  const m = abs % 60;
  if (steps === 0) return { steps, name: 'UTC' };
  const hours = steps < 0 ? String(h).padStart(2, '0') : String(h);
  return { steps, name: `UTC${steps < 0 ? '-' : '+'}${hours}${m ? `:${String(m).padStart(2, '0')}` : ''}` };
}

/** Flash Protocol for the provisioning URL's scheme: 1 FTP, 2 TFTP, 4 HTTP, 5 HTTPS. */
function flashProtocol(url: string): number {
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  return scheme === 'https' ? 5 : scheme === 'tftp' ? 2 : scheme === 'ftp' ? 1 : 4;
}

const kv = (key: string, value: string | number) => `${key.padEnd(KEY_WIDTH)}:${value}`;

function autoUpdateText(s: CommonSettings, withAuth: boolean): string[] {
  return [
    '<AUTOUPDATE CONFIG MODULE>',
    ...(withAuth ? [kv('Default Username', s.auth?.user ?? ''), kv('Default Password', s.auth?.password ?? '')] : []),
    kv('Download CommonConf', 1),
    kv('Flash Server IP', s.configUrl),
    kv('Flash Protocol', flashProtocol(s.configUrl)),
    kv('Flash Mode', 1),
    kv('Flash Interval', 1),
  ];
}

function autoUpdateXml(s: CommonSettings, withAuth: boolean): string[] {
  return [
    '    <ap>',
    ...(withAuth ? [`        <DefaultUsername>${xmlEscape(s.auth?.user ?? '')}</DefaultUsername>`, `        <DefaultPassword>${xmlEscape(s.auth?.password ?? '')}</DefaultPassword>`] : []),
    '        <DownloadCommonConf>1</DownloadCommonConf>',
    `        <FlashServerIP>${xmlEscape(s.configUrl)}</FlashServerIP>`,
    `        <FlashProtocol>${flashProtocol(s.configUrl)}</FlashProtocol>`,
    '        <FlashMode>1</FlashMode>',
    '        <FlashInterval>1</FlashInterval>',
    '    </ap>',
  ];
}

const textHeader = (version: string) => `<<VOIP CONFIG FILE>>Version:${version}`.padEnd(HEADER_WIDTH);
const crlf = (lines: string[]) => `${lines.join('\r\n')}\r\n`;
const lf = (lines: string[]) => `${lines.join('\n')}\n`;

function renderText(phone: Phone, s: ProvisionSettings): string {
  const sip = `SIP${phone.line}`;
  const tz = timeZone(s.utcOffsetMinutes);
  return crlf([
    textHeader(fanvilVersion(s.version)),
    '',
    '<SIP CONFIG MODULE>',
    kv('--SIP Line List--', ''),
    kv(`${sip} Phone Number`, phone.extension),
    kv(`${sip} Display Name`, phone.name),
    kv(`${sip} Register Addr`, phone.server),
    kv(`${sip} Register Port`, phone.port),
    kv(`${sip} Register User`, phone.authUser),
    kv(`${sip} Register Pswd`, phone.password),
    kv(`${sip} Enable Reg`, 1),
    '',
    '<PHONE FEATURE MODULE>',
    kv('--DateTime Config--', ''),
    kv('Enable SNTP', 1),
    kv('SNTP Server', s.ntpServer),
    kv('Time Zone', tz.steps),
    kv('Time Zone Name', tz.name),
    kv('DST Type', 0),
    '',
    '<MMI CONFIG MODULE>',
    kv('--MMI Account--', ''),
    kv('Account1 Name', 'admin'),
    kv('Account1 Password', s.adminPassword),
    kv('Account1 Level', 10),
    '',
    ...autoUpdateText(s, true),
    '',
    '<<END OF FILE>>',
  ]);
}

function renderXml(phone: Phone, s: ProvisionSettings): string {
  const tz = timeZone(s.utcOffsetMinutes);
  const e = xmlEscape;
  return lf([
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<sysConf>',
    `    <Version>${fanvilVersion(s.version)}</Version>`,
    '    <sip>',
    `        <line index="${phone.line}">`,
    `            <PhoneNumber>${e(phone.extension)}</PhoneNumber>`,
    `            <DisplayName>${e(phone.name)}</DisplayName>`,
    `            <RegisterAddr>${e(phone.server)}</RegisterAddr>`,
    `            <RegisterPort>${phone.port}</RegisterPort>`,
    `            <RegisterUser>${e(phone.authUser)}</RegisterUser>`,
    `            <RegisterPswd>${e(phone.password)}</RegisterPswd>`,
    '            <EnableReg>1</EnableReg>',
    '        </line>',
    '    </sip>',
    '    <phone>',
    '        <date>',
    '            <EnableSNTP>1</EnableSNTP>',
    `            <SNTPServer>${e(s.ntpServer)}</SNTPServer>`,
    `            <TimeZone>${tz.steps}</TimeZone>`,
    `            <TimeZoneName>${e(tz.name)}</TimeZoneName>`,
    '            <EnableDST>0</EnableDST>',
    '        </date>',
    '    </phone>',
    '    <web>',
    '        <account index="1">',
    '            <Name>admin</Name>',
    `            <Password>${e(s.adminPassword)}</Password>`,
    '            <Level>10</Level>',
    '        </account>',
    '    </web>',
    ...autoUpdateXml(s, true),
    '</sysConf>',
  ]);
}

function validate(phone: Phone): FieldProblem[] {
  // The text format is the stricter of the two (the XML format escapes everything else), and validate()
  // does not know which format is configured, so these limits hold for both.
  return commonProblems(phone, {
    vendor: 'Fanvil',
    lineFormat: 'config lines',
    label: 'Fanvil X1SG',
    maxLines: MAX_LINES,
    maxName: 32,
    maxPassword: 64,
    maxServer: 64,
  });
}

function fileNames(mac: string): string[] {
  return [`${mac.toLowerCase()}.cfg`];
}

function render(phone: Phone, settings: ProvisionSettings): RenderedFile[] {
  const xml = formatOf(settings.options) === 'xml';
  return [{ name: fileNames(phone.mac)[0]!, contentType: xml ? XML_TYPE : TEXT_TYPE, body: xml ? renderXml(phone, settings) : renderText(phone, settings) }];
}

function commonFile(name: string, settings: CommonSettings): RenderedFile | null {
  if (!COMMON_FILES.has(name.toLowerCase())) return null;
  // Minimal valid file: the version line, where to fetch from (so a phone found via DHCP keeps the URL),
  // the end marker. No credentials: common files are the same for every phone.
  const version = fanvilVersion(1);
  if (formatOf(settings.options) === 'xml') {
    return { name, contentType: XML_TYPE, body: lf(['<?xml version="1.0" encoding="UTF-8"?>', '<sysConf>', `    <Version>${version}</Version>`, ...autoUpdateXml(settings, false), '</sysConf>']) };
  }
  return { name, contentType: TEXT_TYPE, body: crlf([textHeader(version), '', ...autoUpdateText(settings, false), '', '<<END OF FILE>>']) };
}

// "Fanvil X1SG 2.12.1 0c383e123456"; the model may carry a space ("Fanvil X6U Pro 0.0.10 0c383e2cd782"),
// the MAC any separators.
function parseUserAgent(ua: string): UserAgentInfo | null {
  const tokens = ua.trim().split(/\s+/);
  if (tokens.length < 2 || tokens[0]!.toLowerCase() !== 'fanvil') return null;
  const rest = tokens.slice(1);
  const mac = rest.length > 1 ? normMac(rest[rest.length - 1]) : undefined;
  if (mac) rest.pop();
  const firmware = rest.length > 1 && /^\d[\w.-]*$/.test(rest[rest.length - 1]!) ? rest.pop() : undefined;
  const info: UserAgentInfo = { vendor: 'Fanvil', model: rest.join('-') };
  if (firmware) info.firmware = firmware;
  if (mac) info.mac = mac;
  return info;
}

const TEXT_FORMAT = 'Fanvil text configuration';
const XML_FORMAT = 'Fanvil XML configuration';
const TEXT_KEY_RE = /^([A-Za-z0-9][A-Za-z0-9 ]*MODULE)\/([A-Za-z0-9-][A-Za-z0-9 ._#()+-]*)$/i;
const OWNED: [RegExp, string][] = [
  [/^SIP CONFIG MODULE\/SIP\d+ (Register Pswd|Register User|Phone Number)$/i, "a line credential (from the phone's row: provision it again to change it)"],
  [/^sip\/line(\[\d+\])?\/(RegisterPswd|RegisterUser|PhoneNumber)$/, "a line credential (from the phone's row: provision it again to change it)"],
  [/^MMI CONFIG MODULE\/Account1 (Name|Password)$/i, 'the admin account (provision.adminPassword)'],
  [/^web\/account(\[1\])?\/(Name|Password)$/, 'the admin account (provision.adminPassword)'],
  [/^AUTOUPDATE CONFIG MODULE\/(Default Username|Default Password|Flash Server IP|Flash Protocol)$/i, 'the auto-provisioning server and its credentials'],
  [/^ap\/(DefaultUsername|DefaultPassword|FlashServerIP|FlashProtocol)$/, 'the auto-provisioning server and its credentials'],
];

/** "PHONE FEATURE MODULE/DST Type" → module and key, the module in upper case as the file writes it. */
function textKey(key: string): { module: string; name: string } | null {
  const m = TEXT_KEY_RE.exec(key);
  if (!m || m[2]!.trim() !== m[2] || /\s{2}/.test(m[1]!)) return null;
  return { module: m[1]!.toUpperCase(), name: m[2]! };
}

/** Sets "Key:value" lines inside their module sections of the text format. */
function applyText(body: string, list: Override[]): string {
  const lines = body.split('\r\n');
  for (const o of list) {
    const k = textKey(o.key);
    if (!k) continue;
    const line = kv(k.name, o.value);
    const start = lines.indexOf(`<${k.module}>`);
    if (start < 0) {
      lines.splice(lines.indexOf('<<END OF FILE>>'), 0, `<${k.module}>`, line, '');
      continue;
    }
    let end = start + 1;
    while (end < lines.length && lines[end] !== '' && !lines[end]!.startsWith('<')) end++;
    const at = lines.slice(start + 1, end).findIndex((l) => l.includes(':') && l.slice(0, l.indexOf(':')).trim().toLowerCase() === k.name.toLowerCase());
    if (at >= 0) lines[start + 1 + at] = line;
    else lines.splice(end, 0, line);
  }
  return lines.join('\r\n');
}

function applyXml(body: string, list: Override[]): string {
  let out = body;
  for (const o of list) {
    const path = parsePath(o.key);
    if (path && o.key !== 'Version') out = setXmlPath(out, path, xmlEscape(o.value), '    ');
  }
  return out;
}

const overrides: OverrideStyle = {
  describe: `${TEXT_FORMAT}: "MODULE NAME/Key Name", e.g. "PHONE FEATURE MODULE/DST Type"; with provision.drivers.fanvil-x1sg.format xml, an element path, e.g. phone/date/EnableDST or sip/line[1]/DTMFMode`,
  example: { key: 'PHONE FEATURE MODULE/DST Type', value: '2' },
  key(key, options) {
    const xml = formatOf(options) === 'xml';
    const basic = basicKeyProblem(key, xml ? XML_FORMAT : TEXT_FORMAT);
    if (basic) return { problem: basic };
    if (xml) {
      if (key === 'Version') return { problem: '"Version" is the config version Switchboard raises with every change (the phone applies a file only when it rises); it cannot be overridden' };
      return parsePath(key) ? { key } : { problem: `${showKey(key)} is not a ${XML_FORMAT} key: element names joined by /, "[n]" for an index, e.g. phone/date/EnableDST or sip/line[1]/DTMFMode` };
    }
    if (key.includes(':')) return { problem: `${showKey(key)} contains ":", which ends the key in ${TEXT_FORMAT}` };
    const k = textKey(key);
    return k
      ? { key: `${k.module}/${k.name}` }
      : { problem: `${showKey(key)} is not a ${TEXT_FORMAT} key: "MODULE NAME/Key Name", e.g. "PHONE FEATURE MODULE/DST Type" (the module as the file names it, without < >)` };
  },
  valueProblem: (_key, value, options) => lineValueProblem(value, formatOf(options) === 'xml' ? XML_FORMAT : TEXT_FORMAT, { trims: formatOf(options) !== 'xml' }),
  owned: (key) => OWNED.find(([re]) => re.test(key))?.[1] ?? null,
  secret: (key) => looksSecret(key),
  apply(files, list, settings) {
    const xml = formatOf(settings.options) === 'xml';
    const mine = list.filter((o) => (xml ? !textKey(o.key) && parsePath(o.key) : textKey(o.key)));
    return files.map((f) => ({ ...f, body: xml ? applyXml(f.body, mine) : applyText(f.body, mine) }));
  },
};

export const driver: PhoneDriver = {
  id: 'fanvil-x1sg',
  vendor: 'Fanvil',
  label: 'Fanvil X1SG',
  aliases: ['x1sg', 'x1s', 'x1sp', 'fanvil', 'fanvil x1sg', 'fanvil x1s', 'fanvil x1sp'],
  ouis: ['0c383e', '00a859'],
  maxLines: MAX_LINES,
  columns: [],
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { format: { enum: ['text', 'xml'], default: 'text' } },
  },
  validate,
  fileNames,
  render,
  commonFile,
  parseUserAgent,
  sampleUserAgent: 'Fanvil X1SG 2.12.1 0c383e123456',
  source: 'Fanvil X-series text/XML keys as in the Wazo provd Fanvil plugin and FreePBX-style X-series templates',
  overrides,
};
