import { describe, expect, it } from 'vitest';
import { renderAndCheck, synthHosts } from './helpers.js';

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
});
