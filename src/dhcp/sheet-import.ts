// Sheet rows → HostInput, and host list → CSV.
import { stringify } from 'csv-stringify/sync';
import { readSheet, pick } from '../util/sheet.js';
import type { HostInput, HostRecord } from './service.js';

export async function sheetToInputs(data: Buffer, name: string, maxRows = 200_000): Promise<{ inputs: HostInput[]; rowNums: number[]; issues: string[] }> {
  const sheet = await readSheet(data, name, { maxRows, maxBytes: 64 << 20 });
  const inputs: HostInput[] = [];
  const rowNums: number[] = [];
  const issues: string[] = [];
  for (const r of sheet.rows) {
    for (const i of r.issues) issues.push(`row ${r.row}: ${i}`);
    const c = r.cells;
    const phone = pick(c, ['phone', 'phones', 'telefone', 'number']) ?? '';
    inputs.push({
      mac: pick(c, ['mac', 'mac_address']) ?? '',
      ip: pick(c, ['ip', 'ip_address', 'address']) ?? 'auto',
      hostname: pick(c, ['hostname', 'host', 'name']) ?? '',
      room: pick(c, ['room', 'sala']),
      phones: phone.split(/[,;]/).map((p) => p.trim()).filter(Boolean),
      owner: pick(c, ['owner', 'user', 'usuario']),
      access: (pick(c, ['access', 'level']) ?? '') === '' ? 0 : (Number(pick(c, ['access', 'level'])) as number),
      comment: pick(c, ['comment', 'note']),
      bootServer: pick(c, ['boot_server', 'bootserver', 'option66']) || null,
    });
    rowNums.push(r.row);
  }
  return { inputs, rowNums, issues };
}

export function hostsToCsv(hosts: HostRecord[]): string {
  return stringify([
    ['mac', 'ip', 'hostname', 'room', 'phone', 'owner', 'access', 'comment', 'boot_server', 'updated_by', 'updated_at'],
    ...hosts.map((h) => [h.mac, h.ip, h.hostname, h.room ?? '', h.phones.join(';'), h.owner ?? '', String(h.access), h.comment ?? '', h.bootServer ?? '', h.updatedBy, new Date(h.updatedAt).toISOString()]),
  ]);
}
