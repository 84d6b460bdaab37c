// Used space of a file system, in percent of its size (what a non-root user may use counts as free).
import fs from 'node:fs';
import type { SensorKind } from '../../wire/sensor-kind.js';

export const sensor: SensorKind = {
  name: 'disk',
  summary: 'used space of a file system, in %',
  runs: 'builtin',
  args: {
    path: { summary: 'a path on the file system', default: '/' },
    warn: { summary: 'warning range for the % used', type: 'range' },
    crit: { summary: 'critical range for the % used', type: 'range' },
  },
  async check(s, kit) {
    const a = s.args;
    const p = a.path ?? '/';
    const st = await fs.promises.statfs(p);
    const total = st.blocks * st.bsize;
    const free = st.bavail * st.bsize;
    const usedPct = total ? +(((total - free) / total) * 100).toFixed(2) : 0;
    return kit.judge('DISK', usedPct, a, `${p} ${usedPct}% used, ${(free / 2 ** 30).toFixed(1)} GiB free`, [{ label: p, value: usedPct, uom: '%', warn: a.warn, crit: a.crit, min: 0, max: 100 }]);
  },
};
