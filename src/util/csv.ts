// CSV files the bot hands out are opened in spreadsheets, where a cell that starts with = + - @ (or a tab /
// carriage return) is run as a formula. Values that come from outside (a PC's hostname, a caller's name, a
// room typed in chat) are written with a leading apostrophe instead, the convention spreadsheets already
// use for "this is text"; sheets read back by the bot drop that apostrophe again, so export → import
// round-trips.
import { stringify } from 'csv-stringify/sync';

const FORMULA_START = /^[=+\-@\t\r]/;

/** The cell as it should be written to a CSV that a spreadsheet may open. */
export function spreadsheetSafe(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** Undo `spreadsheetSafe` on a cell read back from a sheet. */
export function fromSpreadsheetSafe(value: string): string {
  return value.startsWith("'") && FORMULA_START.test(value.slice(1)) ? value.slice(1) : value;
}

/** Rows (header first) to CSV text, every cell made spreadsheet-safe. */
export function safeCsv(rows: readonly (readonly unknown[])[]): string {
  return stringify(rows.map((r) => r.map((c) => spreadsheetSafe(c == null ? '' : String(c)))));
}
