// Active channels (and calls) as Asterisk counts them.
import type { SensorKind } from '../../wire/sensor-kind.js';
import { ASTERISK_ARG, asteriskRx } from './_asterisk.js';

export const sensor: SensorKind = {
  name: 'asterisk-channels',
  summary: 'active Asterisk channels (and calls)',
  runs: 'builtin',
  args: {
    warn: { summary: 'warning range for the channel count', type: 'range' },
    crit: { summary: 'critical range for the channel count', type: 'range' },
    asterisk: ASTERISK_ARG,
  },
  async check(s, kit) {
    const r = await asteriskRx(s, kit, 'core show channels count');
    if ('failed' in r) return r.failed;
    const m = /(\d+) active channels?/.exec(r.stdout);
    const c = /(\d+) active calls?/.exec(r.stdout);
    if (!m) return { status: 3, output: 'ASTERISK UNKNOWN - cannot parse channel count', perfdata: [] };
    const n = Number(m[1]);
    return kit.judge('CHANNELS', n, s.args, `${n} active channels, ${c ? c[1] : '?'} active calls`, [
      { label: 'channels', value: n, warn: s.args.warn, crit: s.args.crit, min: 0 },
      { label: 'calls', value: Number(c?.[1] ?? 0), min: 0 },
    ]);
  },
};
