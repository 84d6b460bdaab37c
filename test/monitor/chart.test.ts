// `monitor records` charts drawn by Chart.js, on both engines: the PNG of a disk sensor with warn 80 % and
// crit 90 % shows both thresholds (their line colours are in the image), the state in a red title, times in
// the bot's time zone; readable tick numbers; a multi-series sensor without thresholds renders too.
// Set CHART_OUT=<dir> to keep the PNGs for a look.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DateTime } from 'luxon';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tickNumber } from '../../src/monitor/chart.js';
import type { NodeRow, ResultIn } from '../../src/monitor/types.js';

const ZONE = 'Asia/Kathmandu'; // UTC+05:45: a zone no test machine runs in by accident

/** Pixels within `tol` of an RGB colour, optionally only in rows [y0, y1). */
function countColour(png: PNG, [r, g, b]: [number, number, number], tol = 12, y0 = 0, y1 = png.height): number {
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      if (Math.abs(png.data[i]! - r) <= tol && Math.abs(png.data[i + 1]! - g) <= tol && Math.abs(png.data[i + 2]! - b) <= tol) n++;
    }
  return n;
}

describe('tick numbers', () => {
  it('are short and readable', () => {
    expect(tickNumber(7.854)).toBe('7.85');
    expect(tickNumber(0.525)).toBe('0.525');
    expect(tickNumber(42.25)).toBe('42.3');
    expect(tickNumber(1234567)).toBe('1,234,567');
  });
});

describe.each(['sqlite', 'mysql'] as const)('monitor records chart on %s', (engine) => {
  let t: TestApp;
  let node: NodeRow;
  const ids: Record<string, number> = {};
  const keep = (name: string, data: Buffer) => process.env.CHART_OUT && fs.writeFileSync(path.join(process.env.CHART_OUT, `${engine}-${name}`), data);

  beforeAll(async () => {
    t = await makeTestApp({ engine, overrides: { 'monitor.alertTargets': ['test:alerts'], 'monitor.timezone': ZONE, 'monitor.groupWindowMs': 60_000 } });
    await t.app.services.monitor.createEnrollment('pbx1');
    node = await t.app.db.selectFrom('mon_nodes').select(['id', 'name', 'enabled', 'stale', 'last_seen']).where('name', '=', 'pbx1').executeTakeFirstOrThrow();
    for (const s of ['root-disk kind=disk path=/ warn=80 crit=90', 'load kind=load warn=5 crit=10']) {
      expect((await t.run(`monitor sensor add ${s} attempts=2 retention=history:7d`)).exitCode).toBe(0);
      const name = s.split(' ')[0]!;
      await t.run(`monitor assign ${name} pbx1`);
      ids[name] = (await t.app.db.selectFrom('mon_sensors').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a disk sensor with warn and crit: both thresholds drawn, the state in the title, times in the bot zone', async () => {
    const start = Date.now() - 24 * 3_600_000;
    const results: ResultIn[] = [];
    for (let i = 0; i < 96; i++) {
      const v = i < 50 ? 62 + i * 0.2 + Math.sin(i / 3) : i < 70 ? 72 + (i - 50) * 0.6 : 84 + (i - 70) * 0.35;
      const status = v > 90 ? 2 : v > 80 ? 1 : 0;
      results.push({
        id: crypto.randomUUID(),
        sensorId: ids['root-disk']!,
        at: start + i * 15 * 60_000,
        status,
        output: `DISK ${STATUS(status)} - / ${v.toFixed(1)}% used`,
        perfdata: [{ label: '/', value: Math.round(v * 100) / 100, uom: '%', warn: '80', crit: '90', min: 0, max: 100 }],
      });
    }
    await t.app.services.monitor.ingest(node, results);
    const r = await t.run('monitor records pbx1 root-disk since=25h');
    expect(r.exitCode).toBe(0);
    const last = results.at(-1)!;
    expect(r.replies[0]).toMatch(new RegExp(`96 record\\(s\\) for pbx1/root-disk since 25h \\(last 30 shown\\), times in ${ZONE}`));
    expect(r.replies[0]).toContain(DateTime.fromMillis(last.at, { zone: ZONE }).toFormat('yyyy-MM-dd HH:mm:ss'));
    const file = t.chat.messages.filter((m) => m.files.length).at(-1)!.files[0]!;
    keep('disk.png', file.data);
    const png = PNG.sync.read(file.data);
    expect([png.width, png.height]).toEqual([1000, 500]);
    // crit line and label (#d62728), warn line and label (#c99700), and the title in the CRITICAL colour.
    expect(countColour(png, [0xd6, 0x27, 0x28])).toBeGreaterThan(600);
    expect(countColour(png, [0xc9, 0x97, 0x00])).toBeGreaterThan(300);
    expect(countColour(png, [0xd6, 0x27, 0x28], 12, 0, 32)).toBeGreaterThan(100);
    // The warn band (between warn and crit) is tinted: a pale yellow above the 80 % line.
    expect(countColour(png, [0xfb, 0xf3, 0xdd], 6)).toBeGreaterThan(5000);
  });

  it('a sensor with several series and no thresholds in its perfdata renders with a legend', async () => {
    const start = Date.now() - 2 * 3_600_000;
    const results: ResultIn[] = Array.from({ length: 40 }, (_, i) => ({
      id: crypto.randomUUID(),
      sensorId: ids.load!,
      at: start + i * 3 * 60_000,
      status: 0,
      output: 'LOAD OK',
      perfdata: [
        { label: 'load1', value: 0.5 + (i % 7) * 0.1525 },
        { label: 'load5', value: 0.525 },
        { label: 'load15', value: 0.4 },
      ],
    }));
    await t.app.services.monitor.ingest(node, results);
    const r = await t.run('monitor records pbx1 load since=3h');
    expect(r.exitCode).toBe(0);
    const file = t.chat.messages.filter((m) => m.files.length).at(-1)!.files[0]!;
    keep('load.png', file.data);
    const png = PNG.sync.read(file.data);
    expect(png.width).toBe(1000);
    // The title is green (OK).
    expect(countColour(png, [0x2e, 0x9e, 0x44], 12, 0, 32)).toBeGreaterThan(100);
  });
});

function STATUS(s: number): string {
  return ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][s]!;
}
