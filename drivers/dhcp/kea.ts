// Kea DHCPv4 configuration with reservations per subnet. Pure.
// With a template (the admin's own kea-dhcp4.conf, parsed), every setting of the template is kept and the
// reservations go into its subnet4 entries, matched by CIDR; configured subnets the template lacks are
// added. Without one, a complete Dhcp4 document that is safe to run as it is (all interfaces, a persistent
// memfile lease database) is generated.
import ipaddr from 'ipaddr.js';
import type { RenderHost, RenderSubnet } from './types.js';

export const KEA_DEFAULT_LEASE_FILE = '/var/lib/kea/kea-leases4.csv';

type Json = Record<string, unknown>;

/** Kea's config syntax is JSON plus comments (`//`, `#` and C-style); drop the comments, keep strings intact. */
export function stripKeaComments(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const body = end < 0 ? text.slice(i) : text.slice(i, end + 2);
      out += body.replace(/[^\n]/g, ' '); // keep line numbers for JSON.parse errors
      i = end < 0 ? n : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Parse a Kea template; throws an Error with a plain reason. */
export function parseKeaTemplate(text: string): Json {
  let doc: unknown;
  try {
    doc = JSON.parse(stripKeaComments(text));
  } catch (e) {
    throw new Error(`is not valid Kea JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('must hold a JSON object');
  const d4 = (doc as Json).Dhcp4;
  if (!d4 || typeof d4 !== 'object' || Array.isArray(d4)) throw new Error('has no "Dhcp4" object');
  return doc as Json;
}

const cidrKey = (s: unknown): string | null => {
  if (typeof s !== 'string') return null;
  try {
    const [a, p] = ipaddr.IPv4.parseCIDR(s.trim());
    return `${ipaddr.IPv4.networkAddressFromCIDR(`${a.toString()}/${p}`).toString()}/${p}`;
  } catch {
    return null;
  }
};

function reservation(h: RenderHost): Json {
  return {
    'hw-address': h.mac,
    'ip-address': h.ip,
    hostname: h.hostname,
    ...(h.bootServer ? { 'option-data': [{ name: 'tftp-server-name', data: h.bootServer }] } : {}),
    'user-context': { room: h.room, owner: h.owner, comment: h.comment, access: h.access },
  };
}

function generatedSubnet(s: RenderSubnet, id: number, hosts: RenderHost[]): Json {
  return {
    id,
    subnet: s.cidr,
    ...(s.pool ? { pools: [{ pool: s.pool.replace('-', ' - ') }] } : {}),
    'option-data': [...(s.gateway ? [{ name: 'routers', data: s.gateway }] : []), ...(s.dns?.length ? [{ name: 'domain-name-servers', data: s.dns.join(', ') }] : [])],
    reservations: hosts.map(reservation),
  };
}

/**
 * inSubnet(ip) gives the index in `subnets` of the subnet holding ip (-1: none; such hosts are left out —
 * callers report them, see hostsOutsideSubnets in src/dhcp/apply.ts).
 */
export function renderKea(hosts: RenderHost[], subnets: RenderSubnet[], inSubnet: (ip: string) => number, template?: Json): string {
  const per: RenderHost[][] = subnets.map(() => []);
  for (const h of hosts) {
    const i = inSubnet(h.ip);
    if (i >= 0) per[i]!.push(h);
  }
  let doc: Json;
  if (!template) {
    doc = {
      Dhcp4: {
        'interfaces-config': { interfaces: ['*'] },
        'lease-database': { type: 'memfile', persist: true, name: KEA_DEFAULT_LEASE_FILE },
        'reservations-out-of-pool': true,
        subnet4: subnets.map((s, i) => generatedSubnet(s, i + 1, per[i]!)),
      },
    };
  } else {
    doc = structuredClone(template);
    const d4 = doc.Dhcp4 as Json;
    const entries: Json[] = [];
    const collect = (list: unknown) => {
      if (Array.isArray(list)) for (const e of list) if (e && typeof e === 'object') entries.push(e as Json);
    };
    collect(d4.subnet4);
    if (Array.isArray(d4['shared-networks'])) for (const sn of d4['shared-networks'] as Json[]) collect(sn?.subnet4);
    const byCidr = new Map<string, Json>();
    for (const e of entries) {
      const k = cidrKey(e.subnet);
      if (k && !byCidr.has(k)) byCidr.set(k, e);
    }
    let nextId = Math.max(0, ...entries.map((e) => (typeof e.id === 'number' ? e.id : 0))) + 1;
    subnets.forEach((s, i) => {
      const e = byCidr.get(cidrKey(s.cidr) ?? s.cidr);
      if (!e) {
        if (!Array.isArray(d4.subnet4)) d4.subnet4 = [];
        (d4.subnet4 as Json[]).push(generatedSubnet(s, nextId++, per[i]!));
        return;
      }
      // The template's own reservations stay, except those that collide with a managed host.
      const ours = per[i]!;
      const macs = new Set(ours.map((h) => h.mac));
      const ips = new Set(ours.map((h) => h.ip));
      const names = new Set(ours.map((h) => h.hostname));
      const kept = (Array.isArray(e.reservations) ? (e.reservations as Json[]) : []).filter(
        (r) => !(typeof r?.['hw-address'] === 'string' && macs.has(r['hw-address'].toLowerCase())) && !ips.has(r?.['ip-address'] as string) && !names.has(r?.hostname as string),
      );
      e.reservations = [...kept, ...ours.map(reservation)];
    });
  }
  // Kea's parser rejects \u escapes above 00FF but reads raw UTF-8 inside strings.
  return JSON.stringify(doc, null, 1) + '\n';
}
