// Sweeping: turn "192.168.122" (first three octets) or a CIDR (+ optional last-octet range) into host
// addresses, check them against the allow list, and probe a TCP port with bounded concurrency and a
// per-host timeout.
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { UserError } from '../core/command.js';

export interface Target {
  hosts: string[];
  /** The CIDR the hosts were drawn from (or /32 per host). */
  cidr: string;
}

function parseRange(range: string | undefined, def: [number, number], lim: [number, number]): [number, number] {
  if (!range) return def;
  const m = /^(\d{1,3}),(\d{1,3})$/.exec(range.trim());
  if (!m) throw new UserError(`range must be "a,b" with ${lim[0]} ≤ a ≤ b ≤ ${lim[1]} (got "${range}")`);
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (a > b || a < lim[0] || b > lim[1]) throw new UserError(`range must be "a,b" with ${lim[0]} ≤ a ≤ b ≤ ${lim[1]} (got "${range}")`);
  return [a, b];
}

const int = (ip: string): number =>
  ipaddr.IPv4.parse(ip)
    .toByteArray()
    .reduce((a, b) => a * 256 + b, 0);
const str = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** Expand `<a.b.c>` or `<cidr>` (IPv4) into hosts. Three octets default to .2 … .254 like the original tool. */
export function expandNetwork(network: string, range?: string): Target {
  const n = network.trim();
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(n)) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(`${n}.0`)) throw new UserError(`"${n}" is not the first three octets of an IPv4 network`);
    const [a, b] = parseRange(range, [2, 254], [1, 254]);
    const hosts: string[] = [];
    for (let i = a; i <= b; i++) hosts.push(`${n}.${i}`);
    return { hosts, cidr: `${n}.0/24` };
  }
  if (n.includes('/')) {
    let addr: ipaddr.IPv4;
    let bits: number;
    try {
      const parsed = ipaddr.IPv4.parseCIDR(n);
      addr = parsed[0];
      bits = parsed[1];
    } catch {
      throw new UserError(`"${n}" is not an IPv4 CIDR (e.g. 192.168.122.0/24) nor three octets (e.g. 192.168.122)`);
    }
    if (bits < 16) throw new UserError(`${n} is too large to sweep (at most a /16)`);
    const size = 2 ** (32 - bits);
    const base = Math.floor(int(addr.toString()) / size) * size;
    const [a, b] = parseRange(range, [0, 255], [0, 255]);
    const hosts: string[] = [];
    const first = bits >= 31 ? base : base + 1;
    const last = bits >= 31 ? base + size - 1 : base + size - 2;
    for (let i = first; i <= last; i++) {
      const o = i % 256;
      if (o >= a && o <= b) hosts.push(str(i));
    }
    return { hosts, cidr: `${str(base)}/${bits}` };
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(n)) return { hosts: [n], cidr: `${n}/32` };
  throw new UserError(`"${n}" is not an IPv4 address, CIDR (e.g. 192.168.122.0/24) or three octets (e.g. 192.168.122)`);
}

/** Throws a UserError unless every host lies inside one of the allowed CIDRs. */
export function checkAllowed(hosts: string[], allow: string[], what: string): void {
  const nets = allow.map((c) => ipaddr.IPv4.parseCIDR(c));
  const bad = hosts.filter((h) => {
    const a = ipaddr.IPv4.parse(h);
    return !nets.some((cidr) => a.match(cidr));
  });
  if (bad.length) {
    const shown = bad.length > 3 ? `${bad.slice(0, 3).join(', ')} … (${bad.length} addresses)` : bad.join(', ');
    throw new UserError(`${what} is not on the renew allow list (${allow.length ? allow.join(', ') : 'empty: set renew.allow'}): ${shown} refused`);
  }
}

export type ProbeState = 'open' | 'closed' | 'timeout' | 'error';

export function probe(host: string, port: number, timeoutMs: number): Promise<ProbeState> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let done = false;
    const end = (st: ProbeState) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      resolve(st);
    };
    const t = setTimeout(() => end('timeout'), timeoutMs);
    s.once('connect', () => end('open'));
    s.once('error', (e: NodeJS.ErrnoException) => end(e.code === 'ECONNREFUSED' ? 'closed' : 'error'));
  });
}

/**
 * Run fn over items with at most `limit` in flight; results keep the input order. When fn throws, no new
 * items start, but the ones in flight are awaited before the first error is rethrown — the pool never
 * abandons running work (a renewal mid-way still delivers its password).
 */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
  return out;
}

export interface SweepResult {
  open: string[];
  states: Record<string, ProbeState>;
  ms: number;
}

export async function sweep(hosts: string[], port: number, opts: { concurrency: number; timeoutMs: number; onProgress?: (done: number) => void }): Promise<SweepResult> {
  const t0 = performance.now();
  let done = 0;
  const states = await pool(hosts, opts.concurrency, async (h) => {
    const st = await probe(h, port, opts.timeoutMs);
    opts.onProgress?.(++done);
    return st;
  });
  const rec: Record<string, ProbeState> = {};
  hosts.forEach((h, i) => (rec[h] = states[i]!));
  return { open: hosts.filter((_, i) => states[i] === 'open'), states: rec, ms: performance.now() - t0 };
}
