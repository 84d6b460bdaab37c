// Pure helpers of the toll-fraud checks: number normalisation, call direction, foreign prefixes, and
// business hours (parsed from the `monitor fraud hours` syntax, evaluated in a time zone with Luxon).
import { DateTime, IANAZone } from 'luxon';
import type { BusinessHours, CallIn } from './types.js';

export type Direction = 'out' | 'in' | 'local';

/** Digits only, with a leading '+' rewritten to the international prefix ("+44 20-7946" → "00442079 46"). */
export function normalizeNumber(n: string | undefined | null, intl: string): string {
  const s = (n ?? '').trim();
  const digits = s.replace(/[^0-9*#]/g, '');
  return s.startsWith('+') ? intl + digits : digits;
}

/** A number outside the PBX: 7 or more digits (extensions and feature codes are shorter). */
export const isOutside = (normalized: string): boolean => /^\d{7,}$/.test(normalized);

export function isForeign(normalized: string, intl: string, home: string): boolean {
  return normalized.startsWith(intl) && normalized.length > intl.length + 3 && !(home && normalized.startsWith(intl + home));
}

/**
 * Which way a call went. Asterisk's dcontext tells when the agent sends it (from-internal: dialled by an
 * extension; from-trunk / from-pstn / ext-did / from-did: came in on a trunk); otherwise the numbers do: an
 * outside destination is outbound, an outside caller to an inside number inbound.
 */
export function directionOf(c: CallIn, intl: string): { direction: Direction; peer: string | null } {
  const src = normalizeNumber(c.src, intl);
  const dst = normalizeNumber(c.dst, intl);
  const ctx = (c.dcontext ?? '').toLowerCase();
  if (/from-(trunk|pstn|did)|ext-did/.test(ctx) && isOutside(src)) return { direction: 'in', peer: src };
  if (isOutside(dst)) return { direction: 'out', peer: dst };
  if (isOutside(src)) return { direction: 'in', peer: src };
  return { direction: 'local', peer: null };
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/**
 * `mon-fri 08:00-18:00 [tz=Area/City]`, `mon,wed,fri 09:00-13:00`, `sat-sun 00:00-24:00`, `always` (every
 * call is in business hours: no off-hours check), `never` (every outside call is off-hours).
 */
export function parseHours(spec: string): BusinessHours {
  const words = spec.trim().toLowerCase().split(/\s+/).filter(Boolean);
  let tz: string | undefined;
  const rest: string[] = [];
  for (const w of words) {
    const m = /^tz=(.+)$/i.exec(w);
    if (m) tz = spec.match(/tz=(\S+)/i)![1];
    else rest.push(w);
  }
  if (tz && !IANAZone.isValidZone(tz)) throw new Error(`tz=${tz}: not an IANA time zone (e.g. America/Sao_Paulo)`);
  if (rest.length === 1 && rest[0] === 'always') return { days: [0, 1, 2, 3, 4, 5, 6], start: '00:00', end: '24:00', tz };
  if (rest.length === 1 && rest[0] === 'never') return { days: [], start: '00:00', end: '00:00', tz };
  if (rest.length !== 2) throw new Error(`business hours "${spec}": expected e.g. mon-fri 08:00-18:00 [tz=America/Sao_Paulo], always or never`);
  const days = new Set<number>();
  for (const part of rest[0]!.split(',')) {
    const [a, b] = part.split('-');
    const i = DAYS.indexOf(a!.slice(0, 3));
    const j = b === undefined ? i : DAYS.indexOf(b.slice(0, 3));
    if (i < 0 || j < 0) throw new Error(`business hours: "${part}" is not a day or range of days (mon, tue, … or mon-fri)`);
    for (let d = i; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === j) break;
    }
  }
  const m = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(rest[1]!);
  if (!m || Number(m[1]) > 24 || Number(m[2]) > 59 || Number(m[3]) > 24 || Number(m[4]) > 59) throw new Error(`business hours: "${rest[1]}" is not a time range like 08:00-18:00`);
  return { days: [...days].sort(), start: `${m[1]}:${m[2]}`, end: `${m[3]}:${m[4]}`, tz };
}

export function formatHours(h: BusinessHours, defaultTz: string): string {
  const zone = h.tz ?? defaultTz;
  if (h.days.length === 7 && h.start === '00:00' && h.end === '24:00') return `always (no off-hours check)`;
  if (!h.days.length || h.start === h.end) return `never (every outside call is off-hours)`;
  const names = h.days.map((d) => DAYS[d]!);
  const consecutive = h.days.every((d, i) => i === 0 || d === h.days[i - 1]! + 1);
  const days = consecutive && names.length > 2 ? `${names[0]}-${names[names.length - 1]}` : names.join(',');
  return `${days} ${h.start}-${h.end} ${zone}`;
}

export function serializeHours(h: BusinessHours): string {
  return `${h.days.map((d) => DAYS[d]).join(',') || 'never'} ${h.start}-${h.end}${h.tz ? ` tz=${h.tz}` : ''}`.replace(/^never 00:00-00:00/, 'never');
}

/** True when `at` falls in business hours (start inclusive, end exclusive), in the hours' zone. */
export function inBusinessHours(at: number, h: BusinessHours, defaultTz: string): boolean {
  const d = DateTime.fromMillis(at, { zone: h.tz ?? defaultTz });
  if (!h.days.includes(d.weekday % 7)) return false;
  const hm = d.toFormat('HH:mm');
  return hm >= h.start && hm < h.end;
}

/** The machine's zone, or the configured one (validated). */
export function zoneOf(configured: string | undefined): string {
  const z = configured ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
  if (!IANAZone.isValidZone(z)) throw new Error(`config key "monitor.timezone" has value "${z}": must be an IANA time zone such as America/Sao_Paulo`);
  return z;
}
