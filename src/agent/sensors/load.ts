// Load average over 1, 5 or 15 minutes.
import os from 'node:os';
import type { SensorKind } from '../../wire/sensor-kind.js';

export const sensor: SensorKind = {
  name: 'load',
  summary: 'load average',
  runs: 'builtin',
  args: {
    per: { summary: 'which average the thresholds apply to, in minutes', enum: ['1', '5', '15'], default: '1' },
    warn: { summary: 'warning range for the load', type: 'range' },
    crit: { summary: 'critical range for the load', type: 'range' },
  },
  async check(s, kit) {
    const a = s.args;
    const [l1, l5, l15] = os.loadavg() as [number, number, number];
    const v = a.per === '5' ? l5 : a.per === '15' ? l15 : l1;
    return kit.judge('LOAD', v, a, `load average: ${l1.toFixed(2)}, ${l5.toFixed(2)}, ${l15.toFixed(2)}`, [
      { label: 'load1', value: +l1.toFixed(2), warn: a.warn, crit: a.crit, min: 0 },
      { label: 'load5', value: +l5.toFixed(2), min: 0 },
      { label: 'load15', value: +l15.toFixed(2), min: 0 },
    ]);
  },
};
