// Read a spreadsheet dropped in chat: CSV (comma, semicolon or tab; UTF-8 with or without BOM, or
// Windows-1252) or XLSX. Returns header names and rows with their sheet row numbers; problems that belong
// to a row (a formula cell, a wrong number of cells) are listed on that row so callers can report every bad
// row at once. Problems with the whole file throw SheetError.
import type { CellValue } from 'exceljs';
import iconv from 'iconv-lite';
import { parse } from 'csv-parse/sync';
import { SbError } from './errors.js';

/** The sheet as a whole cannot be used (not CSV/XLSX, too many rows, no header…). */
export class SheetError extends SbError {
  constructor(message: string) {
    super('SB_SHEET_BAD_ROW', message);
    this.name = 'SheetError';
  }
}

export interface SheetRow {
  /** Row number as a person sees it in the sheet (the header is row 1). */
  row: number;
  /** Cells by normalised header name (see normalizeHeader). */
  cells: Record<string, string>;
  issues: string[];
  /** Normalised names of the columns whose cell on this row is a formula (their text is never echoed). */
  formulas?: string[];
}

export interface Sheet {
  format: 'csv' | 'xlsx';
  /** Header names as written. */
  headers: string[];
  /** Normalised header names, same order. */
  keys: string[];
  rows: SheetRow[];
  encoding?: string;
  delimiter?: string;
}

export interface ReadSheetOptions {
  maxBytes?: number;
  maxRows?: number;
}

/** Lower-case, no accents, spaces/dashes to underscores: "Número do Ramal" → "numero_do_ramal". */
export function normalizeHeader(h: string): string {
  return String(h ?? '')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s\-/]+/g, '_')
    .replace(/[^a-z0-9_]/g, '');
}

/** Pick the first present column among aliases (already normalised). */
export function pick(cells: Record<string, string>, aliases: readonly string[]): string | undefined {
  for (const a of aliases) if (a in cells) return cells[a];
  return undefined;
}

const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

export async function readSheet(data: Buffer, name: string, opts: ReadSheetOptions = {}): Promise<Sheet> {
  const maxBytes = opts.maxBytes ?? 10 * 1024 * 1024;
  const maxRows = opts.maxRows ?? 100_000;
  if (data.length === 0) throw new SheetError(`${name} is empty`);
  if (data.length > maxBytes) throw new SheetError(`${name} is ${(data.length / 1048576).toFixed(1)} MB; the limit is ${(maxBytes / 1048576).toFixed(1)} MB`);
  const isZip = data.subarray(0, 4).equals(ZIP);
  if (isZip || /\.xlsx$/i.test(name)) {
    if (!isZip) throw new SheetError(`${name} is named .xlsx but is not an XLSX workbook`);
    return readXlsx(data, name, maxRows);
  }
  if (/\.(xls|ods|pdf|docx?|png|jpe?g|zip)$/i.test(name)) throw new SheetError(`${name} is not a sheet Switchboard reads: send CSV or XLSX`);
  return readCsv(data, name, maxRows);
}

function decode(data: Buffer): { text: string; encoding: string } {
  let buf = data;
  let bom = false;
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
    buf = buf.subarray(3);
    bom = true;
  }
  if ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff)) {
    return { text: iconv.decode(buf, buf[0] === 0xff ? 'utf16le' : 'utf16be').replace(/^\uFEFF/, ''), encoding: 'utf-16' };
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(buf), encoding: bom ? 'utf-8-bom' : 'utf-8' };
  } catch {
    return { text: iconv.decode(buf, 'win1252'), encoding: 'windows-1252' };
  }
}

function detectDelimiter(text: string): string {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  let inQ = false;
  const counts: Record<string, number> = { ',': 0, ';': 0, '\t': 0 };
  for (const ch of first) {
    if (ch === '"') inQ = !inQ;
    else if (!inQ && ch in counts) counts[ch]!++;
  }
  const best = Object.entries(counts).sort((a, b) => b[1] - a[1])[0]!;
  return best[1] > 0 ? best[0] : ',';
}

function readCsv(data: Buffer, name: string, maxRows: number): Sheet {
  const sample = data.subarray(0, 8192);
  if (sample.includes(0) && !(sample[0] === 0xff || sample[0] === 0xfe)) throw new SheetError(`${name} is not a sheet: it holds binary data (send CSV or XLSX)`);
  const { text, encoding } = decode(data);
  if (!text.trim()) throw new SheetError(`${name} has no rows`);
  const delimiter = detectDelimiter(text);
  let records: string[][];
  try {
    records = parse(text, { delimiter, relax_column_count: true, skip_empty_lines: false, bom: true, relax_quotes: true }) as string[][];
  } catch (e) {
    const err = e as { message: string; lines?: number };
    // csv-parse quotes the offending field in some messages ("…, value is \"…\""): never echo a cell.
    const why = err.message
      .replace(/^Invalid Record Length: |^CsvError: /, '')
      .replace(/,?\s*value is\b[\s\S]*$/, '')
      .replace(/\s+/g, ' ')
      .slice(0, 200);
    throw new SheetError(`${name} is not valid CSV${err.lines ? ` near line ${err.lines}` : ''}: ${why}`);
  }
  const headerRec = records[0] ?? [];
  return build(
    'csv',
    name,
    headerRec,
    records.slice(1).map((cells, i) => ({ row: i + 2, cells, formulas: cells.map((c) => /^\s*=/.test(c)) })),
    maxRows,
    { encoding, delimiter },
  );
}

function cellText(v: CellValue): { text: string; formula: boolean } {
  if (v === null || v === undefined) return { text: '', formula: false };
  if (typeof v === 'string') return { text: v, formula: false };
  if (typeof v === 'number') return { text: Number.isInteger(v) ? String(v) : String(v), formula: false };
  if (typeof v === 'boolean') return { text: v ? 'true' : 'false', formula: false };
  if (v instanceof Date) return { text: v.toISOString().slice(0, 10), formula: false };
  const o = v as unknown as Record<string, unknown>;
  if ('formula' in o || 'sharedFormula' in o) return { text: String(o.result ?? ''), formula: true };
  if ('richText' in o) return { text: (o.richText as { text: string }[]).map((r) => r.text).join(''), formula: false };
  if ('hyperlink' in o) return { text: String(o.text ?? ''), formula: false };
  if ('error' in o) return { text: String(o.error), formula: false };
  return { text: String(v), formula: false };
}

async function readXlsx(data: Buffer, name: string, maxRows: number): Promise<Sheet> {
  const { default: ExcelJS } = await import('exceljs'); // loaded on the first XLSX only
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(data as unknown as ArrayBuffer);
  } catch (e) {
    throw new SheetError(`${name} is not a readable XLSX workbook: ${(e as Error).message}`);
  }
  const ws = wb.worksheets.find((w) => w.actualRowCount > 0);
  if (!ws) throw new SheetError(`${name} has no rows`);
  const raw: { row: number; cells: string[]; formulas: boolean[] }[] = [];
  let header: string[] | null = null;
  ws.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    const cells: string[] = [];
    const formulas: boolean[] = [];
    const n = Math.max(row.cellCount, header?.length ?? 0);
    for (let c = 1; c <= n; c++) {
      const t = cellText(row.getCell(c).value);
      cells.push(t.text);
      formulas.push(t.formula);
    }
    if (!header) header = cells;
    else raw.push({ row: rowNumber, cells, formulas });
  });
  return build('xlsx', name, header ?? [], raw, maxRows, {});
}

/** 0 → "A", 25 → "Z", 26 → "AA": the column as a spreadsheet names it. */
export function columnLetter(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

function build(
  format: 'csv' | 'xlsx',
  name: string,
  headerRec: string[],
  raw: { row: number; cells: string[]; formulas: boolean[] }[],
  maxRows: number,
  extra: { encoding?: string; delimiter?: string },
): Sheet {
  const headers = headerRec.map((h) => String(h).trim());
  while (headers.length && headers[headers.length - 1] === '') headers.pop();
  if (headers.length === 0 || headers.every((h) => !h)) throw new SheetError(`${name} has no header row`);
  const keys = headers.map(normalizeHeader);
  const empty = keys.findIndex((k) => !k);
  if (empty >= 0) throw new SheetError(`${name}: column ${empty + 1} of the header row has no name`);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup) throw new SheetError(`${name}: column "${dup}" appears twice in the header row`);
  const rows: SheetRow[] = [];
  for (const r of raw) {
    if (r.cells.every((c) => String(c).trim() === '')) continue;
    const issues: string[] = [];
    const cells: Record<string, string> = {};
    const formulas: string[] = [];
    keys.forEach((k, i) => {
      cells[k] = String(r.cells[i] ?? '').trim();
      // Never the cell's text: in XLSX it is the formula's computed result, and the column may hold a password.
      if (r.formulas[i]) {
        issues.push(`${headers[i]} is a formula (column ${columnLetter(i)}); paste its value as text instead`);
        formulas.push(k);
      }
    });
    const extraCells = r.cells.slice(keys.length).filter((c) => String(c).trim() !== '');
    if (extraCells.length) issues.push(`has ${keys.length + extraCells.length} cells but the header names ${keys.length} columns`);
    rows.push(formulas.length ? { row: r.row, cells, issues, formulas } : { row: r.row, cells, issues });
    if (rows.length > maxRows) throw new SheetError(`${name} has more than ${maxRows} rows`);
  }
  if (rows.length === 0) throw new SheetError(`${name} has a header row but no data rows`);
  return { format, headers, keys, rows, ...extra };
}
