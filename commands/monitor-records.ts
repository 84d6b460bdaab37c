// `monitor records`: a history sensor's recent results as a table, with a PNG chart of its numeric perfdata.
import type { Command } from '../src/app-types.js';
import { ago } from '../src/core/format.js';
import { DateTime } from 'luxon';
import { STATUS } from '../src/monitor/types.js';
import { NAME, durationArg as ms } from '../src/monitor/command-args.js';
import { perfSeries, statusSince } from '../src/monitor/record-series.js';
import { structured, tablePart } from '../src/core/message.js';

export const commands: Command[] = [
  {
    name: 'monitor records',
    usage: 'monitor records <node> <sensor> [since=24h]',
    example: 'monitor records pbx1 load since=6h',
    summary: "a sensor's recent results (table, and a PNG chart of numeric perfdata with its thresholds)",
    role: 'viewer',
    args: {
      positional: [
        { ...NAME, name: 'node' },
        { ...NAME, name: 'sensor' },
      ],
      named: { since: { default: '24h' } },
    },
    async run(ctx, args) {
      const m = ctx.app.services.monitor;
      const n = await m.nodes.get(String(args.node));
      const s = await m.sensors.get(String(args.sensor));
      const since = ms(args.since, 'since', 86_400_000);
      const st = await m.results.state(n.id, s.id);
      if (!s.retention.startsWith('history')) {
        return `Sensor ${s.name} keeps only its last state (retention=last)${st ? `: ${STATUS[st.status]} ${st.output} (${ago(st.at)})` : ''}. Use monitor sensor edit ${s.name} retention=history:30d to keep records.`;
      }
      const rows = await m.results.records(n.id, s.id, Date.now() - since);
      if (!rows.length) return `No records for ${n.name}/${s.name} in the last ${args.since}.`;
      const zone = m.zone;
      const series = perfSeries(rows, s.args);
      const shown = rows.slice(-30);
      const head = `${rows.length} record(s) for ${n.name}/${s.name} since ${args.since}${rows.length > shown.length ? ` (last ${shown.length} shown)` : ''}, times in ${zone}:`;
      const recs = tablePart(
        ['at', 'state', 'output'],
        shown.map((r) => [DateTime.fromMillis(r.at, { zone }).toFormat('yyyy-MM-dd HH:mm:ss'), STATUS[r.status]!, r.output]),
        { align: ['left', 'left', 'left'] },
      );
      if (!series.size) return structured([head, recs]);
      const { renderChart } = await import('../src/monitor/chart.js'); // Chart.js and the canvas load on the first chart
      const png = renderChart({
        title: `${n.name} / ${s.name}`,
        zone,
        series: [...series.values()],
        statuses: rows.map((r) => ({ at: r.at, status: r.status })),
        state: st ? { status: st.status, hard: st.hard_status, since: statusSince(rows, st.status) } : undefined,
      });
      const chart = `${n.name}-${s.name}.png`;
      return structured([head, { kind: 'image', file: chart, alt: `chart of ${[...series.keys()].join(', ')} for ${n.name}/${s.name} since ${args.since}` }, recs], {
        files: [{ name: chart, data: png, mime: 'image/png' }],
      });
    },
  },
];
