// Poly VVX (VVX 150 … 601) and Edge E (E100 … E550) SIP phones, UC Software 5.x–8.x. Renders two files:
// <mac>.cfg, the per-phone master configuration (which firmware to load and which configuration files to
// read), and <mac>-phone.cfg, the phone's settings as <polycomConfig> XML attributes.
//
// Sources followed (public templates; Poly's "UC Software Administrator Guide" names the same parameters):
// - Wazo provd Polycom plugin (wazo-platform/wazo-provd-plugins, plugins/xivo-polycom): the master file
//   <APPLICATION APP_FILE_PATH="…sip.ld" CONFIG_FILES="…"/> (a per-MAC <mac>.cfg overrides the
//   000000000000.cfg default), `reg.N.address`, `reg.N.auth.userId`, `reg.N.auth.password`,
//   `reg.N.displayName`, `reg.N.label`, `reg.N.server.1.address`, `reg.N.server.1.port`,
//   `tcpIpApp.sntp.address`, `tcpIpApp.sntp.gmtOffset` (seconds), `tcpIpApp.sntp.daylightSavings.enable`.
// - FusionPBX polycom templates: `device.set="1"` to apply device.* values, `device.prov.serverName`,
//   `device.prov.serverType` (HTTP/HTTPS/TFTP), `device.prov.user`/`device.prov.password`,
//   `device.auth.localAdminPassword` with its `.set="1"`, `prov.polling.enabled`/`prov.polling.period`.
// - User agents: "FileTransport PolycomVVX-VVX_411-UA/5.9.5.0614" and "FileTransport PolyEdge-Edge_E350-UA/8.0.2";
//   the phone asks for <mac>.cfg in lower case, then 000000000000.cfg (common), the firmware sip.ld
//   relative to APP_FILE_PATH.
// - Overrides (`provision set`): any parameter, as an attribute of <mac>-phone.cfg: its value is replaced, or
//   it is added to the element named by its first segment (<reg …/>, <device …/>; a new one when there is
//   none; the phone reads attributes whatever element holds them). A device.* parameter also gets its
//   ".set" companion set to 1 (the phone ignores device.* values without it) unless that is overridden too.
//   The account credentials (reg.N.address, reg.N.auth.*), the provisioning server keys (device.prov.*) and
//   the admin password (device.auth.localAdminPassword) are Switchboard's.
import type { FieldProblem, Override, OverrideStyle, Phone, PhoneDriver, ProvisionSettings, RenderedFile, UserAgentInfo } from './contract.js';
import { editFile, lineValueProblem, looksSecret, xmlNameProblem } from './override-styles.js';
import { commonProblems, lf, splitUrl, xmlEscape } from './util.js';

const MAX_LINES = 12;
const CONTENT_TYPE = 'application/xml; charset=utf-8';

type CommonSettings = Omit<ProvisionSettings, 'version'>;

const attr = (key: string, value: string | number) => `    ${key}="${xmlEscape(String(value))}"`;

function master(configFiles: string, firmware: string): string {
  return lf([
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
    '<APPLICATION',
    `  APP_FILE_PATH="${xmlEscape(firmware)}"`,
    `  CONFIG_FILES="${xmlEscape(configFiles)}"`,
    '  MISC_FILES="" LOG_FILE_DIRECTORY="" OVERRIDES_DIRECTORY="" CONTACTS_DIRECTORY="" LICENSE_DIRECTORY=""/>',
  ]);
}

function serverType(url: string): string {
  const s = splitUrl(url).scheme;
  return s === 'https' ? 'HTTPS' : s === 'tftp' ? 'TFTP' : s === 'ftp' ? 'FTP' : 'HTTP';
}

function render(phone: Phone, s: ProvisionSettings): RenderedFile[] {
  const r = `reg.${phone.line}`;
  const u = splitUrl(s.configUrl);
  const settings = lf([
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
    `<!-- Poly configuration for ${phone.mac}, written by Switchboard; config version ${s.version} -->`,
    '<polycomConfig>',
    '  <reg',
    attr(`${r}.address`, phone.extension),
    attr(`${r}.auth.userId`, phone.authUser),
    attr(`${r}.auth.password`, phone.password),
    attr(`${r}.displayName`, phone.name),
    attr(`${r}.label`, phone.name),
    attr(`${r}.server.1.address`, phone.server),
    attr(`${r}.server.1.port`, phone.port),
    '  />',
    '  <tcpIpApp',
    attr('tcpIpApp.sntp.address', s.ntpServer),
    attr('tcpIpApp.sntp.gmtOffset', s.utcOffsetMinutes * 60),
    attr('tcpIpApp.sntp.daylightSavings.enable', 0),
    '  />',
    '  <device',
    attr('device.set', 1),
    attr('device.prov.serverType', serverType(s.configUrl)),
    attr('device.prov.serverType.set', 1),
    attr('device.prov.serverName', `${u.hostPort}${u.path}`),
    attr('device.prov.serverName.set', 1),
    ...(s.auth ? [attr('device.prov.user', s.auth.user), attr('device.prov.user.set', 1), attr('device.prov.password', s.auth.password), attr('device.prov.password.set', 1)] : []),
    attr('device.auth.localAdminPassword', s.adminPassword),
    attr('device.auth.localAdminPassword.set', 1),
    '  />',
    '  <prov',
    attr('prov.polling.enabled', 1),
    attr('prov.polling.period', 3600),
    '  />',
    '</polycomConfig>',
  ]);
  const [own, mine] = fileNames(phone.mac) as [string, string];
  return [
    { name: own, contentType: CONTENT_TYPE, body: master(mine, s.firmwareUrl ?? 'sip.ld') },
    { name: mine, contentType: CONTENT_TYPE, body: settings },
  ];
}

function fileNames(mac: string): string[] {
  const m = mac.toLowerCase();
  return [`${m}.cfg`, `${m}-phone.cfg`];
}

function validate(phone: Phone): FieldProblem[] {
  return commonProblems(phone, { vendor: 'Poly', lineFormat: 'configuration attributes', label: 'Poly VVX/Edge E', maxLines: MAX_LINES, maxName: 64, maxPassword: 64, maxServer: 255 });
}

function commonFile(name: string, _s: CommonSettings): RenderedFile | null {
  if (name !== '000000000000.cfg') return null;
  // A phone without its own master file reads its settings file by its MAC ([PHONE_MAC_ADDRESS]).
  return { name, contentType: CONTENT_TYPE, body: master('[PHONE_MAC_ADDRESS]-phone.cfg', 'sip.ld') };
}

// "FileTransport PolycomVVX-VVX_411-UA/5.9.5.0614", "FileTransport PolyEdge-Edge_E350-UA/8.0.2.1234"
const UA_RE = /Poly(?:com)?(VVX|Edge|SoundPoint\w*)-([A-Za-z]+_?[0-9A-Za-z]+)-UA\/([\w.]+)/;

function parseUserAgent(ua: string): UserAgentInfo | null {
  const m = UA_RE.exec(ua);
  if (!m) return null;
  return { vendor: 'Poly', model: m[2]!.replace('_', ' '), firmware: m[3]! };
}

const FORMAT = 'Poly configuration parameters';
const NAME_RE = /^[A-Za-z_][A-Za-z0-9._-]*$/;
const OWNED: [RegExp, string][] = [
  [/^reg\.\d+\.(address|auth\..+)$/, "an account credential (from the phone's row: provision it again to change it)"],
  [/^device\.prov\.(serverName|serverType|user|password)(\.set)?$/, 'the provisioning server and its credentials'],
  [/^device\.auth\.localAdminPassword(\.set)?$/, 'the admin password (provision.adminPassword)'],
];

/** Sets each parameter as an attribute of the settings file (see the header). */
function applyAttributes(body: string, list: Override[]): string {
  const lines = body.split('\n');
  const explicit = new Set(list.map((o) => o.key));
  const all = list.flatMap((o) => (o.key.startsWith('device.') && !o.key.endsWith('.set') && !explicit.has(`${o.key}.set`) ? [o, { key: `${o.key}.set`, value: '1' }] : [o]));
  for (const { key, value } of all) {
    if (!NAME_RE.test(key)) continue;
    const at = lines.findIndex((l) => l.startsWith(`    ${key}="`));
    if (at >= 0) {
      lines[at] = attr(key, value);
      continue;
    }
    const group = key.split('.')[0]!;
    const open = lines.indexOf(`  <${group}`);
    const close = open >= 0 ? lines.indexOf('  />', open) : -1;
    if (close >= 0) lines.splice(close, 0, attr(key, value));
    else lines.splice(lines.lastIndexOf('</polycomConfig>'), 0, `  <${group}`, attr(key, value), '  />');
  }
  return lines.join('\n');
}

const overrides: OverrideStyle = {
  describe: `${FORMAT} (attributes of <mac>-phone.cfg), e.g. up.backlight.idleIntensity or feature.callRecording.enabled`,
  example: { key: 'up.backlight.idleIntensity', value: '1' },
  key(key) {
    const problem = xmlNameProblem(key, FORMAT, 'attribute');
    return problem ? { problem } : { key };
  },
  valueProblem: (_key, value) => lineValueProblem(value, FORMAT),
  owned: (key) => OWNED.find(([re]) => re.test(key))?.[1] ?? null,
  secret: (key) => looksSecret(key),
  apply: (files, list) =>
    editFile(
      files,
      (f) => f.body.includes('<polycomConfig>'),
      (body) => applyAttributes(body, list),
    ),
};

export const driver: PhoneDriver = {
  id: 'poly-vvx',
  vendor: 'Poly',
  label: 'Poly VVX/Edge E',
  aliases: ['poly', 'polycom', 'vvx', 'edge', 'edge e', 'vvx250', 'vvx350', 'vvx411', 'vvx450', 'e350', 'e450', 'e550', 'polycom vvx', 'poly edge'],
  ouis: ['0004f2', '64167f', '482567'],
  maxLines: MAX_LINES,
  columns: [],
  validate,
  fileNames,
  render,
  commonFile,
  parseUserAgent,
  sampleUserAgent: 'FileTransport PolycomVVX-VVX_411-UA/5.9.5.0614',
  source: 'Poly UC Software parameters as in the Wazo provd Polycom plugin and FusionPBX polycom templates',
  overrides,
};
