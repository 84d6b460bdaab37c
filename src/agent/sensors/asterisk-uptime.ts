// Seconds since Asterisk started (a restart shows as a low value).
import type { SensorKind } from '../../wire/sensor-kind.js';
import { ASTERISK_ARG, asteriskRx } from './_asterisk.js';

export const sensor: SensorKind = {
  name: 'asterisk-uptime',
  summary: 'seconds since Asterisk started',
  runs: 'builtin',
  args: {
    warn: { summary: 'warning range in seconds', type: 'range' },
    crit: { summary: 'critical range in seconds (e.g. 60: is critical for a minute after a restart)', type: 'range' },
    asterisk: ASTERISK_ARG,
  },
  async check(s, kit) {
    const r = await asteriskRx(s, kit, 'core show uptime seconds');
    if ('failed' in r) return r.failed;
    const m = /System uptime:\s*(\d+)/.exec(r.stdout);
    if (!m) return { status: 3, output: 'ASTERISK UNKNOWN - cannot parse uptime', perfdata: [] };
    const up = Number(m[1]);
    return kit.judge('ASTERISK UPTIME', up, s.args, `up ${up}s`, [{ label: 'uptime', value: up, uom: 's', warn: s.args.warn, crit: s.args.crit }]);
  },
};
