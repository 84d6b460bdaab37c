// PNG line chart of numeric perfdata for `monitor records`, drawn with @napi-rs/canvas.
import { createCanvas } from '@napi-rs/canvas';

export function renderChart(title: string, series: { label: string; points: [number, number][] }[]): Buffer {
  const W = 900;
  const H = 360;
  const pad = { l: 70, r: 20, t: 40, b: 50 };
  const c = createCanvas(W, H);
  const g = c.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, W, H);
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  let y0 = Math.min(0, ...ys);
  let y1 = Math.max(...ys);
  if (y1 === y0) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.05;
  const X = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const Y = (y: number) => H - pad.b - ((y - y0) / (y1 - y0)) * (H - pad.t - pad.b);
  g.fillStyle = '#000';
  g.font = '16px DejaVu Sans';
  g.fillText(title, pad.l, 24);
  g.strokeStyle = '#888';
  g.strokeRect(pad.l, pad.t, W - pad.l - pad.r, H - pad.t - pad.b);
  g.font = '11px DejaVu Sans';
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    g.fillText(v.toPrecision(4), 4, Y(v) + 4);
    const t = x0 + ((x1 - x0) * i) / 4;
    g.fillText(new Date(t).toISOString().slice(11, 19), X(t) - 25, H - pad.b + 16);
  }
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];
  series.forEach((s, i) => {
    g.strokeStyle = colors[i % colors.length]!;
    g.lineWidth = 2;
    g.beginPath();
    s.points.forEach(([x, y], j) => (j ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y))));
    g.stroke();
    g.fillStyle = g.strokeStyle;
    g.fillText(s.label, pad.l + 10 + i * 140, H - 10);
  });
  return c.toBuffer('image/png');
}
