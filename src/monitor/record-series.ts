// `monitor records`: a history sensor's records as chart series (one per perfdata label) and since when the
// sensor has been in its current status. Pure: the command reads the rows, chart.ts draws.
import type { ChartSeries } from './chart.js';
import type { Perf } from './types.js';

export interface RecordRow {
  at: number;
  status: number;
  perfdata: string | null;
}

/**
 * One series per perfdata label, points in record order, each with the latest thresholds the check reported.
 * A lone series without reported thresholds takes the sensor's own warn=/crit= (`sensorArgs`, its JSON args).
 */
export function perfSeries(rows: readonly RecordRow[], sensorArgs: string): Map<string, ChartSeries> {
  const series = new Map<string, ChartSeries>();
  for (const r of rows) {
    for (const p of (r.perfdata ? JSON.parse(r.perfdata) : []) as Perf[]) {
      const e = series.get(p.label) ?? series.set(p.label, { label: p.label, points: [] }).get(p.label)!;
      e.points.push({ at: r.at, value: p.value, status: r.status });
      if (p.uom) e.uom = p.uom;
      // The latest thresholds the check reported (else the sensor's own warn/crit).
      e.warn = p.warn ?? e.warn;
      e.crit = p.crit ?? e.crit;
    }
  }
  const def = JSON.parse(sensorArgs) as Record<string, string>;
  const first = [...series.values()][0];
  if (first && series.size === 1 && !first.warn && !first.crit) Object.assign(first, { warn: def.warn, crit: def.crit });
  return series;
}

/**
 * Since when the sensor has been in `status`: the time of the first record of the trailing run in that status,
 * or undefined when every record (or none) is in it, or no state is known.
 */
export function statusSince(rows: readonly RecordRow[], status: number | undefined): number | undefined {
  if (status === undefined || !rows.length) return undefined;
  let run = rows.length - 1;
  while (run > 0 && rows[run - 1]!.status === status) run--;
  return rows[run]!.status === status && run > 0 ? rows[run]!.at : undefined;
}
