// Sheet rows → HostInput, and host list → CSV.
// A column the sheet lacks is left undefined, so an existing host keeps that field (a new host gets the
// default); an empty cell in a column that is there clears the field. Cells are read through
// fromSpreadsheetSafe and the export is written with safeCsv, so export → import round-trips.
import { readSheet, pick } from '../util/sheet.js';
import { fromSpreadsheetSafe, safeCsv } from '../util/csv.js';
import type { HostInput, HostRecord } from './service.js';

const COLUMNS = {
  mac: ['mac', 'mac_address'],
  ip: ['ip', 'ip_address', 'address'],
  hostname: ['hostname', 'host', 'name'],
  room: ['room', 'sala'],
  phone: ['phone', 'phones', 'telefone', 'number'],
  owner: ['owner', 'user', 'usuario'],
  access: ['access', 'level'],
  comment: ['comment', 'note'],
  boot: ['boot_server', 'bootserver', 'option66'],
} as const;

/** The largest host sheet read (the chat platform's upload limit usually stops a file first). */
export const SHEET_MAX_BYTES = 64 << 20;

/** The field name checkFields reports problems under, per sheet column. */
const FIELD: Record<keyof typeof COLUMNS, string> = {
  mac: 'mac',
  ip: 'ip',
  hostname: 'hostname',
  room: 'room',
  phone: 'phone',
  owner: 'owner',
  access: 'access',
  comment: 'comment',
  boot: 'bootServer',
};

/** The problem reports of one import: the sheet's own (row issues) and the hosts' checks, each once, in row order. */
export function importProblems(parsed: { rowNums: number[]; rowIssues: { row: number; message: string }[]; formulaFields: Set<string> }, errors: { index: number; message: string }[]): string[] {
  const all = [
    ...parsed.rowIssues,
    // A formula cell is reported once, by the sheet reader; its (computed) value is not judged again.
    ...errors.filter((e) => !parsed.formulaFields.has(`${e.index}:${/^(\w+):/.exec(e.message)?.[1] ?? ''}`)).map((e) => ({ row: parsed.rowNums[e.index] ?? 0, message: e.message })),
  ];
  return all
    .map((p, i) => ({ ...p, i }))
    .sort((a, b) => a.row - b.row || a.i - b.i)
    .map((p) => `row ${p.row}: ${p.message}`);
}

export async function sheetToInputs(
  data: Buffer,
  name: string,
  maxRows = 200_000,
): Promise<{ inputs: HostInput[]; rowNums: number[]; issues: string[]; rowIssues: { row: number; message: string }[]; formulaFields: Set<string> }> {
  const sheet = await readSheet(data, name, { maxRows, maxBytes: SHEET_MAX_BYTES });
  const inputs: HostInput[] = [];
  const rowNums: number[] = [];
  const issues: string[] = [];
  const rowIssues: { row: number; message: string }[] = [];
  const formulaFields = new Set<string>();
  for (const r of sheet.rows) {
    for (const i of r.issues) {
      issues.push(`row ${r.row}: ${i}`);
      rowIssues.push({ row: r.row, message: i });
    }
    for (const [k, aliases] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, readonly string[]][]) {
      if (r.formulas?.some((f) => aliases.includes(f))) formulaFields.add(`${inputs.length}:${FIELD[k]}`);
    }
    const get = (k: keyof typeof COLUMNS): string | undefined => {
      const v = pick(r.cells, COLUMNS[k]);
      return v === undefined ? undefined : fromSpreadsheetSafe(v);
    };
    const phone = get('phone');
    const boot = get('boot');
    inputs.push({
      mac: get('mac') ?? '',
      ip: get('ip'),
      hostname: get('hostname'),
      room: get('room'),
      phones:
        phone === undefined
          ? undefined
          : phone
              .split(/[,;]/)
              .map((p) => fromSpreadsheetSafe(p.trim()))
              .filter(Boolean),
      owner: get('owner'),
      access: get('access'),
      comment: get('comment'),
      bootServer: boot === undefined ? undefined : boot || null,
    });
    rowNums.push(r.row);
  }
  return { inputs, rowNums, issues, rowIssues, formulaFields };
}

export function hostsToCsv(hosts: HostRecord[]): string {
  return safeCsv([
    ['mac', 'ip', 'hostname', 'room', 'phone', 'owner', 'access', 'comment', 'boot_server', 'updated_by', 'updated_at'],
    ...hosts.map((h) => [
      h.mac,
      h.ip,
      h.hostname,
      h.room ?? '',
      h.phones.join(';'),
      h.owner ?? '',
      String(h.access),
      h.comment ?? '',
      h.bootServer ?? '',
      h.updatedBy,
      new Date(h.updatedAt).toISOString(),
    ]),
  ]);
}
