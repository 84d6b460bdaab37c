// Outbound SIP registrations (trunks) as Asterisk reports them: any not registered is critical, none found unknown.
import type { SensorKind } from '../../wire/sensor-kind.js';
import type { Status } from '../../wire/results.js';
import { ASTERISK_ARG, asteriskRx } from './_asterisk.js';

/** Parse `pjsip show registrations` or chan_sip `sip show registry` output into trunk states. */
export function parseRegistrations(text: string): { name: string; state: string }[] {
  const out: { name: string; state: string }[] = [];
  for (const line of text.split('\n')) {
    // pjsip: " <Registration/ServerURI..............................>  <Auth....................>  <Status.......>"
    //        " trunk-out/sip:sip.example.com:5060                      trunk-auth                  Registered (exp. 3542s)"
    const pj = /^\s*(\S+?)\/(sip:\S+)\s+(?:\S+\s+)?(Registered|Unregistered|Rejected|Failed|Stopped|Retrying|Sent)\b/i.exec(line);
    if (pj) {
      out.push({ name: pj[1]!, state: pj[3]! });
      continue;
    }
    // chan_sip: "Host                                    dnsmgr Username       Refresh State                Reg.Time"
    //           "sip.example.com:5060                    N      1001             105 Registered           Sat, 21 Nov 2026 10:00:00"
    const cs = /^\s*(\S+:\d+)\s+[YN]\s+(\S+)\s+\d+\s+(Registered|Unregistered|Request Sent|Auth\. Sent|Rejected|No Authentication|Failed|Timeout)/i.exec(line);
    if (cs) out.push({ name: `${cs[2]}@${cs[1]}`, state: cs[3]! });
  }
  return out;
}

export const sensor: SensorKind = {
  name: 'sip-registrations',
  summary: "the PBX's outbound SIP registrations (any not registered: critical)",
  runs: 'builtin',
  args: {
    driver: { summary: 'pjsip, or sip for chan_sip', enum: ['pjsip', 'sip'], default: 'pjsip' },
    asterisk: ASTERISK_ARG,
  },
  async check(s, kit) {
    const r = await asteriskRx(s, kit, s.args.driver === 'sip' ? 'sip show registry' : 'pjsip show registrations');
    if ('failed' in r) return r.failed;
    const regs = parseRegistrations(r.stdout);
    const bad = regs.filter((x) => !/^registered$/i.test(x.state));
    const ok = regs.length - bad.length;
    const st: Status = regs.length === 0 ? 3 : bad.length ? 2 : 0;
    const text =
      regs.length === 0 ? 'no registrations found' : bad.length ? `${bad.map((b) => `${b.name} ${b.state}`).join(', ')}; ${ok}/${regs.length} registered` : `${ok}/${regs.length} registered`;
    return {
      status: st,
      output: `SIP ${kit.label(st)} - ${text}`,
      perfdata: [
        { label: 'registered', value: ok, min: 0, max: regs.length },
        { label: 'unregistered', value: bad.length, min: 0 },
      ],
    };
  },
};
