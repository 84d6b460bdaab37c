// `inventory pcs|pc|accounts|export`: the PCs renewal has seen (keyed by MAC) and their account history.
import type { Command } from '../src/app-types.js';
import { UserError } from '../src/core/command.js';
import { table, when } from '../src/core/format.js';
import type { PcRow } from '../src/renew/inventory.js';
import { safeCsv } from '../src/util/csv.js';

function facts(pc: PcRow): Record<string, unknown> {
  try {
    return pc.facts ? (JSON.parse(pc.facts) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const gb = (kb: unknown) => (Number(kb) ? `${(Number(kb) / 1024 / 1024).toFixed(1)} GiB` : 'unknown');

export const commands: Command[] = [
  {
    name: 'inventory pcs',
    usage: 'inventory pcs [filter]',
    example: 'inventory pcs reception',
    summary: 'PCs in the inventory (filter on MAC, hostname, IP or account)',
    role: 'viewer',
    args: { positional: [{ name: 'filter' }] },
    async run(ctx, args) {
      const rows = await ctx.app.services.renew.inventory.listPcs(args.filter as string | undefined);
      if (!rows.length) return args.filter ? `No PC matches "${args.filter}".` : 'The inventory is empty; `renew run` fills it.';
      return table(
        ['mac', 'hostname', 'ip', 'account', 'os', 'last renewal'],
        rows.map((r) => [r.mac, r.hostname ?? '', r.ip ?? '', r.account ?? '', String(facts(r).os ?? ''), when(r.last_renewal_at)]),
        { maxWidth: 80 },
      );
    },
  },
  {
    name: 'inventory pc',
    usage: 'inventory pc <mac|host|ip>',
    example: 'inventory pc pc-reception',
    summary: "one PC's record and facts",
    role: 'viewer',
    args: { positional: [{ name: 'pc', required: true }] },
    async run(ctx, args) {
      const pc = await ctx.app.services.renew.inventory.findPc(String(args.pc));
      if (!pc) throw new UserError(`no PC "${args.pc}" in the inventory (give a MAC, hostname or IP)`, 'SB_NOT_FOUND');
      const f = facts(pc);
      return [
        `PC ${pc.hostname ?? '?'} — ${pc.mac}`,
        `IP ${pc.ip ?? '?'} (interface ${f.iface ?? '?'}), SSH port ${pc.port ?? '?'}`,
        `OS ${f.os ?? '?'}, kernel ${f.kernel ?? '?'}`,
        `CPU ${f.cpu ?? '?'} (${f.cores ?? '?'} cores), RAM ${gb(f.ramKb)}, disk ${gb(f.diskKb)} (${gb(f.diskUsedKb)} used)`,
        `serial ${f.serial ?? 'unknown'}, ${f.vendor ?? 'unknown'} ${f.product ?? ''}`.trimEnd(),
        `logged in at renewal: ${f.users || 'nobody'}`,
        `account ${pc.account ?? '-'}, last renewal ${when(pc.last_renewal_at)}`,
        `host key ${pc.host_key_fp ?? '-'}; bot key ${pc.key_ok ? 'works' : 'not installed'}`,
        `link ${ctx.app.baseUrl()}/inventory/pc/${pc.mac}`,
      ].join('\n');
    },
  },
  {
    name: 'inventory accounts',
    usage: 'inventory accounts [pc]',
    example: 'inventory accounts',
    summary: 'account history (per PC when given a MAC, hostname or IP)',
    role: 'viewer',
    args: { positional: [{ name: 'pc' }] },
    async run(ctx, args) {
      const inv = ctx.app.services.renew.inventory;
      let mac: string | undefined;
      if (args.pc) {
        const pc = await inv.findPc(String(args.pc));
        if (!pc) throw new UserError(`no PC "${args.pc}" in the inventory (give a MAC, hostname or IP)`, 'SB_NOT_FOUND');
        mac = pc.mac;
      }
      const rows = await inv.accounts(mac);
      if (!rows.length) return 'No accounts recorded yet.';
      return table(
        ['mac', 'account', 'request', 'created', 'removed'],
        rows.map((r) => [r.mac, r.account, r.request_id ? `#${r.request_id}` : '', when(r.created_at), r.removed_at ? when(r.removed_at) : 'current']),
        { maxWidth: 80 },
      );
    },
  },
  {
    name: 'inventory export',
    usage: 'inventory export',
    example: 'inventory export',
    summary: 'the PC inventory as a CSV file',
    role: 'viewer',
    async run(ctx) {
      const rows = await ctx.app.services.renew.inventory.listPcs();
      const cols = ['mac', 'hostname', 'ip', 'account', 'last_renewal', 'os', 'kernel', 'cpu', 'cores', 'ram_kb', 'disk_kb', 'serial', 'vendor', 'product', 'host_key_fp'];
      const data = rows.map((r) => {
        const f = facts(r);
        return [
          r.mac,
          r.hostname ?? '',
          r.ip ?? '',
          r.account ?? '',
          r.last_renewal_at ? new Date(r.last_renewal_at).toISOString() : '',
          f.os ?? '',
          f.kernel ?? '',
          f.cpu ?? '',
          f.cores ?? '',
          f.ramKb ?? '',
          f.diskKb ?? '',
          f.serial ?? '',
          f.vendor ?? '',
          f.product ?? '',
          r.host_key_fp ?? '',
        ].map(String);
      });
      // Hostnames, CPU names etc. come from the PCs: cells that a spreadsheet would run as formulas are written as text.
      const csv = safeCsv([cols, ...data]);
      return { text: `${rows.length} PC(s) exported.`, files: [{ name: 'inventory.csv', data: Buffer.from(csv, 'utf8'), mime: 'text/csv' }] };
    },
  },
];
