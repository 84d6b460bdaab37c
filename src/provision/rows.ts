// Sheet rows (or one inline phone) → phone drafts with every problem found, before anything is written.
// Pure: store-dependent checks (MACs and extensions already provisioned, DHCP) live in the service.
import { parseMac, macProblem, isMulticastMac, macHex, fmtMac } from '../util/mac.js';
import { pick, type Sheet } from '../util/sheet.js';
import type { DriverSet } from './drivers.js';
import type { Phone, PhoneDriver } from '../../drivers/phones/contract.js';

/** A phone as a sheet row (or an inline command) describes it, checked, with its driver instead of a model id. */
export interface PhoneDraft extends Omit<Phone, 'model'> {
  /** Sheet row number (1 for an inline phone). */
  row: number;
  driver: PhoneDriver;
  /** Dotted quad or 'auto': also reserve the address in DHCP. */
  ip?: string;
  /** The password already sealed (when the draft came through a job's arguments). */
  sealed?: string;
}

export interface RowProblem {
  row: number;
  field?: string;
  message: string;
}

/** Common columns and the header names accepted for them (normalised: lower case, no accents, underscores). */
export const COMMON_COLUMNS: { name: string; aliases: string[]; required: boolean; description: string }[] = [
  { name: 'mac', aliases: ['mac', 'mac_address', 'macaddress', 'endereco_mac'], required: true, description: 'MAC address, any common notation' },
  { name: 'extension', aliases: ['extension', 'ext', 'ramal'], required: true, description: 'SIP extension (user)' },
  { name: 'name', aliases: ['name', 'nome', 'display_name'], required: false, description: 'display name (default: the extension)' },
  { name: 'password', aliases: ['password', 'senha', 'secret'], required: true, description: 'SIP password' },
  { name: 'server', aliases: ['server', 'servidor', 'registrar', 'pbx'], required: false, description: 'registrar/proxy (default: provision.defaultServer)' },
  { name: 'port', aliases: ['port', 'porta'], required: false, description: 'registrar SIP port (default: provision.sipPort)' },
  { name: 'auth_user', aliases: ['auth_user', 'usuario'], required: false, description: 'SIP auth user (default: the extension)' },
  { name: 'line', aliases: ['line', 'linha'], required: false, description: 'account/line number on the phone (default 1)' },
  { name: 'ip', aliases: ['ip', 'ip_address', 'endereco_ip'], required: false, description: 'IPv4 or "auto": also reserve it in DHCP' },
  { name: 'room', aliases: ['room', 'sala', 'local'], required: false, description: 'room or place' },
  { name: 'model', aliases: ['model', 'modelo'], required: false, description: 'driver per row (mixed sheets)' },
];

const CONTROL = /[\u0000-\u001f\u007f]/;
const EXT_RE = /^[0-9A-Za-z.*#+_-]{1,32}$/;
const HOST_RE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const IP_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export interface DraftDefaults {
  /** Driver named in the command; rows may name their own in a model column. */
  driver?: PhoneDriver;
  server?: string;
  port: number;
}

function controlProblem(field: string, v: string): string | null {
  if (!CONTROL.test(v)) return null;
  if (/[\r\n]/.test(v)) return `${field} has a line break; phone config lines cannot carry it`;
  return `${field} has a control character (code ${v.match(CONTROL)![0].charCodeAt(0)}); remove it`;
}

/** One row's cells (by common column name, extras by their own name) → a draft, or its problems. */
export function draftFromCells(row: number, cells: Record<string, string | undefined>, drivers: DriverSet, d: DraftDefaults): { draft?: PhoneDraft; problems: RowProblem[] } {
  const problems: RowProblem[] = [];
  const bad = (field: string, message: string) => problems.push({ row, field, message });
  const get = (k: string) => String(cells[k] ?? '').trim();

  let driver = d.driver;
  const modelCell = get('model');
  if (modelCell) {
    const found = drivers.find(modelCell);
    if (!found) bad('model', `model "${modelCell}" is not known (known: ${drivers.names()})`);
    else driver = found;
  } else if (!driver) bad('model', `no model: name one in the command (provision <model>) or in a model column (known: ${drivers.names()})`);

  const macRaw = get('mac');
  const mac = parseMac(macRaw);
  if (!mac) bad('mac', macProblem(macRaw));
  else if (isMulticastMac(mac)) bad('mac', `${mac} is a multicast address, not a phone's`);

  const extension = get('extension');
  if (!extension) bad('extension', 'extension is empty');
  else if (!EXT_RE.test(extension)) bad('extension', `extension "${extension.slice(0, 40)}" may only hold letters, digits and . * # + _ - (at most 32)`);

  const password = String(cells.password ?? '');
  if (!password.trim()) bad('password', 'password is empty');
  else if (password !== password.trim()) bad('password', 'password starts or ends with a space; phones trim it');

  const name = get('name') || extension;
  const authUser = get('auth_user') || extension;
  if (authUser && !EXT_RE.test(authUser)) bad('auth_user', `auth user "${authUser.slice(0, 40)}" may only hold letters, digits and . * # + _ - (at most 32)`);

  const server = get('server') || d.server || '';
  if (!server) bad('server', 'server is empty and no provision.defaultServer is configured');
  else if (!HOST_RE.test(server)) bad('server', `server "${server.slice(0, 60)}" is not a host name or IPv4 address`);

  let port = d.port;
  const portCell = get('port');
  if (portCell) {
    port = Number(portCell);
    if (!/^\d+$/.test(portCell) || port < 1 || port > 65535) bad('port', `port "${portCell}" is not a number from 1 to 65535`);
  }

  let line = 1;
  const lineCell = get('line');
  if (lineCell) {
    line = Number(lineCell);
    if (!/^\d+$/.test(lineCell) || line < 1) bad('line', `line "${lineCell}" is not a positive number`);
    else if (driver && line > driver.maxLines) bad('line', `line ${line}: ${driver.label} has ${driver.maxLines} line${driver.maxLines === 1 ? '' : 's'}`);
  }

  const ipCell = get('ip').toLowerCase();
  let ip: string | undefined;
  if (ipCell) {
    if (ipCell === 'auto' || IP_RE.test(ipCell)) ip = ipCell;
    else bad('ip', `ip "${ipCell.slice(0, 40)}" is not an IPv4 address or "auto"`);
  }

  const room = get('room') || undefined;
  if (room && room.length > 255) bad('room', 'room is longer than 255 characters');
  if (name.length > 255) bad('name', 'name is longer than 255 characters');

  for (const [field, v] of [
    ['name', String(cells.name ?? '')],
    ['room', String(cells.room ?? '')],
    ['server', String(cells.server ?? '')],
    ['extension', String(cells.extension ?? '')],
    ['password', password],
  ] as const) {
    const p = controlProblem(field, v.trim() === v ? v : v.trim());
    if (p) bad(field, p);
  }

  const extra: Record<string, string> = {};
  if (driver)
    for (const c of driver.columns) {
      const v = pick(cells as Record<string, string>, [c.name, ...(c.aliases ?? [])]);
      if (v !== undefined && String(v).trim()) extra[c.name] = String(v).trim();
      else if (c.required) bad(c.name, `${c.name} is empty (${c.description})`);
    }

  if (problems.length || !driver || !mac) return { problems };
  const draft: PhoneDraft = { row, driver, mac: macHex(mac), extension, name, authUser, password, server, port, line, room, ip, extra };
  // Vendor-format limits, unless the core already named a problem with that field.
  const seen = new Set(problems.map((p) => p.field));
  for (const p of driver.validate({ ...draft, model: driver.id })) if (!seen.has(p.field)) bad(p.field, p.message);
  return problems.length ? { problems } : { draft, problems };
}

export interface SheetDrafts {
  drafts: PhoneDraft[];
  problems: RowProblem[];
  /** Columns the sheet has that nothing reads. */
  ignored: string[];
}

/** Every row of a sheet → drafts and problems; duplicates within the sheet are problems of the later row. */
export function draftsFromSheet(sheet: Sheet, drivers: DriverSet, d: DraftDefaults): SheetDrafts {
  const problems: RowProblem[] = [];
  const colOf = new Map<string, string>(); // sheet key → common/extra name
  for (const c of COMMON_COLUMNS) {
    const k = c.aliases.find((a) => sheet.keys.includes(a));
    if (k) colOf.set(k, c.name);
  }
  const extraCols = new Map<string, string>();
  for (const drv of drivers.list) for (const c of drv.columns) for (const a of [c.name, ...(c.aliases ?? [])]) if (sheet.keys.includes(a) && !colOf.has(a)) extraCols.set(a, c.name);
  const missing = COMMON_COLUMNS.filter((c) => c.required && !c.aliases.some((a) => sheet.keys.includes(a)));
  if (missing.length) {
    const names = missing.map(
      (c) =>
        `"${c.name}" (or ${c.aliases
          .filter((a) => a !== c.name)
          .map((a) => `"${a}"`)
          .join(', ')})`,
    );
    problems.push({ row: 1, message: `the header row has no ${names.join(' and no ')} column; it has: ${sheet.headers.join(', ')}` });
    return { drafts: [], problems, ignored: [] };
  }
  const ignored = sheet.keys.filter((k) => !colOf.has(k) && !extraCols.has(k)).map((k) => sheet.headers[sheet.keys.indexOf(k)]!);
  const drafts: PhoneDraft[] = [];
  const macRow = new Map<string, number>();
  const extRow = new Map<string, number>();
  for (const r of sheet.rows) {
    for (const issue of r.issues) problems.push({ row: r.row, message: issue });
    const cells: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.cells)) cells[colOf.get(k) ?? extraCols.get(k) ?? k] = v;
    // Formula cells are reported as such (by row and column, never their text or computed result); do not
    // also complain about their values, which could echo a password.
    const formulaFields = new Set((r.formulas ?? []).map((k) => colOf.get(k) ?? extraCols.get(k) ?? k));
    for (const f of formulaFields) cells[f] = '';
    const { draft, problems: ps } = draftFromCells(r.row, cells, drivers, d);
    problems.push(...ps.filter((p) => !(p.field && formulaFields.has(p.field))));
    if (!draft || r.issues.length) continue;
    const m = macRow.get(draft.mac);
    if (m !== undefined) {
      problems.push({ row: r.row, field: 'mac', message: `MAC ${fmtMac(draft.mac)} is also on row ${m}` });
      continue;
    }
    macRow.set(draft.mac, r.row);
    const extKey = `${draft.server.toLowerCase()}/${draft.extension}`;
    const e = extRow.get(extKey);
    if (e !== undefined) {
      problems.push({ row: r.row, field: 'extension', message: `extension ${draft.extension} is also on row ${e}` });
      continue;
    }
    extRow.set(extKey, r.row);
    drafts.push(draft);
  }
  problems.sort((a, b) => a.row - b.row);
  return { drafts, problems, ignored };
}

/** The first `max` problems as bullet lines; `more` is said after "… and N more" (e.g. where the rest are). */
export function formatProblems(problems: RowProblem[], max = 50, more = ''): string {
  const lines = problems.slice(0, max).map((p) => (p.row <= 1 && !p.field ? `• ${p.message}` : `• row ${p.row}${p.field ? ` (${p.field})` : ''}: ${p.message}`));
  if (problems.length > max) lines.push(`… and ${problems.length - max} more${more}`);
  return lines.join('\n');
}
