// Grandstream GXP (GXP16xx/17xx/21xx) and GRP (GRP26xx) SIP phones. Renders cfg<mac>.xml: the XML form of the
// P-value configuration (<gs_provision version="1"><mac>…</mac><config version="1"><Pnnn>value</Pnnn>…).
//
// Sources followed (public templates and Grandstream's P-value tables as the provisioners use them):
// - Wazo provd Grandstream plugin (wazo-platform/wazo-provd-plugins, plugins/wazo-grandstream/common/
//   templates): account 1 is P271 (active), P270 (account name), P47 (SIP server), P35 (SIP user id), P36
//   (authenticate id), P34 (password), P3 (display name); account N ≥ 2 uses the block P(N+2)01 active,
//   P(N+2)02 server, P(N+2)04 user id, P(N+2)05 auth id, P(N+2)06 password, P(N+2)07 display name,
//   P(N+2)17 account name; P2 admin password; P30 NTP server; P64 time zone; P194 firmware check mode.
// - FusionPBX grandstream templates and brucemwalker/gs_tools notes: the phone asks for cfg<mac>.xml
//   (lower case), then cfg<model>.xml and cfg.xml as common files; P237 config server path and P212
//   upgrade method (0 TFTP, 1 HTTP, 2 HTTPS), P192 firmware server path, P193 check interval (minutes),
//   P1360/P1361 HTTP user/password for the config server; P64 "customize" with the POSIX zone in P246;
//   P6767 firmware upgrade method (same values as P212) on 1.0.9+ firmware.
// - User agent: "Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82123456".
// - The server carries the port ("pbx.example.lan:5060") as in the Wazo template's registrar_ip:port.
// - Overrides (`provision set`): P-values (P followed by digits; p1362 is stored as P1362); the <Pnnn> element
//   is replaced or added at the end of <config>. The account credentials (P34-P36, P(N+2)04-06), the admin
//   password (P2), the config server keys (P212, P237, P1360, P1361) and the firmware path (P192, P6767) are
//   Switchboard's. Known password P-values (those, and the user password P196) are secrets.
import type { FieldProblem, OverrideStyle, Phone, PhoneDriver, ProvisionSettings, RenderedFile, UserAgentInfo } from './contract.js';
import { basicKeyProblem, editFile, lineValueProblem, setElementLines, showKey } from './override-styles.js';
import { commonProblems, lf, normMac, posixTz, splitUrl, xmlEscape } from './util.js';

const MAX_LINES = 6;
const CONTENT_TYPE = 'application/xml; charset=utf-8';
const COMMON_RE = /^cfg(?:(?:gxp|grp)[0-9a-z]{3,6})?\.xml$/i;

type CommonSettings = Omit<ProvisionSettings, 'version'>;

/** Account N's P-value numbers. */
function accountKeys(line: number): { active: string; name: string; server: string; user: string; auth: string; password: string; display: string } {
  if (line === 1) return { active: 'P271', name: 'P270', server: 'P47', user: 'P35', auth: 'P36', password: 'P34', display: 'P3' };
  const b = line + 2;
  return { active: `P${b}01`, name: `P${b}17`, server: `P${b}02`, user: `P${b}04`, auth: `P${b}05`, password: `P${b}06`, display: `P${b}07` };
}

const p = (key: string, value: string | number) => `    <${key}>${xmlEscape(String(value))}</${key}>`;

/** P212 for the URL's scheme; P237/P192 carry host and path without the scheme. */
function serverPath(url: string): { method: number; path: string } {
  const u = splitUrl(url);
  return { method: u.scheme === 'https' ? 2 : u.scheme === 'tftp' ? 0 : 1, path: `${u.hostPort}${u.path}`.replace(/\/$/, '') };
}

function provisioning(s: CommonSettings, withAuth: boolean): string[] {
  const cfg = serverPath(s.configUrl);
  return [p('P212', cfg.method), p('P237', cfg.path), ...(withAuth && s.auth ? [p('P1360', s.auth.user), p('P1361', s.auth.password)] : []), p('P194', 1), p('P193', 60)];
}

function xml(mac: string | null, body: string[]): string {
  return lf(['<?xml version="1.0" encoding="UTF-8"?>', '<gs_provision version="1">', ...(mac ? [`  <mac>${mac}</mac>`] : []), '  <config version="1">', ...body, '  </config>', '</gs_provision>']);
}

function render(phone: Phone, s: ProvisionSettings): RenderedFile[] {
  const k = accountKeys(phone.line);
  const fw = s.firmwareUrl ? serverPath(s.firmwareUrl.replace(/[^/]*$/, '')) : null;
  const body = xml(phone.mac, [
    `    <!-- Grandstream configuration written by Switchboard; config version ${s.version} -->`,
    p(k.active, 1),
    p(k.name, phone.name),
    p(k.server, `${phone.server}:${phone.port}`),
    p(k.user, phone.extension),
    p(k.auth, phone.authUser),
    p(k.password, phone.password),
    p(k.display, phone.name),
    p('P30', s.ntpServer),
    p('P64', 'customize'),
    p('P246', posixTz(s.utcOffsetMinutes)),
    p('P2', s.adminPassword),
    ...provisioning(s, true),
    ...(fw ? [p('P6767', fw.method), p('P192', fw.path)] : []),
  ]);
  return [{ name: fileNames(phone.mac)[0]!, contentType: CONTENT_TYPE, body }];
}

function fileNames(mac: string): string[] {
  return [`cfg${mac.toLowerCase()}.xml`];
}

function validate(phone: Phone): FieldProblem[] {
  return commonProblems(phone, { vendor: 'Grandstream', lineFormat: 'P-values', label: 'Grandstream GXP/GRP', maxLines: MAX_LINES, maxName: 64, maxPassword: 64, maxServer: 128 });
}

function commonFile(name: string, s: CommonSettings): RenderedFile | null {
  if (!COMMON_RE.test(name)) return null;
  return { name, contentType: CONTENT_TYPE, body: xml(null, ['    <!-- Grandstream common configuration written by Switchboard -->', ...provisioning(s, false)]) };
}

// "Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82123456"; GRP: "Grandstream GRP2614 1.0.5.33 c074ad123456"
const UA_RE = /^\s*Grandstream\s+(?:Model\s+HW\s+)?(\S+)(?:\s+(?:SW\s+)?(\d[\w.]*))?(?:\s+(?:DevId\s+)?(\S+))?/i;

function parseUserAgent(ua: string): UserAgentInfo | null {
  const m = UA_RE.exec(ua);
  if (!m) return null;
  const info: UserAgentInfo = { vendor: 'Grandstream', model: m[1]! };
  if (m[2]) info.firmware = m[2];
  const mac = normMac(m[3]);
  if (mac) info.mac = mac;
  return info;
}

const FORMAT = 'Grandstream P-values';
const P_RE = /^[Pp](\d{1,5})$/;
const CREDENTIALS = new Set(['P34', 'P35', 'P36', ...[4, 5, 6, 7, 8].flatMap((b) => [`P${b}04`, `P${b}05`, `P${b}06`])]);
const OWNED = new Map<string, string>([
  ...[...CREDENTIALS].map((k): [string, string] => [k, "an account credential (from the phone's row: provision it again to change it)"]),
  ['P2', 'the admin password (provision.adminPassword)'],
  ...['P212', 'P237', 'P1360', 'P1361'].map((k): [string, string] => [k, 'the config server and its credentials']),
  ...['P192', 'P6767'].map((k): [string, string] => [k, 'the firmware server (provision firmware rollout/halt)']),
]);
const SECRETS = new Set(['P2', 'P34', 'P196', 'P1361', ...[4, 5, 6, 7, 8].map((b) => `P${b}06`)]);

const overrides: OverrideStyle = {
  describe: `${FORMAT} (P followed by digits), e.g. P1362 (language) or P8 (IP mode)`,
  example: { key: 'P1362', value: 'pt' },
  key(key) {
    const basic = basicKeyProblem(key, FORMAT);
    if (basic) return { problem: basic };
    const m = P_RE.exec(key);
    return m ? { key: `P${Number(m[1])}` } : { problem: `${showKey(key)} is not a Grandstream P-value: P followed by up to 5 digits, e.g. P1362` };
  },
  valueProblem: (_key, value) => lineValueProblem(value, FORMAT),
  owned: (key) => OWNED.get(key.toUpperCase()) ?? null,
  secret: (key) => SECRETS.has(key.toUpperCase()),
  apply: (files, list) =>
    editFile(
      files,
      () => true,
      (body) =>
        setElementLines(
          body,
          list.filter((o) => P_RE.test(o.key)),
          { is: (l, k) => l.startsWith(`    <${k}>`), line: (k, v) => p(k, v), before: '</config>' },
        ),
    ),
};

export const driver: PhoneDriver = {
  id: 'grandstream-gxp',
  vendor: 'Grandstream',
  label: 'Grandstream GXP/GRP',
  aliases: ['grandstream', 'gxp', 'grp', 'gxp2170', 'gxp2160', 'gxp2140', 'gxp2135', 'gxp1625', 'gxp1630', 'grp2612', 'grp2614', 'grp2615', 'grp2616'],
  ouis: ['000b82', 'c074ad', 'ec74d7'],
  maxLines: MAX_LINES,
  columns: [],
  validate,
  fileNames,
  render,
  commonFile,
  parseUserAgent,
  sampleUserAgent: 'Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82123456',
  source: 'Grandstream P-values as in the Wazo provd Grandstream plugin and FusionPBX grandstream templates',
  overrides,
};
