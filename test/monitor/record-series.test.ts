// `monitor records`: records become one chart series per perfdata label, and the chart title's "since when" is
// the start of the trailing run of records in the current status.
import { describe, expect, it } from 'vitest';
import { perfSeries, statusSince } from '../../src/monitor/record-series.js';

const perf = (...p: object[]) => JSON.stringify(p);

describe('record series', () => {
  it('one series per label, in record order, with the latest reported thresholds and units', () => {
    const rows = [
      { at: 1, status: 0, perfdata: perf({ label: 'load1', value: 0.5, warn: '5', crit: '10' }, { label: 'load5', value: 0.2 }) },
      { at: 2, status: 0, perfdata: null },
      { at: 3, status: 1, perfdata: perf({ label: 'load1', value: 6, warn: '4', crit: '10', uom: '' }, { label: 'load5', value: 1.5, uom: 'x' }) },
    ];
    const s = perfSeries(rows, JSON.stringify({ warn: '1', crit: '2' }));
    expect([...s.keys()]).toEqual(['load1', 'load5']);
    expect(s.get('load1')).toEqual({
      label: 'load1',
      warn: '4',
      crit: '10',
      points: [
        { at: 1, value: 0.5, status: 0 },
        { at: 3, value: 6, status: 1 },
      ],
    });
    // Several series: the sensor's own thresholds are not pinned on one of them.
    expect(s.get('load5')).toEqual({
      label: 'load5',
      uom: 'x',
      warn: undefined,
      crit: undefined,
      points: [
        { at: 1, value: 0.2, status: 0 },
        { at: 3, value: 1.5, status: 1 },
      ],
    });
  });

  it("a lone series without reported thresholds takes the sensor's warn= and crit=", () => {
    const s = perfSeries([{ at: 1, status: 0, perfdata: perf({ label: '/', value: 70, uom: '%' }) }], JSON.stringify({ path: '/', warn: '80', crit: '90' }));
    expect(s.get('/')).toMatchObject({ warn: '80', crit: '90', uom: '%' });
    expect(perfSeries([{ at: 1, status: 0, perfdata: null }], '{}').size).toBe(0);
  });

  it('since when: the first record of the trailing run in the status, unless every record is in it', () => {
    const rows = [0, 0, 2, 0, 2, 2].map((status, i) => ({ at: (i + 1) * 10, status, perfdata: null }));
    expect(statusSince(rows, 2)).toBe(50);
    expect(statusSince(rows, 0)).toBeUndefined(); // the last record is not in it
    expect(statusSince(rows.slice(0, 2), 0)).toBeUndefined(); // all of them: since before the window
    expect(statusSince(rows, undefined)).toBeUndefined();
    expect(statusSince([], 0)).toBeUndefined();
  });
});
