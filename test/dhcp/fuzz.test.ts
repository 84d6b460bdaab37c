import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFields, type HostRecord } from '../../src/dhcp/service.js';
import { compileSubnets, numToIp, ipToNum } from '../../src/dhcp/validate.js';
import { BIG_SUBNETS, renderAndCheck } from './helpers.js';

const nasty = fc.constantFrom('"', ';', '{', '}', '#', '\n', '\u0000', '\\', 'é', 'Ж', '😀', '\ud800', ' ', '-', 'a', '0', '/', ':', ',', '=', "'", '$', '\r', '\t', '\u2028');
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.array(nasty, { maxLength: 30 }).map((a) => a.join('')),
  fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}[a-z0-9]$/),
  fc.constant('x'.repeat(10_000)),
);
const safe = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '-', '.', 'é', 'Ж', '😀', "'", '$', ',', '=', '/', ':'), maxLength: 40 });
const field = fc.oneof({ arbitrary: text, weight: 1 }, { arbitrary: safe, weight: 12 }, { arbitrary: fc.constant(undefined), weight: 4 });
const record = fc.record({
  hostname: fc.oneof({ arbitrary: text, weight: 1 }, { weight: 6, arbitrary: fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/) }),
  room: field,
  owner: field,
  comment: field,
  access: fc.oneof({ arbitrary: fc.integer({ min: -1, max: 4 }), weight: 1 }, { arbitrary: fc.integer({ min: 0, max: 3 }), weight: 8 }),
  bootServer: fc.oneof({ arbitrary: text, weight: 1 }, { arbitrary: fc.webUrl(), weight: 2 }, { arbitrary: fc.constant(null), weight: 6 }),
  phones: fc.array(fc.oneof({ arbitrary: text, weight: 1 }, { weight: 8, arbitrary: fc.stringMatching(/^\+?[0-9 ()-]{3,20}$/) }), { maxLength: 2 }),
});

describe('property: every record the validator accepts renders into configs the real checkers accept', () => {
  it('>= 10 000 random records in 4 batches', { timeout: 300_000 }, async () => {
    const nets = compileSubnets(BIG_SUBNETS);
    let total = 0;
    let acceptedTotal = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 2500, maxLength: 2500 }), async (recs) => {
        const accepted: HostRecord[] = [];
        const names = new Set<string>();
        const ip = ipToNum('10.64.1.0');
        recs.forEach((r, i) => {
          total++;
          const mac = (0x020000000000 + total).toString(16).padStart(12, '0').match(/../g)!.join(':');
          const c = checkFields({ ...r, mac, ip: numToIp(ip + i) }, nets);
          if (!c.rec) {
            expect(c.problems.length).toBeGreaterThan(0);
            return;
          }
          if (names.has(c.rec.hostname)) return; // uniqueness is the service's job
          names.add(c.rec.hostname);
          accepted.push({ ...c.rec, updatedBy: 'fuzz', updatedAt: 0 });
        });
        acceptedTotal += accepted.length;
        const res = await renderAndCheck(accepted);
        expect(res.isc.ok, res.isc.output).toBe(true);
        expect(res.kea.ok, res.kea.output).toBe(true);
        expect(res.squid.ok, res.squid.output).toBe(true);
        // dnsmasq has no offline checker: every line must be a comment or a well-formed directive.
        for (const l of res.dnsmasq.split('\n'))
          if (l) expect(l).toMatch(/^(# [\x20-\x7e]*|dhcp-host=[0-9a-f:]{17},(set:sb[0-9a-f]{12},)?[\d.]+,[a-z0-9-]+|dhcp-option=tag:sb[0-9a-f]{12},66,"[^",\s]+")$/);
      }),
      { numRuns: 4 },
    );
    expect(total).toBeGreaterThanOrEqual(10_000);
    expect(acceptedTotal).toBeGreaterThan(1000);
  });
});
