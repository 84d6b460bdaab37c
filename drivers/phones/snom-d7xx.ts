// Snom D7xx SIP phones (D712, D715, D717, D735, D785). Renders <MAC>.xml: <settings><phone-settings> with
// one element per setting, `idx` for per-identity settings and `perm` for who may change them, UTF-8.
//
// Sources followed (public templates; Snom's settings wiki at service.snom.com names the same settings):
// - Wazo provd Snom plugin (wazo-platform/wazo-provd-plugins, plugins/xivo-snom): `<settings>`,
//   `<phone-settings e="2">`, `user_active`, `user_name`, `user_pass`, `user_realname`, `user_host`
//   (host:port), `user_idle_text`, `ntp_server`, the zone as `<timezone perm="R"></timezone>` with
//   `utc_offset` in seconds and an empty `dst`, `admin_mode_password`, `http_user`/`http_pass`,
//   `setting_server` (where the phone re-syncs from), `update_policy`, `firmware_status`.
// - FusionPBX snom templates and docs (provision_variables_snom): `firmware` (the image URL the phone
//   loads when `update_policy` is `auto_update`), `provisioning_order`, `update_interval` (minutes).
// - User agent: "Mozilla/4.0 (compatible; snomD735-SIP 10.1.54.13 1.1.3-u)" (no MAC in it); the phone is
//   told to fetch {mac}.xml, which it fills with its MAC in upper case.
// - Overrides (`provision set`): any setting by name, `name[idx]` for a per-identity or indexed one
//   (user_dtmf_info[1], fkey[0]); its element is replaced or added at the end of <phone-settings>, with
//   perm="R" like the others. The identity credentials (user_name, user_pname, user_pass), the admin and
//   HTTP credentials, setting_server and firmware are Switchboard's.
import type { FieldProblem, OverrideStyle, Phone, PhoneDriver, ProvisionSettings, RenderedFile, UserAgentInfo } from './contract.js';
import { basicKeyProblem, editFile, lineValueProblem, looksSecret, setElementLines, showKey, xmlNameProblem } from './override-styles.js';
import { commonProblems, lf, urlWithAuth, xmlEscape } from './util.js';

const MAX_LINES = 12;
const CONTENT_TYPE = 'application/xml; charset=utf-8';

const set = (key: string, value: string | number, extra = '') => `    <${key}${extra} perm="R">${xmlEscape(String(value))}</${key}>`;

function render(phone: Phone, s: ProvisionSettings): RenderedFile[] {
  const i = ` idx="${phone.line}"`;
  const body = lf([
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<!-- Snom configuration for ${phone.mac}, written by Switchboard; config version ${s.version} -->`,
    '<settings>',
    '  <phone-settings e="2">',
    set('user_active', 'on', i),
    set('user_name', phone.extension, i),
    set('user_pname', phone.authUser, i),
    set('user_pass', phone.password, i),
    set('user_realname', phone.name, i),
    set('user_idle_text', phone.name, i),
    set('user_host', `${phone.server}:${phone.port}`, i),
    set('ntp_server', s.ntpServer),
    set('timezone', ''),
    set('utc_offset', s.utcOffsetMinutes * 60),
    set('dst', ''),
    set('admin_mode_password', s.adminPassword),
    set('http_user', 'admin'),
    set('http_pass', s.adminPassword),
    set('setting_server', `${urlWithAuth(s.configUrl, s.auth)}{mac}.xml`),
    set('update_interval', 60),
    set('update_policy', s.firmwareUrl ? 'auto_update' : 'settings_only'),
    ...(s.firmwareUrl ? [set('firmware', s.firmwareUrl)] : []),
    '  </phone-settings>',
    '</settings>',
  ]);
  return [{ name: fileNames(phone.mac)[0]!, contentType: CONTENT_TYPE, body }];
}

function fileNames(mac: string): string[] {
  return [`${mac.toUpperCase()}.xml`];
}

function validate(phone: Phone): FieldProblem[] {
  return commonProblems(phone, { vendor: 'Snom', lineFormat: 'settings', label: 'Snom D7xx', maxLines: MAX_LINES, maxName: 64, maxPassword: 64, maxServer: 255 });
}

// "Mozilla/4.0 (compatible; snomD735-SIP 10.1.54.13 1.1.3-u)"
const UA_RE = /\bsnom(D\d{3}[A-Za-z]*|\d{3,4})-SIP\s+(\d[\w.]*)/i;

function parseUserAgent(ua: string): UserAgentInfo | null {
  const m = UA_RE.exec(ua);
  if (!m) return null;
  return { vendor: 'Snom', model: m[1]!.toUpperCase(), firmware: m[2]! };
}

const FORMAT = 'Snom settings';
const KEY_RE = /^([A-Za-z_][A-Za-z0-9_.-]*)(?:\[(\d{1,3})\])?$/;
const OWNED: [RegExp, string][] = [
  [/^user_(name|pname|pass)$/, "an identity credential (from the phone's row: provision it again to change it)"],
  [/^(admin_mode_password|http_user|http_pass)$/, 'the admin credentials (provision.adminPassword)'],
  [/^setting_server$/, 'the provisioning URL'],
  [/^firmware$/, 'the firmware URL (provision firmware rollout/halt)'],
];
const nameOf = (key: string) => KEY_RE.exec(key)?.[1] ?? key;

/** The element of a setting: <name idx="i" perm="R">value</name>. */
function settingLine(key: string, value: string): string {
  const m = KEY_RE.exec(key)!;
  return set(m[1]!, value, m[2] === undefined ? '' : ` idx="${m[2]}"`);
}

function isSetting(line: string, key: string): boolean {
  const m = KEY_RE.exec(key)!;
  return line.startsWith(`    <${m[1]}${m[2] === undefined ? '' : ` idx="${m[2]}"`} perm=`);
}

const overrides: OverrideStyle = {
  describe: `${FORMAT} by name, name[idx] for an identity's or an indexed one, e.g. language or user_dtmf_info[1]`,
  example: { key: 'language', value: 'Deutsch' },
  key(key) {
    const basic = basicKeyProblem(key, FORMAT);
    if (basic) return { problem: basic };
    const m = KEY_RE.exec(key);
    if (!m) return { problem: `${showKey(key)} is not a Snom setting: a name (letters, digits, _ . -), optionally with an index in brackets, e.g. user_dtmf_info[1]` };
    const problem = xmlNameProblem(m[1]!, FORMAT);
    return problem ? { problem } : { key };
  },
  valueProblem: (_key, value) => lineValueProblem(value, FORMAT),
  owned: (key) => OWNED.find(([re]) => re.test(nameOf(key)))?.[1] ?? null,
  secret: (key) => looksSecret(nameOf(key)),
  apply: (files, list) =>
    editFile(
      files,
      () => true,
      (body) =>
        setElementLines(
          body,
          list.filter((o) => KEY_RE.test(o.key)),
          { is: isSetting, line: settingLine, before: '</phone-settings>' },
        ),
    ),
};

export const driver: PhoneDriver = {
  id: 'snom-d7xx',
  vendor: 'Snom',
  label: 'Snom D7xx',
  aliases: ['snom', 'd7xx', 'd712', 'd713', 'd715', 'd717', 'd735', 'd785', 'snom d735', 'snom d785'],
  ouis: ['000413'],
  maxLines: MAX_LINES,
  columns: [],
  validate,
  fileNames,
  render,
  parseUserAgent,
  sampleUserAgent: 'Mozilla/4.0 (compatible; snomD735-SIP 10.1.54.13 1.1.3-u)',
  source: 'Snom settings as in the Wazo provd Snom plugin and FusionPBX snom templates',
  overrides,
};
