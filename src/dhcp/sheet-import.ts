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

export async function sheetToInputs(data: Buffer, name: string, maxRows = 200_000): Promise<{ inputs: HostInput[]; rowNums: number[]; issues: string[] }> {
  const sheet = await readSheet(data, name, { maxRows, maxBytes: 64 << 20 });
  const inputs: HostInput[] = [];
  const rowNums: number[] = [];
  const issues: string[] = [];
  for (const r of sheet.rows) {
    for (const i of r.issues) issues.push(`row ${r.row}: ${i}`);
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
      phones: phone === undefined ? undefined : phone.split(/[,;]/).map((p) => fromSpreadsheetSafe(p.trim())).filter(Boolean),
      owner: get('owner'),
      access: get('access'),
      comment: get('comment'),
      bootServer: boot === undefined ? undefined : boot || null,
    });
    rowNums.push(r.row);
  }
  return { inputs, rowNums, issues };
}

export function hostsToCsv(hosts: HostRecord[]): string {
  return safeCsv([
    ['mac', 'ip', 'hostname', 'room', 'phone', 'owner', 'access', 'comment', 'boot_server', 'updated_by', 'updated_at'],
    ...hosts.map((h) => [h.mac, h.ip, h.hostname, h.room ?? '', h.phones.join(';'), h.owner ?? '', String(h.access), h.comment ?? '', h.bootServer ?? '', h.updatedBy, new Date(h.updatedAt).toISOString()]),
  ]);
}
