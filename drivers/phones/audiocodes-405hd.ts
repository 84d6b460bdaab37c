// AudioCodes 405HD (400HD series, generic SIP firmware). Renders <MAC>.cfg: `path/key=value` lines, UTF-8.
//
// Sources followed (public configuration files and templates for 400HD phones; no vendor manual at hand):
// - shanehoey/ipphones (AudioCodes 400HD snippets): ';' comments (also after a value, so a value cannot
//   carry ';'), values in {braces} are taken as encrypted, `provisioning/method=STATIC` with
//   `provisioning/configuration/url=<directory ending in />`, `provisioning/period/type=HOURLY` +
//   `provisioning/period/hourly/hours_interval`, `system/ntp/enabled`, `system/ntp/primary_server_address`,
//   `system/ntp/gmt_offset=+10:00`, `network/lan/dhcp/ntp/gmt_offset/enabled=0` (so DHCP does not override
//   the zone) and `network/lan/dhcp/ntp/server_list/enabled`.
// - Brazilian generators for 405HD (`voip/line/0/id`, `auth_name`, `auth_password`, `description`,
//   `enabled`, `voip/signalling/sip/sip_registrar/{enabled,addr,port}`, `system/ntp/gmt_offset=-03:00`) and
//   provisioner templates (`voip/signalling/sip/use_proxy`, `proxy_address`, `proxy_port`).
// - Admin login: `system/user_name` / `system/password` (400HD admin manual, "Configuring User Login
//   Credentials"; the web "user" account is `system/web_user_name`/`system/web_user_password`).
// - File name: the phone asks for <MAC>.cfg under the configuration URL, its MAC in upper case as in its
//   user agent ("AUDC-IPPhone/2.2.12.126 (405HD; 00908FAABB01)"); without it, it falls back to <model>.cfg.
// - Basic auth: no separate keys are known, so the credentials go into the URL as userinfo
//   (http://user:password@host/…), which the phone's HTTP client honours.
// - Version: the format has no config-version key; a comment line carries it so changed files differ.
// - Overrides (`provision set`): any path/key; its "key=value" line is replaced (keys compared ignoring case)
//   or added at the end. A value cannot carry ";" and is not wrapped in { }, as for the fields. The line
//   credentials (voip/line/N/id, auth_name, auth_password), the admin login (system/user_name, system/password)
//   and the provisioning method and URL are Switchboard's.
import type { FieldProblem, OverrideStyle, Phone, PhoneDriver, ProvisionSettings, RenderedFile, UserAgentInfo } from './contract.js';
import { editFile, lineKeyProblem, lineValueProblem, looksSecret, setKeyValueLines } from './override-styles.js';
import { colonMac, commonProblems, normMac, urlWithAuth } from './util.js';

const MAX_LINES = 2;
const CONTENT_TYPE = 'text/plain; charset=utf-8';
/** Model-wide files (<model>.cfg) a 400HD phone falls back to; upper case as the phone writes its model. */
const COMMON_MODELS = ['405', '405HD', '420HD', '430HD', '440HD', '445HD', '450HD', 'C450HD'];
const COMMON_FILES = new Map(COMMON_MODELS.map((m) => [`${m}.cfg`.toLowerCase(), `${m}.cfg`]));

type CommonSettings = Omit<ProvisionSettings, 'version'>;

/** Offset in minutes → "-03:00" / "+05:30". */
function gmtOffset(minutes: number): string {
  const abs = Math.abs(Math.round(minutes));
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function provisioningLines(s: CommonSettings): string[] {
  return ['provisioning/method=STATIC', `provisioning/configuration/url=${urlWithAuth(s.configUrl, s.auth)}`, 'provisioning/period/type=HOURLY', 'provisioning/period/hourly/hours_interval=1'];
}

const lf = (lines: string[]) => `${lines.join('\n')}\n`;

function render(phone: Phone, s: ProvisionSettings): RenderedFile[] {
  const l = `voip/line/${phone.line - 1}`;
  const body = lf([
    `; AudioCodes 400HD configuration for ${colonMac(phone.mac)}, written by Switchboard`,
    `; config version ${s.version}`,
    `${l}/enabled=1`,
    `${l}/id=${phone.extension}`,
    `${l}/description=${phone.name}`,
    `${l}/auth_name=${phone.authUser}`,
    `${l}/auth_password=${phone.password}`,
    'voip/signalling/sip/use_proxy=1',
    `voip/signalling/sip/proxy_address=${phone.server}`,
    `voip/signalling/sip/proxy_port=${phone.port}`,
    'voip/signalling/sip/sip_registrar/enabled=1',
    `voip/signalling/sip/sip_registrar/addr=${phone.server}`,
    `voip/signalling/sip/sip_registrar/port=${phone.port}`,
    'network/lan/dhcp/ntp/server_list/enabled=0',
    'network/lan/dhcp/ntp/gmt_offset/enabled=0',
    'system/ntp/enabled=1',
    `system/ntp/primary_server_address=${s.ntpServer}`,
    `system/ntp/gmt_offset=${gmtOffset(s.utcOffsetMinutes)}`,
    'system/user_name=admin',
    `system/password=${s.adminPassword}`,
    ...provisioningLines(s),
  ]);
  return [{ name: fileNames(phone.mac)[0]!, contentType: CONTENT_TYPE, body }];
}

function fileNames(mac: string): string[] {
  return [`${mac.toUpperCase()}.cfg`];
}

function validate(phone: Phone): FieldProblem[] {
  const problems = commonProblems(phone, {
    vendor: 'AudioCodes',
    lineFormat: 'key=value lines',
    label: 'AudioCodes 405HD',
    maxLines: MAX_LINES,
    maxName: 32,
    maxPassword: 64,
    maxServer: 64,
  });
  const seen = new Set(problems.map((p) => p.field));
  for (const [field, value] of [
    ['name', phone.name],
    ['password', phone.password],
  ] as const) {
    const message = seen.has(field) ? null : valueProblem(value, field === 'password');
    if (message) problems.push({ field, message });
  }
  return problems;
}

/** What this key=value format cannot carry in a value: ';' starts a comment; a password in { } reads as encrypted. */
function valueProblem(value: string, password: boolean): string | null {
  if (value.includes(';')) return 'contains ";", which starts a comment in AudioCodes configuration files';
  if (password && value.startsWith('{') && value.endsWith('}')) return 'is wrapped in { }, which AudioCodes phones read as an encrypted value';
  return null;
}

/** The admin password goes into `system/password=` as it is: the same limits as a SIP password. */
function validateSettings(s: { adminPassword: string }): FieldProblem[] {
  const message = valueProblem(s.adminPassword, true);
  return message ? [{ field: 'adminPassword', message }] : [];
}

function commonFile(name: string, settings: CommonSettings): RenderedFile | null {
  const canonical = COMMON_FILES.get(name.toLowerCase());
  if (!canonical) return null;
  // Minimal valid file: a comment and where to fetch from, so the phone stops depending on DHCP. With basic
  // auth the URL would have to carry the credentials, which a file common to every phone must not; the
  // phone then keeps the URL it has (it could fetch this file with it).
  const lines = [`; AudioCodes ${canonical.slice(0, -4)} common configuration, written by Switchboard`];
  if (!settings.auth) lines.push(...provisioningLines(settings));
  return { name, contentType: CONTENT_TYPE, body: lf(lines) };
}

// "AUDC-IPPhone/2.2.12.126 (405HD; 00908FAABB01)"; older firmware sends just "AUDC-IPPhone/1.2.1_build_6".
const UA_RE = /^\s*AUDC-IPPhone\/(\S+)(?:\s*\(\s*([^;)]*?)\s*(?:;\s*([^;)]*?)\s*)?(?:;[^)]*)?\))?/i;

function parseUserAgent(ua: string): UserAgentInfo | null {
  const m = UA_RE.exec(ua);
  if (!m) return null;
  const info: UserAgentInfo = { vendor: 'AudioCodes', model: m[2] || '400HD', firmware: m[1]! };
  const mac = normMac(m[3]);
  if (mac) info.mac = mac;
  return info;
}

const FORMAT = 'AudioCodes "path/key=value" lines';
const KEY_RE = /^[A-Za-z0-9_]+(\/[A-Za-z0-9_]+)*$/;
const OWNED: [RegExp, string][] = [
  [/^voip\/line\/\d+\/(id|auth_name|auth_password)$/i, "a line credential (from the phone's row: provision it again to change it)"],
  [/^system\/(user_name|password)$/i, 'the admin login (provision.adminPassword)'],
  [/^provisioning\/(method|configuration\/url)$/i, 'the provisioning method and URL'],
];

const overrides: OverrideStyle = {
  describe: `${FORMAT}, e.g. personal_settings/language or voip/services/do_not_disturb/activated`,
  example: { key: 'personal_settings/language', value: 'Portuguese' },
  key(key) {
    const problem = lineKeyProblem(key, { format: FORMAT, separator: '=', comment: [';'], pattern: KEY_RE, hint: 'names of letters, digits and _ joined by /, e.g. personal_settings/language' });
    return problem ? { problem } : { key };
  },
  valueProblem(_key, value) {
    const problem = lineValueProblem(value, FORMAT);
    if (problem) return problem;
    if (value.includes(';')) return 'its value contains ";", which starts a comment in AudioCodes configuration files';
    if (value.startsWith('{') && value.endsWith('}')) return 'its value is wrapped in { }, which AudioCodes phones read as an encrypted value';
    return null;
  },
  owned: (key) => OWNED.find(([re]) => re.test(key))?.[1] ?? null,
  secret: (key) => looksSecret(key),
  apply: (files, list) =>
    editFile(
      files,
      () => true,
      (body) =>
        setKeyValueLines(
          body,
          list.filter((o) => KEY_RE.test(o.key)),
          { separator: '=', comment: (l) => l.startsWith(';'), line: (k, v) => `${k}=${v}` },
        ),
    ),
};

export const driver: PhoneDriver = {
  id: 'audiocodes-405hd',
  vendor: 'AudioCodes',
  label: 'AudioCodes 405HD',
  aliases: ['405hd', '405', 'audiocodes', 'audiocodes 405hd', 'audiocodes 405', '400hd', 'audc'],
  ouis: ['00908f'],
  maxLines: MAX_LINES,
  columns: [],
  validate,
  validateSettings,
  fileNames,
  render,
  commonFile,
  parseUserAgent,
  sampleUserAgent: 'AUDC-IPPhone/2.2.12.126 (405HD; 00908FAABB01)',
  source: 'AudioCodes 400HD keys as in public 400HD configuration files (shanehoey/ipphones) and the 400HD admin manual',
  overrides,
};
