// Kea DHCPv4 configuration with reservations per subnet (a complete Dhcp4 document Kea loads). Pure.
import type { RenderHost, RenderSubnet } from './types.js';

export function renderKea(hosts: RenderHost[], subnets: RenderSubnet[], inSubnet: (ip: string) => number): string {
  const per: RenderHost[][] = subnets.map(() => []);
  for (const h of hosts) {
    const i = inSubnet(h.ip);
    if (i >= 0) per[i]!.push(h);
  }
  const subnet4 = subnets.map((s, i) => ({
    id: i + 1,
    subnet: s.cidr,
    ...(s.pool ? { pools: [{ pool: s.pool.replace('-', ' - ') }] } : {}),
    'option-data': [
      ...(s.gateway ? [{ name: 'routers', data: s.gateway }] : []),
      ...(s.dns?.length ? [{ name: 'domain-name-servers', data: s.dns.join(', ') }] : []),
    ],
    reservations: per[i]!.map((h) => ({
      'hw-address': h.mac,
      'ip-address': h.ip,
      hostname: h.hostname,
      ...(h.bootServer ? { 'option-data': [{ name: 'tftp-server-name', data: h.bootServer }] } : {}),
      'user-context': { room: h.room, owner: h.owner, comment: h.comment, access: h.access },
    })),
  }));
  const doc = {
    Dhcp4: {
      'interfaces-config': { interfaces: [] },
      'lease-database': { type: 'memfile', persist: false },
      'reservations-out-of-pool': true,
      subnet4,
    },
  };
  // Kea's parser rejects \u escapes above 00FF but reads raw UTF-8 inside strings.
  return JSON.stringify(doc, null, 1) + '\n';
}
