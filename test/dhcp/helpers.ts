import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileSubnets } from '../../src/dhcp/validate.js';
import { renderTarget, checkBackend } from '../../src/dhcp/apply.js';
import { DhcpBackends } from '../../src/dhcp/backends/index.js';
import type { HostRecord } from '../../src/dhcp/service.js';

export const SUBNETS = [{ cidr: '10.20.0.0/24', pool: '10.20.0.100-10.20.0.200', gateway: '10.20.0.1' }];
export const BIG_SUBNETS = [
  { cidr: '10.20.0.0/24', pool: '10.20.0.100-10.20.0.200', gateway: '10.20.0.1' },
  { cidr: '10.64.0.0/12', pool: '10.64.0.100-10.64.0.200', gateway: '10.64.0.1' },
];

export function synthHosts(n: number): HostRecord[] {
  const out: HostRecord[] = [];
  const base = ((10 << 24) | (64 << 16)) >>> 0;
  for (let i = 0; i < n; i++) {
    const ipn = base + 256 + i;
    const hex = (0x020000000000 + i).toString(16).padStart(12, '0');
    out.push({
      mac: hex.match(/../g)!.join(':'),
      ip: [ipn >>> 24, (ipn >>> 16) & 255, (ipn >>> 8) & 255, ipn & 255].join('.'),
      hostname: `pc-${i}`,
      room: `R${i % 500}`,
      phones: [`+7 812 555-${String(i % 10000).padStart(4, '0')}`],
      owner: i % 3 ? `Owner ${i}` : 'Иванова',
      access: i % 4,
      comment: i % 5 ? null : 'note',
      bootServer: i % 7 ? null : `http://10.20.0.5/prov/${hex}.cfg`,
      updatedBy: 't',
      updatedAt: 0,
    });
  }
  return out;
}

/** Render hosts for every backend into a temp dir and run the real checkers; returns their results. */
export async function renderAndCheck(hosts: HostRecord[], subnets = BIG_SUBNETS, keaTemplate?: Record<string, unknown>) {
  const nets = compileSubnets(subnets);
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-dhcp-'));
  const backends = await DhcpBackends.load();
  try {
    for (const t of ['isc', 'kea', 'dnsmasq', 'proxy1', 'proxy2', 'proxy3'] as const) fs.writeFileSync(path.join(d, t), renderTarget(backends, t, hosts, nets, keaTemplate));
    const [isc, kea, squid] = await Promise.all([
      checkBackend('isc', path.join(d, 'isc'), nets, ['dhcpd', '-t', '-cf', '{wrapper}']),
      checkBackend('kea', path.join(d, 'kea'), nets, ['kea-dhcp4', '-t', '{file}']),
      checkBackend('proxy', [path.join(d, 'proxy1'), path.join(d, 'proxy2'), path.join(d, 'proxy3')], nets, ['squid', '-k', 'parse', '-f', '{wrapper}']),
    ]);
    const dnsmasq = fs.readFileSync(path.join(d, 'dnsmasq'), 'utf8');
    return { isc, kea, squid, dnsmasq, keaText: fs.readFileSync(path.join(d, 'kea'), 'utf8') };
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
}
