// How many processes have a given name (/proc/<pid>/comm); by default none is critical.
import fs from 'node:fs';
import type { SensorKind } from '../../wire/sensor-kind.js';

export const sensor: SensorKind = {
  name: 'process',
  summary: 'how many processes have a name',
  runs: 'builtin',
  args: {
    name: { summary: 'the process name (as in /proc/<pid>/comm)', default: 'asterisk' },
    warn: { summary: 'warning range for the count', type: 'range' },
    crit: { summary: 'critical range for the count', type: 'range', default: '1: (none running is critical)' },
  },
  async check(s, kit) {
    const a = s.args;
    const name = a.name ?? 'asterisk';
    let n = 0;
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name) n++;
      } catch {
        /* gone */
      }
    }
    return kit.judge('PROCS', n, { ...a, crit: a.crit ?? '1:' }, `${n} process(es) named ${name}`, [{ label: 'procs', value: n, warn: a.warn, crit: a.crit ?? '1:', min: 0 }]);
  },
};
