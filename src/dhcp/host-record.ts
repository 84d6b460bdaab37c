// One DHCP host as stored and as given: the input and record shapes, their rows (the dhcp_hosts and
// dhcp_history tables), a host's own field checks, and the codes a refused batch is reported with.
import { parseMac, macProblem, isMulticastMac } from '../util/mac.js';
import type { SbCode } from '../util/errors.js';
import type { Tables } from '../store/db.js';
import { HOSTNAME_RE, ipProblem, ipToNum, phoneProblem, BOOT_RE, textProblem, type Subnet } from './validate.js';

/**
 * One host to add or update. A field left undefined keeps an existing host's value (a new host gets the
 * default: ip auto, access 0, no room/owner/phones/comment/boot server); null or '' clears it.
 */
export interface HostInput {
  mac: string;
  ip?: string /* dotted quad or 'auto' */;
  hostname?: string;
  room?: string | null;
  phones?: string[];
  owner?: string | null;
  access?: number | string | null /* 0..3, default 0 */;
  comment?: string | null;
  bootServer?: string | null;
}
export interface HostRecord {
  mac: string;
  ip: string;
  hostname: string;
  room: string | null;
  phones: string[];
  owner: string | null;
  access: number;
  comment: string | null;
  bootServer: string | null;
  updatedBy: string;
  updatedAt: number;
}
export interface BatchProblem {
  index: number;
  message: string;
  code: SbCode;
}

/** The code of a checkFields problem: an IP that is an address but not a usable one of a subnet, or a bad field. */
export function fieldProblemCode(problem: string): SbCode {
  return problem.startsWith('ip: ') && !problem.includes('is not an IPv4 address') ? 'SB_DHCP_IP_OUTSIDE_SUBNET' : 'SB_DHCP_INVALID_HOST';
}

/** The code a refused batch is reported with: its first problem's. */
export const batchCode = (r: Pick<BatchResult, 'errors'>): SbCode => r.errors[0]?.code ?? 'SB_DHCP_INVALID_HOST';

export interface BatchResult {
  ok: boolean;
  /** Each problem with its catalogue code (duplicate MAC/IP/hostname, IP outside the subnets, a bad field). */
  errors: BatchProblem[];
  added: HostRecord[];
  changed: HostRecord[];
  /** The stored record of each changed host as it was before the batch, by MAC. */
  before: Map<string, HostRecord>;
  unchanged: number;
}

declare module '../store/db.js' {
  interface Tables {
    dhcp_hosts: {
      id: import('kysely').Generated<number>;
      mac: string;
      ip: string;
      ip_num: number;
      hostname: string;
      room: string | null;
      phones: string;
      owner: string | null;
      access: number;
      comment: string | null;
      boot_server: string | null;
      updated_by: string;
      updated_at: number;
    };
    dhcp_history: { id: import('kysely').Generated<number>; mac: string; action: string; before: string | null; after: string | null; by: string; at: number };
  }
}

/** A dhcp_hosts row as read and written (the id is the store's). */
export type Row = Omit<Tables['dhcp_hosts'], 'id'>;

export function rowToRecord(r: Row): HostRecord {
  return {
    mac: r.mac,
    ip: r.ip,
    hostname: r.hostname,
    room: r.room,
    phones: r.phones ? r.phones.split(',') : [],
    owner: r.owner,
    access: Number(r.access),
    comment: r.comment,
    bootServer: r.boot_server,
    updatedBy: r.updated_by,
    updatedAt: Number(r.updated_at),
  };
}
export function recordToRow(h: HostRecord): Row {
  return {
    mac: h.mac,
    ip: h.ip,
    ip_num: ipToNum(h.ip),
    hostname: h.hostname,
    room: h.room,
    phones: h.phones.join(','),
    owner: h.owner,
    access: h.access,
    comment: h.comment,
    boot_server: h.bootServer,
    updated_by: h.updatedBy,
    updated_at: h.updatedAt,
  };
}
export const same = (a: HostRecord, b: HostRecord) =>
  a.ip === b.ip &&
  a.hostname === b.hostname &&
  a.room === b.room &&
  a.phones.join(',') === b.phones.join(',') &&
  a.owner === b.owner &&
  a.access === b.access &&
  a.comment === b.comment &&
  a.bootServer === b.bootServer;

const opt = (v: string | undefined | null) => (v === undefined || v === null || String(v).trim() === '' ? null : String(v).trim());

/** Validate one input's own fields (not uniqueness). Returns the problems and the normalised partial record. */
export function checkFields(inp: HostInput, subnets: Subnet[]): { problems: string[]; rec?: Omit<HostRecord, 'updatedBy' | 'updatedAt'> } {
  const problems: string[] = [];
  const mac = parseMac(String(inp.mac ?? ''));
  if (!mac) problems.push(`mac: ${macProblem(String(inp.mac ?? ''))}`);
  else if (isMulticastMac(mac)) problems.push(`mac: ${mac} is a multicast address (the first octet is odd), not a host's`);
  const ip =
    String(inp.ip ?? '')
      .trim()
      .toLowerCase() || 'auto';
  if (ip !== 'auto') {
    const p = ipProblem(ip, subnets);
    if (p) problems.push(`ip: ${p}`);
  }
  const hostname = String(inp.hostname ?? '')
    .trim()
    .toLowerCase();
  if (!hostname) problems.push('hostname: missing (every host needs one)');
  else if (!HOSTNAME_RE.test(hostname)) {
    const shown = hostname.length > 40 ? `${JSON.stringify(hostname.slice(0, 40))}… (${hostname.length} chars)` : JSON.stringify(hostname);
    problems.push(`hostname: ${shown} is not an RFC 1123 label (letters, digits and -, 1-63 characters, not starting or ending with -)`);
  }
  const room = opt(inp.room);
  const owner = opt(inp.owner);
  const comment = opt(inp.comment);
  for (const [f, v, max] of [
    ['room', room, 64],
    ['owner', owner, 128],
    ['comment', comment, 256],
  ] as const) {
    if (v !== null) {
      const p = textProblem(f, v, max);
      if (p) problems.push(p);
    }
  }
  const phones = (inp.phones ?? []).map((p) => String(p).trim()).filter(Boolean);
  for (const p of phones) {
    const why = phoneProblem(p);
    if (why) problems.push(`phone: ${why}`);
  }
  if (phones.length > 8) problems.push('phone: at most 8 numbers');
  let access = 0;
  if (inp.access !== undefined && inp.access !== null && String(inp.access).trim() !== '') {
    access = Number(inp.access);
    if (!Number.isInteger(access) || access < 0 || access > 3) problems.push(`access: ${JSON.stringify(String(inp.access).slice(0, 20))} is not 0, 1, 2 or 3`);
  }
  const bootServer = opt(inp.bootServer ?? null);
  if (bootServer !== null && !BOOT_RE.test(bootServer)) problems.push('bootServer: only URL characters allowed (no spaces, quotes, commas), at most 255');
  if (problems.length) return { problems };
  return { problems, rec: { mac: mac!, ip, hostname, room, phones, owner, access, comment, bootServer } };
}
