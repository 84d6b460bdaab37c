// Field rules for host records: what may reach a rendered DHCP/proxy file.
import ipaddr from 'ipaddr.js';
import type { SubnetConfig } from './config.js';
import { ConfigError } from '../config.js';

export const HOSTNAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const UNSAFE_RE = /["\\{};#]/;
export const BOOT_RE = /^[A-Za-z0-9._~:/?=&%+@-]{1,255}$/;
/** The fewest digits a phone number (an extension at least) has. */
export const PHONE_MIN_DIGITS = 2;

/** Why a host's phone number is refused, in words that say what is wrong; null when it is fine. */
export function phoneProblem(p: string): string | null {
  const shown = JSON.stringify(p.length > 40 ? `${p.slice(0, 40)}…` : p);
  const bad = /[^0-9 ()./+-]/.exec(p);
  if (bad) return `${shown} is not a phone number: ${JSON.stringify(bad[0])} is not allowed (digits, spaces and + - ( ) . only)`;
  if (p.lastIndexOf('+') > 0) return `${shown} is not a phone number: + may only start it`;
  if (p.length > 32) return `${shown} is too long: ${p.length} characters, at most 32`;
  const digits = p.replace(/\D/g, '').length;
  if (digits < PHONE_MIN_DIGITS) return `${shown} is too short: ${digits} digit${digits === 1 ? '' : 's'}, at least ${PHONE_MIN_DIGITS}`;
  return null;
}

/** Free text (room, owner, comment): printable, no quotes/braces/semicolons/hash/backslash, bounded. */
export function textProblem(field: string, v: string, max: number): string | null {
  if (v.length > max) return `${field} is ${v.length} characters long (at most ${max})`;
  if (/[\uD800-\uDFFF]/.test(v.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) return `${field} is not valid Unicode text`;
  if (CONTROL_RE.test(v)) return `${field} contains a control character (newline, NUL, tab…), which is not allowed`;
  const m = UNSAFE_RE.exec(v);
  if (m) return `${field} contains ${JSON.stringify(m[0])}, which is not allowed (no " \\ { } ; #)`;
  return null;
}

export function ipToNum(ip: string): number {
  const b = ipaddr.IPv4.parse(ip).octets;
  return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
}
export function numToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Subnet {
  cfg: SubnetConfig;
  network: number;
  broadcast: number;
  prefix: number;
  poolFirst: number;
  poolLast: number;
  gateway: number | null;
  netmask: string;
  /**
   * Addresses of this subnet named for a service (gateway, DNS servers; DhcpStore adds the provisioning/boot
   * server, public URL and NTP server of the bot's config): never handed out by ip=auto.
   */
  reserved: Set<number>;
}

/** Compile dhcp.subnets; a bad entry throws ConfigError naming the key and the value. */
export function compileSubnets(list: SubnetConfig[]): Subnet[] {
  const out = list.map((cfg, i) => {
    const key = `dhcp.subnets[${i}]`;
    const bad = (k: string, v: unknown, why: string) => new ConfigError(`invalid configuration: ${key}.${k} = ${JSON.stringify(v)}: ${why}`);
    let prefix: number;
    try {
      prefix = ipaddr.IPv4.parseCIDR(cfg.cidr)[1];
    } catch {
      throw bad('cidr', cfg.cidr, 'is not an IPv4 CIDR such as 10.20.0.0/24');
    }
    if (prefix > 30) throw bad('cidr', cfg.cidr, 'the prefix must be /30 or shorter to leave host addresses');
    const netAddr = ipaddr.IPv4.networkAddressFromCIDR(cfg.cidr).toString();
    if (netAddr !== cfg.cidr.split('/')[0]) throw bad('cidr', cfg.cidr, `has host bits set; the network is ${netAddr}/${prefix}`);
    const network = ipToNum(netAddr);
    const broadcast = ipToNum(ipaddr.IPv4.broadcastAddressFromCIDR(cfg.cidr).toString());
    const within = (a: string) => ipaddr.IPv4.isValidFourPartDecimal(a) && ipToNum(a) >= network && ipToNum(a) <= broadcast;
    const inside = (a: string) => within(a) && ipToNum(a) > network && ipToNum(a) < broadcast;
    let poolFirst = -1;
    let poolLast = -2;
    if (cfg.pool) {
      const [a, b] = cfg.pool.split('-');
      if (!within(a!) || !within(b!)) throw bad('pool', cfg.pool, `must lie inside ${cfg.cidr}`);
      poolFirst = ipToNum(a!);
      poolLast = ipToNum(b!);
      if (poolFirst > poolLast) throw bad('pool', cfg.pool, 'the first address is after the last');
    }
    if (cfg.gateway && !inside(cfg.gateway)) throw bad('gateway', cfg.gateway, `must lie inside ${cfg.cidr} (not its network or broadcast address)`);
    for (const d of cfg.dns ?? []) if (!ipaddr.IPv4.isValidFourPartDecimal(d)) throw bad('dns', d, 'is not an IPv4 address');
    const reserved = new Set([cfg.gateway, ...(cfg.dns ?? [])].filter((a): a is string => !!a && inside(a)).map(ipToNum));
    return { cfg, network, broadcast, prefix, poolFirst, poolLast, gateway: cfg.gateway ? ipToNum(cfg.gateway) : null, netmask: ipaddr.IPv4.subnetMaskFromPrefixLength(prefix).toString(), reserved };
  });
  out.forEach((s, i) => {
    const o = out.findIndex((x, j) => j < i && x.network <= s.broadcast && s.network <= x.broadcast);
    if (o >= 0) throw new ConfigError(`invalid configuration: dhcp.subnets[${i}].cidr = ${JSON.stringify(s.cfg.cidr)}: overlaps dhcp.subnets[${o}] (${out[o]!.cfg.cidr})`);
  });
  return out;
}

/** Why this address may not be reserved, or null. */
export function ipProblem(ip: string, subnets: Subnet[]): string | null {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) || !ipaddr.IPv4.isValidFourPartDecimal(ip)) return `"${ip}" is not an IPv4 address (dotted quad or auto)`;
  const n = ipToNum(ip);
  const s = subnets.find((x) => n >= x.network && n <= x.broadcast);
  if (!s) return `${ip} is in no configured subnet (${subnets.map((x) => x.cfg.cidr).join(', ') || 'none configured: set dhcp.subnets'})`;
  if (n === s.network) return `${ip} is the network address of ${s.cfg.cidr}`;
  if (n === s.broadcast) return `${ip} is the broadcast address of ${s.cfg.cidr}`;
  if (n >= s.poolFirst && n <= s.poolLast) return `${ip} is inside the dynamic pool ${s.cfg.pool}`;
  if (s.gateway === n) return `${ip} is the gateway of ${s.cfg.cidr}`;
  return null;
}

export function subnetOf(ip: string, subnets: Subnet[]): Subnet | undefined {
  const n = ipToNum(ip);
  return subnets.find((x) => n >= x.network && n <= x.broadcast);
}

/** Index of the subnet whose host addresses (network < ip < broadcast) hold ip, or -1. */
export function hostSubnetIndex(ip: string, subnets: Subnet[]): number {
  const n = ipToNum(ip);
  return subnets.findIndex((s) => n > s.network && n < s.broadcast);
}

/** Digits only, for phone matching. */
export function phoneDigits(p: string): string {
  return p.replace(/\D/g, '');
}
