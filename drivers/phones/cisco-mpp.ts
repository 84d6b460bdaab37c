// Cisco IP Phone 6800 / 7800 / 8800 with Multiplatform (3PCC) firmware. Renders <mac>.xml: a <flat-profile>
// of <Parameter_Name_N_ ua="na">value</…> elements, UTF-8.
//
// Sources followed (public templates; Cisco's "Multiplatform Phones Provisioning Guide" describes the same
// parameters and the $MA/$PSN macros):
// - Wazo provd Cisco SPA/SIP plugins (wazo-platform/wazo-provd-plugins, plugins/xivo-cisco-spa): the
//   <flat-profile> root, `Line_Enable_N_`, `Display_Name_N_`, `User_ID_N_`, `Password_N_`, `Auth_ID_N_`,
//   `Use_Auth_ID_N_`, `Proxy_N_`, `Station_Display_Name`, `Primary_NTP_Server`, `Time_Zone` ("GMT-03:00"),
//   `Profile_Rule`, `Resync_Periodic` (seconds), `Upgrade_Rule` (firmware URL).
// - FusionPBX cisco 88xx/78xx MPP templates: `ua="na"` (the user may not change the value), `Admin_Password`
//   on MPP firmware 11.x (the SPA's `Admin_Passwd`), `Short_Name_N_` for the line key label, and the
//   "[--uid user --pwd password]URL" form of a profile rule that needs HTTP credentials.
// - User agent: "Cisco-CP-8841-3PCC/11.3.7 (00562b043615)"; the factory profile rule asks for $PSN.xml
//   (cp-8841-3pcc.xml, common), the rule written here for $MA.xml (<mac>.xml, lower case).
// - Overrides (`provision set`): any parameter by its element name (Dial_Plan_1_, Voice_Mail_Number); its
//   element is replaced or added at the end of <flat-profile>, with ua="na" like the others. The line
//   credentials (User_ID_N_, Auth_ID_N_, Password_N_), the admin password, the profile rule and the
//   upgrade rule are Switchboard's.
import type { FieldProblem, OverrideStyle, Phone, PhoneDriver, ProvisionSettings, RenderedFile, UserAgentInfo } from './contract.js';
import { editFile, lineValueProblem, looksSecret, setElementLines, xmlNameProblem } from './override-styles.js';
import { commonProblems, hhmmOffset, lf, normMac, xmlEscape } from './util.js';

const MAX_LINES = 16;
const CONTENT_TYPE = 'application/xml; charset=utf-8';
const COMMON_RE = /^cp-?\d{4}[a-z0-9-]*\.xml$/i;

type CommonSettings = Omit<ProvisionSettings, 'version'>;

const el = (key: string, value: string | number) => `  <${key} ua="na">${xmlEscape(String(value))}</${key}>`;

function profileRule(s: CommonSettings, withAuth: boolean): string {
  const url = `${s.configUrl}$MA.xml`;
  return withAuth && s.auth ? `[--uid ${s.auth.user} --pwd ${s.auth.password}]${url}` : url;
}

function provisioning(s: CommonSettings, withAuth: boolean): string[] {
  return [el('Provision_Enable', 'Yes'), el('Resync_On_Reset', 'Yes'), el('Resync_Periodic', 3600), el('Profile_Rule', profileRule(s, withAuth))];
}

function render(phone: Phone, s: ProvisionSettings): RenderedFile[] {
  const n = `${phone.line}_`;
  const body = lf([
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<!-- Cisco MPP configuration for ${phone.mac}, written by Switchboard; config version ${s.version} -->`,
    '<flat-profile>',
    el(`Line_Enable_${n}`, 'Yes'),
    el(`Display_Name_${n}`, phone.name),
    el(`Short_Name_${n}`, phone.name),
    el(`User_ID_${n}`, phone.extension),
    el(`Auth_ID_${n}`, phone.authUser),
    el(`Use_Auth_ID_${n}`, 'Yes'),
    el(`Password_${n}`, phone.password),
    el(`Proxy_${n}`, `${phone.server}:${phone.port}`),
    el('Station_Display_Name', phone.name),
    el('Primary_NTP_Server', s.ntpServer),
    el('Time_Zone', `GMT${hhmmOffset(s.utcOffsetMinutes)}`),
    el('Daylight_Saving_Time_Enable', 'No'),
    el('Admin_Password', s.adminPassword),
    ...provisioning(s, true),
    ...(s.firmwareUrl ? [el('Upgrade_Enable', 'Yes'), el('Upgrade_Rule', s.firmwareUrl)] : []),
    '</flat-profile>',
  ]);
  return [{ name: fileNames(phone.mac)[0]!, contentType: CONTENT_TYPE, body }];
}

function fileNames(mac: string): string[] {
  return [`${mac.toLowerCase()}.xml`];
}

function validate(phone: Phone): FieldProblem[] {
  return commonProblems(phone, { vendor: 'Cisco', lineFormat: 'profile parameters', label: 'Cisco MPP 68xx/78xx/88xx', maxLines: MAX_LINES, maxName: 63, maxPassword: 127, maxServer: 255 });
}

function validateSettings(s: { adminPassword: string }): FieldProblem[] {
  // The "[--uid … --pwd …]" rule is space-separated; config already refuses spaces in passwords.
  return /\s/.test(s.adminPassword) ? [{ field: 'adminPassword', message: 'contains a space, which a Cisco profile rule cannot carry' }] : [];
}

function commonFile(name: string, s: CommonSettings): RenderedFile | null {
  if (!COMMON_RE.test(name)) return null;
  return {
    name,
    contentType: CONTENT_TYPE,
    body: lf(['<?xml version="1.0" encoding="UTF-8"?>', '<!-- Cisco MPP common profile, written by Switchboard -->', '<flat-profile>', ...provisioning(s, false), '</flat-profile>']),
  };
}

// "Cisco-CP-8841-3PCC/11.3.7 (00562b043615)", "Cisco-CP6821-3PCC/11.3.1 (70db98123456)"
const UA_RE = /^\s*Cisco-(CP-?\d{4}[A-Z0-9]*)-3PCC\/(\S+)(?:\s*\(([^)]*)\))?/i;

function parseUserAgent(ua: string): UserAgentInfo | null {
  const m = UA_RE.exec(ua);
  if (!m) return null;
  const info: UserAgentInfo = { vendor: 'Cisco', model: m[1]!.toUpperCase(), firmware: m[2]! };
  const mac = normMac(m[3]);
  if (mac) info.mac = mac;
  return info;
}

const FORMAT = 'Cisco MPP flat-profile parameters';
const OWNED: [RegExp, string][] = [
  [/^(User_ID|Auth_ID|Password)_\d+_$/, "a line credential (from the phone's row: provision it again to change it)"],
  [/^(Profile_Rule(_[B-D])?|Provision_Enable)$/, 'the profile rule (where the phone fetches its configuration)'],
  [/^Admin_Passw(or)?d$/, 'the admin password (provision.adminPassword)'],
  [/^Upgrade_(Rule|Enable)$/, 'the firmware upgrade rule (provision firmware rollout/halt)'],
];

const overrides: OverrideStyle = {
  describe: `${FORMAT} (element names), e.g. Dial_Plan_1_ or Voice_Mail_Number`,
  example: { key: 'Voice_Mail_Number', value: '*97' },
  key(key) {
    const problem = xmlNameProblem(key, FORMAT);
    return problem ? { problem } : { key };
  },
  valueProblem: (_key, value) => lineValueProblem(value, FORMAT),
  owned: (key) => OWNED.find(([re]) => re.test(key))?.[1] ?? null,
  secret: (key) => looksSecret(key),
  apply: (files, list) =>
    editFile(
      files,
      () => true,
      (body) => setElementLines(body, list, { is: (l, k) => l.startsWith(`  <${k} `), line: (k, v) => el(k, v), before: '</flat-profile>' }),
    ),
};

export const driver: PhoneDriver = {
  id: 'cisco-mpp',
  vendor: 'Cisco',
  label: 'Cisco MPP 68xx/78xx/88xx',
  aliases: ['cisco', 'mpp', 'cisco mpp', '3pcc', 'cp-6821', 'cp-7841', 'cp-8841', 'cp-8851', 'cp-8861', '6821', '7841', '8841', '8851', '8861', '68xx', '78xx', '88xx'],
  ouis: ['00562b', '70db98'],
  maxLines: MAX_LINES,
  columns: [],
  validate,
  validateSettings,
  fileNames,
  render,
  commonFile,
  parseUserAgent,
  sampleUserAgent: 'Cisco-CP-8841-3PCC/11.3.7 (00562b043615)',
  source: 'Cisco MPP (3PCC) flat-profile parameters as in the Wazo provd Cisco SPA plugin and FusionPBX cisco templates',
  overrides,
};
