// Seconds since the machine booted.
import os from 'node:os';
import type { SensorKind } from '../../wire/sensor-kind.js';

export const sensor: SensorKind = {
  name: 'uptime',
  summary: 'seconds since the machine booted',
  runs: 'builtin',
  args: {
    warn: { summary: 'warning range in seconds (e.g. 600: warns for 10 minutes after a reboot)', type: 'range' },
    crit: { summary: 'critical range in seconds', type: 'range' },
  },
  async check(s, kit) {
    const a = s.args;
    const up = Math.round(os.uptime());
    return kit.judge('UPTIME', up, a, `up ${(up / 86400).toFixed(1)} days`, [{ label: 'uptime', value: up, uom: 's', warn: a.warn, crit: a.crit }]);
  },
};
