// Helpers shared by the phone drivers: field checks that every vendor format needs, XML escaping, MACs.
// Pure functions only (drivers must stay pure and deterministic).
import type { FieldProblem, Phone } from './contract.js';

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LINE_BREAK = /[\r\n\u0085\u2028\u2029]/;
export const EXTENSION_RE = /^[0-9A-Za-z.*#+_-]{1,32}$/;
const HOST_RE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The phone fields a driver writes into its file, with the names the core and the sheet use. */
export function textFields(phone: Phone): [field: string, value: string][] {
  return [
    ['name', phone.name],
    ['extension', phone.extension],
    ['auth_user', phone.authUser],
    ['password', phone.password],
    ['server', phone.server],
  ];
}

/** Length in characters as a person counts them (code points, so 'ç' is one). */
export function charLength(s: string): number {
  return [...s].length;
}

export interface LimitSpec {
  /** Vendor name for messages: 'Fanvil', 'AudioCodes'. */
  vendor: string;
  /** What the line format is called in messages: 'config lines', 'key=value lines'. */
  lineFormat: string;
  /** Label and line count of the model, for the line check. */
  label: string;
  maxLines: number;
  maxName: number;
  maxPassword: number;
  maxServer: number;
}

/**
 * The checks every line-based vendor format shares: control characters and line breaks in any field,
 * leading/trailing spaces (the vendor's parser trims them), lengths, extension/auth user characters, the
 * server as host name or IPv4, the port and the line number. One problem per field at most.
 */
export function commonProblems(phone: Phone, spec: LimitSpec): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  const bad = (field: string, message: string) => {
    if (seen.has(field)) return;
    seen.add(field);
    problems.push({ field, message });
  };

  for (const [field, value] of textFields(phone)) {
    if (LINE_BREAK.test(value)) bad(field, `has a line break; ${spec.vendor} ${spec.lineFormat} cannot carry it`);
    else if (CONTROL.test(value)) {
      const code = value.match(CONTROL)![0].codePointAt(0)!;
      bad(field, `has a control character (code ${code}); ${spec.vendor} ${spec.lineFormat} cannot carry it`);
    } else if (value !== value.trim()) bad(field, `starts or ends with a space, which ${spec.vendor} phones strip from ${spec.lineFormat}`);
  }

  if (charLength(phone.name) > spec.maxName) bad('name', `is ${charLength(phone.name)} characters long; a ${spec.vendor} display name holds at most ${spec.maxName}`);
  if (!phone.password) bad('password', 'is empty');
  else if (charLength(phone.password) > spec.maxPassword) bad('password', `is ${charLength(phone.password)} characters long; ${spec.vendor} phones accept at most ${spec.maxPassword}`);
  if (!EXTENSION_RE.test(phone.extension)) bad('extension', `"${clip(phone.extension)}" may only hold letters, digits and . * # + _ - (1 to 32 of them)`);
  if (!EXTENSION_RE.test(phone.authUser)) bad('auth_user', `"${clip(phone.authUser)}" may only hold letters, digits and . * # + _ - (1 to 32 of them)`);
  if (phone.server.length > spec.maxServer) bad('server', `is ${phone.server.length} characters long; ${spec.vendor} phones accept at most ${spec.maxServer}`);
  else if (!HOST_RE.test(phone.server) && !IPV4_RE.test(phone.server)) bad('server', `"${clip(phone.server)}" is not a host name or IPv4 address`);
  if (!Number.isInteger(phone.port) || phone.port < 1 || phone.port > 65535) bad('port', `${phone.port} is not a port number from 1 to 65535`);
  if (!Number.isInteger(phone.line) || phone.line < 1) bad('line', `${phone.line} is not a line number (1 to ${spec.maxLines})`);
  else if (phone.line > spec.maxLines) bad('line', `line ${phone.line}: ${spec.label} has ${spec.maxLines} line${spec.maxLines === 1 ? '' : 's'}`);
  return problems;
}

function clip(s: string): string {
  const oneLine = s.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return oneLine.length > 40 ? `${oneLine.slice(0, 40)}…` : oneLine;
}

/** Escape text for an XML element or attribute value. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Any common MAC notation (colons, dashes, dots, spaces or none) → 12 lower-case hex digits, or undefined. */
export function normMac(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const hex = s.replace(/[\s:.-]/g, '').toLowerCase();
  return /^[0-9a-f]{12}$/.test(hex) ? hex : undefined;
}

/** 'aabbccddeeff' → 'aa:bb:cc:dd:ee:ff'. */
export function colonMac(mac: string): string {
  return mac.match(/../g)!.join(':');
}

/** The URL with HTTP basic-auth credentials embedded as userinfo (percent-encoded). */
export function urlWithAuth(url: string, auth: { user: string; password: string } | undefined): string {
  if (!auth) return url;
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/i.exec(url);
  if (!m) return url;
  return `${m[1]}${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@${m[2]}`;
}

/** Offset in minutes → "-03:00" / "+05:30". */
export function hhmmOffset(minutes: number): string {
  const abs = Math.abs(Math.round(minutes));
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Offset in minutes → a POSIX TZ string without DST: -180 → "<-03>3", +330 → "<+0530>-5:30". */
export function posixTz(minutes: number): string {
  const abs = Math.abs(Math.round(minutes));
  const h = Math.floor(abs / 60);
  const m = abs % 60;
  const sign = minutes < 0 ? '-' : '+';
  const name = `<${sign}${String(h).padStart(2, '0')}${m ? String(m).padStart(2, '0') : ''}>`;
  return `${name}${minutes > 0 ? '-' : ''}${h}${m ? `:${String(m).padStart(2, '0')}` : ''}`;
}

/** The host of a URL and the rest after it ("http://h:8080/provision/" → { scheme: 'http', hostPort: 'h:8080', path: '/provision/' }). */
export function splitUrl(url: string): { scheme: string; hostPort: string; path: string } {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(\/.*)?$/i.exec(url);
  if (!m) return { scheme: '', hostPort: url, path: '/' };
  return { scheme: m[1]!.toLowerCase(), hostPort: m[2]!, path: m[3] ?? '/' };
}

/** A value for a "key = value" line: an empty one is written as Yealink's %NULL% elsewhere; here only checked. */
export const lf = (lines: string[]): string => `${lines.join('\n')}\n`;
