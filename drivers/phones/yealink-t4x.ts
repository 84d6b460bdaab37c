// Yealink T3x / T4x / T5x SIP phones (T31G … T58W; up to 16 accounts on the T5x). Renders <mac>.cfg: the
// "#!version:1.0.0.1" first line, then "key = value" lines, UTF-8, LF.
//
// Sources followed (public templates; Yealink's "Auto Provisioning Guide" and "Admin Guide" for T3x/T4x/T5x
// describe the same keys):
// - Wazo provd Yealink plugins (wazo-platform/wazo-provd-plugins, plugins/xivo-yealink/*/templates): the
//   header line, which the phone requires verbatim as the first line; `account.N.enable`, `.label`,
//   `.display_name`, `.auth_name`, `.user_name`, `.password`; `local_time.ntp_server1`;
//   `security.user_password = admin:<password>`; `firmware.url`; `%NULL%` for an empty value.
// - FusionPBX templates (resources/templates/provision/yealink/t4*): `account.N.sip_server.1.address` and
//   `.port`, `local_time.time_zone` as a signed offset in hours ("-3", "+5:30"), `local_time.summer_time`
//   (0 = off), and the `static.` prefix of newer firmware for the provisioning keys
//   (`static.auto_provision.server.url`, `.username`, `.password`, `static.auto_provision.repeat.enable`,
//   `.minutes`, `static.security.user_password`, `static.firmware.url`).
// - File names: the phone asks for y0000000000XX.cfg (one per hardware model: common) and <mac>.cfg in
//   lower case; its user agent is "Yealink SIP-T46S 66.86.0.15 80:5e:c0:12:34:56".
// - A value runs to the end of the line, so line breaks are refused (commonProblems); DST is off because the
//   core passes only the standard offset.
// - Overrides (`provision set`): any Yealink key; its "key = value" line is replaced (keys compared ignoring
//   case), or added at the end; an empty value is written %NULL%. The account credentials, the
//   auto_provision server keys, the admin password and the firmware URL are Switchboard's.
import type { FieldProblem, OverrideStyle, Phone, PhoneDriver, ProvisionSettings, RenderedFile, UserAgentInfo } from './contract.js';
import { editFile, lineKeyProblem, lineValueProblem, looksSecret, setKeyValueLines } from './override-styles.js';
import { commonProblems, lf, normMac } from './util.js';

const MAX_LINES = 16;
const CONTENT_TYPE = 'text/plain; charset=utf-8';
const HEADER = '#!version:1.0.0.1';
const COMMON_RE = /^y0000000000[0-9a-f]{2}\.cfg$/i;

type CommonSettings = Omit<ProvisionSettings, 'version'>;

/** Offset in minutes → "-3", "+5:30", "0". */
function yealinkZone(minutes: number): string {
  if (minutes === 0) return '0';
  const abs = Math.abs(minutes);
  const h = Math.floor(abs / 60);
  const m = abs % 60;
  return `${minutes < 0 ? '-' : '+'}${h}${m ? `:${String(m).padStart(2, '0')}` : ''}`;
}

const kv = (key: string, value: string | number) => `${key} = ${value === '' ? '%NULL%' : value}`;

function provisioning(s: CommonSettings, withAuth: boolean): string[] {
  return [
    kv('static.auto_provision.server.url', s.configUrl),
    ...(withAuth && s.auth ? [kv('static.auto_provision.server.username', s.auth.user), kv('static.auto_provision.server.password', s.auth.password)] : []),
    kv('static.auto_provision.repeat.enable', 1),
    kv('static.auto_provision.repeat.minutes', 60),
  ];
}

function render(phone: Phone, s: ProvisionSettings): RenderedFile[] {
  const a = `account.${phone.line}`;
  const body = lf([
    HEADER,
    `# Yealink configuration for ${phone.mac}, written by Switchboard; config version ${s.version}`,
    kv(`${a}.enable`, 1),
    kv(`${a}.label`, phone.name),
    kv(`${a}.display_name`, phone.name),
    kv(`${a}.user_name`, phone.extension),
    kv(`${a}.auth_name`, phone.authUser),
    kv(`${a}.password`, phone.password),
    kv(`${a}.sip_server.1.address`, phone.server),
    kv(`${a}.sip_server.1.port`, phone.port),
    kv('local_time.ntp_server1', s.ntpServer),
    kv('local_time.time_zone', yealinkZone(s.utcOffsetMinutes)),
    kv('local_time.summer_time', 0),
    kv('static.security.user_password', `admin:${s.adminPassword}`),
    ...provisioning(s, true),
    ...(s.firmwareUrl ? [kv('static.firmware.url', s.firmwareUrl)] : []),
  ]);
  return [{ name: fileNames(phone.mac)[0]!, contentType: CONTENT_TYPE, body }];
}

function fileNames(mac: string): string[] {
  return [`${mac.toLowerCase()}.cfg`];
}

function validate(phone: Phone): FieldProblem[] {
  const problems = commonProblems(phone, { vendor: 'Yealink', lineFormat: 'key = value lines', label: 'Yealink T3x/T4x/T5x', maxLines: MAX_LINES, maxName: 99, maxPassword: 99, maxServer: 255 });
  if (phone.password === '%NULL%' && !problems.some((p) => p.field === 'password')) problems.push({ field: 'password', message: 'is %NULL%, which Yealink phones read as an empty value' });
  return problems;
}

function commonFile(name: string, s: CommonSettings): RenderedFile | null {
  if (!COMMON_RE.test(name)) return null;
  // The same for every phone of the model: where to fetch from, no credentials.
  return { name, contentType: CONTENT_TYPE, body: lf([HEADER, '# Yealink common configuration, written by Switchboard', ...provisioning(s, false)]) };
}

// "Yealink SIP-T46S 66.86.0.15 80:5e:c0:12:34:56", "Yealink SIP VP-T49G 51.80.0.10 00:15:65:…", "Yealink T54W …"
const UA_RE = /^\s*Yealink\s+(?:SIP[-\s])?(\S+)\s+(\d[\w.]*)(?:\s+(\S+))?/i;

function parseUserAgent(ua: string): UserAgentInfo | null {
  const m = UA_RE.exec(ua);
  if (!m) return null;
  const info: UserAgentInfo = { vendor: 'Yealink', model: m[1]!, firmware: m[2]! };
  const mac = normMac(m[3]);
  if (mac) info.mac = mac;
  return info;
}

const FORMAT = 'Yealink "key = value" lines';
const KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const OWNED: [RegExp, string][] = [
  [/^account\.\d+\.(password|auth_name|user_name)$/i, "an account credential (from the phone's row: provision it again to change it)"],
  [/^(static\.)?auto_provision\.server\.(url|username|password)$/i, 'the provisioning server and its credentials'],
  [/^(static\.)?security\.user_password$/i, 'the admin password (provision.adminPassword)'],
  [/^(static\.)?firmware\.url$/i, 'the firmware URL (provision firmware rollout/halt)'],
];

const overrides: OverrideStyle = {
  describe: `${FORMAT}, e.g. features.dnd.enable or account.1.codec.1.enable`,
  example: { key: 'features.dnd.enable', value: '1' },
  key(key) {
    const problem = lineKeyProblem(key, { format: FORMAT, separator: '=', comment: ['#'], pattern: KEY_RE, hint: 'letters, digits and . _ -, e.g. features.dnd.enable' });
    return problem ? { problem } : { key };
  },
  valueProblem: (_key, value) => lineValueProblem(value, FORMAT, { trims: true }),
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
          { separator: '=', comment: (l) => l.startsWith('#'), line: (k, v) => kv(k, v) },
        ),
    ),
};

export const driver: PhoneDriver = {
  id: 'yealink-t4x',
  vendor: 'Yealink',
  label: 'Yealink T3x/T4x/T5x',
  aliases: ['yealink', 't4x', 't3x', 't5x', 't31g', 't33g', 't42s', 't43u', 't46s', 't46u', 't48s', 't48u', 't53w', 't54w', 't57w', 't58w', 'yealink t46s', 'yealink t4x'],
  ouis: ['001565', '805ec0', '805e0c', '249ad8', '44dbd2', 'c4fc22'],
  maxLines: MAX_LINES,
  columns: [],
  validate,
  fileNames,
  render,
  commonFile,
  parseUserAgent,
  sampleUserAgent: 'Yealink SIP-T46S 66.86.0.15 80:5e:c0:12:34:56',
  source: 'Yealink auto provisioning keys as in the Wazo provd Yealink plugin and FusionPBX yealink templates',
  overrides,
};
