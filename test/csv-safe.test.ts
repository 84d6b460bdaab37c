import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { fromSpreadsheetSafe, safeCsv, spreadsheetSafe } from '../src/util/csv.js';

describe('spreadsheet-safe CSV', () => {
  it('prefixes cells a spreadsheet would run as formulas, and nothing else', () => {
    expect(spreadsheetSafe('=HYPERLINK("http://x","y")')).toBe(`'=HYPERLINK("http://x","y")`);
    expect(spreadsheetSafe('+5511999')).toBe("'+5511999");
    expect(spreadsheetSafe('-1')).toBe("'-1");
    expect(spreadsheetSafe('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(spreadsheetSafe('\tx')).toBe("'\tx");
    expect(spreadsheetSafe('pc-305')).toBe('pc-305');
    expect(spreadsheetSafe("it's")).toBe("it's");
  });

  it('round-trips through a CSV writer and reader', () => {
    const cells = ['=1+2', 'Room 12', '+351 21', "'plain", '@x', ''];
    const csv = safeCsv([['a', 'b', 'c', 'd', 'e', 'f'], cells]);
    const [, back] = parse(csv) as string[][];
    expect(back!.map(fromSpreadsheetSafe)).toEqual(cells);
    expect(back![0]).toBe("'=1+2");
  });
});
