import { describe, expect, it } from 'vitest';
import { renderAndCheck, synthHosts } from './helpers.js';
import { parseKeaTemplate, stripKeaComments } from '../../drivers/dhcp/kea.js';
import type { HostRecord } from '../../src/dhcp/service.js';

describe('rendered files pass the real checkers (dhcpd -t, kea-dhcp4 -t, squid -k parse)', () => {
  for (const n of [1, 1000, 50_000]) {
    it(`${n} hosts`, { timeout: 300_000 }, async () => {
      const hosts = synthHosts(n);
      const r = await renderAndCheck(hosts);
      expect(r.isc.output).not.toMatch(/error/i);
      expect(r.isc.ok, r.isc.output).toBe(true);
      expect(r.kea.ok, r.kea.output).toBe(true);
      expect(r.squid.ok, r.squid.output).toBe(true);
      expect(r.dnsmasq.split('\n').filter((l) => l.startsWith('dhcp-host=')).length).toBe(n);
    });
  }

  it('without a template Kea gets a document safe to run: all interfaces, a persistent lease file under /var/lib/kea', async () => {
    const r = await renderAndCheck(synthHosts(3));
    expect(r.kea.ok, r.kea.output).toBe(true);
    const d4 = JSON.parse(r.keaText).Dhcp4;
    expect(d4['interfaces-config']).toEqual({ interfaces: ['*'] });
    expect(d4['lease-database']).toEqual({ type: 'memfile', persist: true, name: '/var/lib/kea/kea-leases4.csv' });
  });
});

// The admin's own Kea config, with the three comment styles Kea allows and comment-like text inside strings.
const TEMPLATE = `// site Kea config
# hash comment
{
  "Dhcp4": {
    /* interfaces the admin chose */
    "interfaces-config": { "interfaces": [ "lo" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "/var/lib/kea/site-leases4.csv", "lfc-interval": 3600 },
    "valid-lifetime": 7200, // two hours
    "user-context": { "note": "see http://wiki/dhcp#kea // not a comment /* nor this */" },
    "subnet4": [
      {
        "id": 7,
        "subnet": "10.20.0.0/24",
        "pools": [ { "pool": "10.20.0.100 - 10.20.0.200" } ],
        "option-data": [ { "name": "routers", "data": "10.20.0.1" }, { "name": "domain-name", "data": "site.example" } ],
        "reservations": [
          { "hw-address": "aa:bb:cc:dd:ee:01", "ip-address": "10.20.0.250", "hostname": "admin-box" },
          { "hw-address": "aa:bb:cc:dd:ee:02", "ip-address": "10.20.0.40", "hostname": "clash" }
        ]
      },
      { "id": 9, "subnet": "192.168.50.0/24", "pools": [ { "pool": "192.168.50.10 - 192.168.50.20" } ] }
    ]
  }
}
`;

describe('Kea with dhcp.backends.kea.template', () => {
  it('strips comments but not comment-like text inside strings', () => {
    const doc = JSON.parse(stripKeaComments(TEMPLATE));
    expect(doc.Dhcp4['user-context'].note).toBe('see http://wiki/dhcp#kea // not a comment /* nor this */');
    expect(() => parseKeaTemplate('{"Dhcp4": {"subnet4": [}')).toThrow(/is not valid Kea JSON/);
    expect(() => parseKeaTemplate('{"Dhcp6": {}}')).toThrow(/has no "Dhcp4" object/);
  });

  it('keeps every template setting, merges reservations by CIDR, adds missing subnets, and kea-dhcp4 -t accepts it', { timeout: 120_000 }, async () => {
    const big = synthHosts(1000); // all in 10.64.0.0/12, which the template lacks
    const local: HostRecord[] = [
      { mac: '00:11:22:33:44:01', ip: '10.20.0.11', hostname: 'pc-101', room: '101', phones: [], owner: 'Ivanova', access: 2, comment: null, bootServer: null, updatedBy: 't', updatedAt: 0 },
      // takes the address of the template's "clash" reservation: the managed host wins
      { mac: '00:11:22:33:44:02', ip: '10.20.0.40', hostname: 'pc-102', room: null, phones: [], owner: null, access: 0, comment: null, bootServer: null, updatedBy: 't', updatedAt: 0 },
    ];
    const r = await renderAndCheck([...local, ...big], undefined, parseKeaTemplate(TEMPLATE));
    expect(r.kea.ok, r.kea.output).toBe(true);
    const d4 = JSON.parse(r.keaText).Dhcp4;
    expect(d4['interfaces-config']).toEqual({ interfaces: ['lo'] });
    expect(d4['lease-database']).toEqual({ type: 'memfile', persist: true, name: '/var/lib/kea/site-leases4.csv', 'lfc-interval': 3600 });
    expect(d4['valid-lifetime']).toBe(7200);
    expect(d4['user-context'].note).toMatch(/not a comment/);
    expect(d4.subnet4.map((s: { id: number; subnet: string }) => [s.id, s.subnet])).toEqual([
      [7, '10.20.0.0/24'],
      [9, '192.168.50.0/24'],
      [10, '10.64.0.0/12'],
    ]);
    const s7 = d4.subnet4[0];
    expect(s7['option-data']).toContainEqual({ name: 'domain-name', data: 'site.example' });
    expect(s7.reservations.map((x: { hostname: string }) => x.hostname)).toEqual(['admin-box', 'pc-101', 'pc-102']);
    expect(d4.subnet4[1].reservations).toBeUndefined();
    expect(d4.subnet4[2].reservations).toHaveLength(1000);
    expect(d4.subnet4[2].pools).toEqual([{ pool: '10.64.0.100 - 10.64.0.200' }]);
  });
});
