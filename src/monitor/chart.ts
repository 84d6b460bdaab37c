// PNG chart of a sensor's numeric perfdata for `monitor records`, drawn by Chart.js (time axis through the
// Luxon adapter in the bot's time zone, warn/crit bands and lines through chartjs-plugin-annotation) on
// @napi-rs/canvas. One look should tell what happened: the state and since when in the title, the last value
// and thresholds in the subtitle, points coloured by the result's status, a strip above the plot coloured by
// status over time, units on the value axis and its ticks, the zone on the time axis.
import { createCanvas } from '@napi-rs/canvas';
import { Chart, registerables, type ChartConfiguration, type ChartItem, type Plugin } from 'chart.js';
import annotationPlugin from 'chartjs-plugin-annotation';
import 'chartjs-adapter-luxon';
import { DateTime } from 'luxon';
import { parseRange, type Range } from '../wire/range.js';
import { STATUS } from './types.js';

Chart.register(...registerables, annotationPlugin);

// The plugin's option types do not resolve under NodeNext; the options below follow its documented shape.
type AnnotationOptions = Record<string, unknown>;
Chart.defaults.font.family = 'DejaVu Sans';
Chart.defaults.font.size = 13;
Chart.defaults.color = '#222';

export const CHART_WIDTH = 1000;
export const CHART_HEIGHT = 500;

const STATUS_COLOR = ['#2e9e44', '#e0a800', '#d62728', '#7f7f7f'];
const SERIES_COLOR = ['#1f5fb4', '#8c4bd6', '#17a2b8', '#ff7f0e', '#6c757d'];

export interface ChartPoint {
  at: number;
  value: number;
  status: number;
}

export interface ChartSeries {
  label: string;
  uom?: string;
  points: ChartPoint[];
  warn?: string;
  crit?: string;
}

export interface ChartInput {
  /** "node / sensor" */
  title: string;
  zone: string;
  series: ChartSeries[];
  /** Every record's time and status (the status strip), oldest first. */
  statuses: { at: number; status: number }[];
  /** The sensor's current state. */
  state?: { status: number; hard: number; since?: number };
}

/** Values readable at a glance: 7.854 → 7.85, 0.5250 → 0.525, 1234567 → 1,234,567. */
export function tickNumber(v: number): string {
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(v);
}

function safeRange(spec: string | undefined): Range | null {
  if (!spec) return null;
  try {
    return parseRange(spec);
  } catch {
    return null;
  }
}

/** The value intervals a range alerts on (null = unbounded). */
function alertIntervals(r: Range): [number | null, number | null][] {
  if (r.inside) return [[Number.isFinite(r.start) ? r.start : null, Number.isFinite(r.end) ? r.end : null]];
  const out: [number | null, number | null][] = [];
  if (Number.isFinite(r.start) && r.start !== 0) out.push([null, r.start]);
  if (Number.isFinite(r.end)) out.push([r.end, null]);
  return out;
}

function describe(r: Range, uom: string): string {
  const u = uom ? ` ${uom}` : '';
  if (r.inside) return `${tickNumber(r.start)}–${tickNumber(r.end)}${u}`;
  const parts: string[] = [];
  if (Number.isFinite(r.start) && r.start !== 0) parts.push(`< ${tickNumber(r.start)}${u}`);
  if (Number.isFinite(r.end)) parts.push(`> ${tickNumber(r.end)}${u}`);
  return parts.join(' or ');
}

/** Cut a warning interval where the critical one takes over (warn > 80, crit > 90: the warn band is 80–90). */
function minus(w: [number | null, number | null], crit: [number | null, number | null][]): [number | null, number | null] {
  let [lo, hi] = w;
  for (const [clo, chi] of crit) {
    if (chi === null && clo !== null && (lo === null || clo > lo) && (hi === null || clo < hi)) hi = clo;
    if (clo === null && chi !== null && (hi === null || chi < hi) && (lo === null || chi > lo)) lo = chi;
  }
  return [lo, hi];
}

function thresholdAnnotations(s: ChartSeries): { notes: Record<string, AnnotationOptions>; edges: number[] } {
  const notes: Record<string, AnnotationOptions> = {};
  const edges: number[] = [];
  const uom = s.uom ?? '';
  const warn = safeRange(s.warn);
  const crit = safeRange(s.crit);
  const critIntervals = crit ? alertIntervals(crit) : [];
  const warnIntervals = warn ? alertIntervals(warn) : [];
  const styles = { warn: ['rgba(224,168,0,0.14)', '#c99700'], crit: ['rgba(214,39,40,0.12)', '#d62728'] } as const;
  // Bands: the warning band stops where the critical one starts.
  for (const [kind, intervals] of [
    ['warn', warnIntervals.map((w) => minus(w, critIntervals))],
    ['crit', critIntervals],
  ] as const) {
    intervals.forEach(([lo, hi], i) => {
      notes[`${kind}-band-${i}`] = { type: 'box', yMin: lo ?? undefined, yMax: hi ?? undefined, backgroundColor: styles[kind][0], borderWidth: 0, drawTime: 'beforeDatasetsDraw' };
    });
  }
  // Lines at the thresholds themselves, labelled (a value shared by both is the critical one).
  for (const [kind, intervals] of [
    ['crit', critIntervals],
    ['warn', warnIntervals],
  ] as const) {
    for (const edge of intervals.flat()) {
      if (edge === null || edges.includes(edge)) continue;
      edges.push(edge);
      notes[`${kind}-line-${edge}`] = {
        type: 'line',
        yMin: edge,
        yMax: edge,
        borderColor: styles[kind][1],
        borderWidth: 2,
        borderDash: kind === 'warn' ? [6, 4] : [],
        drawTime: 'beforeDatasetsDraw',
        label: {
          display: true,
          content: `${kind} ${tickNumber(edge)}${uom ? ` ${uom}` : ''}`,
          position: 'start',
          backgroundColor: styles[kind][1],
          color: '#fff',
          font: { size: 12, weight: 'bold' },
          padding: 3,
        },
      };
    }
  }
  return { notes, edges };
}

function zoneLabel(zone: string, at: number): string {
  const off = DateTime.fromMillis(at, { zone }).toFormat('ZZ');
  return `${zone}, UTC${off}`;
}

export function renderChart(input: ChartInput): Buffer {
  const canvas = createCanvas(CHART_WIDTH, CHART_HEIGHT);
  const series = input.series.slice(0, 5);
  const all = series.flatMap((s) => s.points);
  const first = Math.min(...all.map((p) => p.at), ...input.statuses.map((s) => s.at));
  const last = Math.max(...all.map((p) => p.at), ...input.statuses.map((s) => s.at));
  const fmtTime = (at: number, withDate = false) => DateTime.fromMillis(at, { zone: input.zone }).toFormat(withDate ? 'yyyy-MM-dd HH:mm' : 'HH:mm');
  const main = series.find((s) => s.warn || s.crit) ?? series[0]!;
  const { notes, edges } = thresholdAnnotations(main);
  const units = [...new Set(series.map((s) => s.uom ?? ''))];
  const values = all.map((p) => p.value);
  // Keep the thresholds in view (a flat OK line far below its warn line still shows the line).
  const lo = Math.min(...values, ...edges);
  const hi = Math.max(...values, ...edges);
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.08;

  const st = input.state;
  const stateText = st ? `${STATUS[st.status] ?? '?'}${st.status !== st.hard ? ` (soft; hard ${STATUS[st.hard]})` : ''}${st.since ? ` since ${fmtTime(st.since, true)}` : ''}` : 'no state';
  const lastPoint = main.points[main.points.length - 1];
  const uomOf = (s: ChartSeries) => (s.uom ? ` ${s.uom}` : '');
  const subtitle = [
    lastPoint ? `last ${main.label} ${tickNumber(lastPoint.value)}${uomOf(main)} at ${fmtTime(lastPoint.at)} (${STATUS[lastPoint.status]})` : '',
    safeRange(main.warn) ? `warn ${describe(safeRange(main.warn)!, main.uom ?? '')}` : '',
    safeRange(main.crit) ? `crit ${describe(safeRange(main.crit)!, main.uom ?? '')}` : '',
    `${fmtTime(first, true)} – ${fmtTime(last, true)}`,
  ]
    .filter(Boolean)
    .join('  ·  ');

  const background: Plugin = {
    id: 'background',
    beforeDraw: (c) => {
      const g = c.ctx;
      g.save();
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, c.width, c.height);
      g.restore();
    },
  };
  // A strip just above the plot: each stretch of time coloured by the status of the results in it.
  const strip: Plugin = {
    id: 'statusStrip',
    afterDatasetsDraw: (c) => {
      const x = c.scales.x!;
      const area = c.chartArea;
      const g = c.ctx;
      const pts = input.statuses;
      g.save();
      for (let i = 0; i < pts.length; i++) {
        const a = x.getPixelForValue(pts[i]!.at);
        const b = i + 1 < pts.length ? x.getPixelForValue(pts[i + 1]!.at) : area.right;
        g.fillStyle = STATUS_COLOR[pts[i]!.status] ?? STATUS_COLOR[3]!;
        g.fillRect(Math.max(area.left, a), area.top - 8, Math.max(1, Math.min(area.right, b) - Math.max(area.left, a)), 6);
      }
      g.restore();
    },
  };

  const config: ChartConfiguration<'line', { x: number; y: number }[]> = {
    type: 'line',
    data: {
      datasets: series.map((s, i) => ({
        label: `${s.label}${uomOf(s)}`,
        data: s.points.map((p) => ({ x: p.at, y: p.value })),
        borderColor: SERIES_COLOR[i % SERIES_COLOR.length],
        backgroundColor: SERIES_COLOR[i % SERIES_COLOR.length],
        borderWidth: 2,
        tension: 0,
        pointRadius: s.points.length > 300 ? 0 : 3,
        pointBackgroundColor: s.points.map((p) => STATUS_COLOR[p.status] ?? STATUS_COLOR[3]!),
        pointBorderColor: s.points.map((p) => STATUS_COLOR[p.status] ?? STATUS_COLOR[3]!),
        yAxisID: units.length > 1 && (s.uom ?? '') !== units[0] ? 'y2' : 'y',
      })),
    },
    options: {
      responsive: false,
      animation: false,
      devicePixelRatio: 1,
      layout: { padding: { top: 6, right: 16, bottom: 4, left: 8 } },
      plugins: {
        title: { display: true, text: `${input.title} — ${stateText}`, color: STATUS_COLOR[st?.status ?? 3], font: { size: 18, weight: 'bold' }, padding: { top: 4, bottom: 2 } },
        subtitle: { display: true, text: subtitle, font: { size: 13 }, padding: { bottom: 14 } },
        legend: { display: series.length > 1, position: 'bottom' },
        annotation: { annotations: notes as never },
      },
      scales: {
        x: {
          type: 'time',
          adapters: { date: { zone: input.zone } },
          time: { displayFormats: { second: 'HH:mm:ss', minute: 'HH:mm', hour: 'HH:mm', day: 'dd LLL', week: 'dd LLL', month: 'LLL yyyy' }, tooltipFormat: 'yyyy-MM-dd HH:mm:ss' },
          ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12, major: { enabled: true }, font: (c) => (c.tick?.major ? { weight: 'bold' } : {}) },
          title: { display: true, text: `time (${zoneLabel(input.zone, last)})` },
          grid: { color: '#eee' },
        },
        y: {
          suggestedMin: units[0] === '%' ? 0 : lo - pad,
          suggestedMax: units[0] === '%' ? Math.min(100, hi + pad) : hi + pad,
          ticks: { maxTicksLimit: 8, callback: (v) => `${tickNumber(Number(v))}${units[0] ? ` ${units[0]}` : ''}` },
          title: {
            display: true,
            text: `${series
              .filter((s) => (s.uom ?? '') === units[0])
              .map((s) => s.label)
              .join(', ')}${units[0] ? ` (${units[0]})` : ''}`,
          },
          grid: { color: '#eee' },
        },
        ...(units.length > 1
          ? {
              y2: {
                position: 'right' as const,
                ticks: { maxTicksLimit: 8, callback: (v: string | number) => `${tickNumber(Number(v))}${units[1] ? ` ${units[1]}` : ''}` },
                title: { display: true, text: units.slice(1).join(', ') || 'value' },
                grid: { drawOnChartArea: false },
              },
            }
          : {}),
      },
    },
    plugins: [background, strip],
  };
  const chart = new Chart(canvas as unknown as ChartItem, config);
  try {
    return canvas.toBuffer('image/png');
  } finally {
    chart.destroy();
  }
}
