// /proc/meminfo in bytes (memory.ts, swap.ts). A helper, not a kind: files starting with _ are not loaded as kinds.
import fs from 'node:fs';
import type { SensorKind } from '../../wire/sensor-kind.js';

export function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

/**
 * A kind that reports how much of a /proc/meminfo total is in use, in % (memory: MemTotal less MemAvailable;
 * swap: SwapTotal less SwapFree; 0 when the total is 0), judged against warn/crit.
 */
export function usedPercentKind(k: { name: string; summary: string; label: string; perfLabel: string; total: string; free: string }): SensorKind {
  return {
    name: k.name,
    summary: k.summary,
    runs: 'builtin',
    args: {
      warn: { summary: 'warning range for the % used', type: 'range' },
      crit: { summary: 'critical range for the % used', type: 'range' },
    },
    async check(s, kit) {
      const a = s.args;
      const m = meminfo();
      const total = m[k.total] ?? 0;
      const free = m[k.free] ?? 0;
      const pct = total ? +(((total - free) / total) * 100).toFixed(2) : 0;
      return kit.judge(k.label, pct, a, `${pct}% used of ${(total / 2 ** 20).toFixed(0)} MiB`, [{ label: k.perfLabel, value: pct, uom: '%', warn: a.warn, crit: a.crit, min: 0, max: 100 }]);
    },
  };
}
