import type { Command, CommandContext } from '../src/app-types.js';
import { UserError, UsageError } from '../src/core/command.js';
import { table, when } from '../src/core/format.js';
import { batchCode, type DhcpStore, type HostInput, type HostRecord } from '../src/dhcp/service.js';
import { SbError } from '../src/util/errors.js';
import { applyAfterChange, applyAll, renderForApp, RenderError, type Target } from '../src/dhcp/apply.js';
import { sheetToInputs, hostsToCsv, importProblems, SHEET_MAX_BYTES } from '../src/dhcp/sheet-import.js';
import { readAttachment } from '../src/core/attachment.js';
import { structured, tablePart } from '../src/core/message.js';

const svc = (ctx: CommandContext) => ctx.app.services.dhcp as DhcpStore;
const by = (ctx: CommandContext) => `${ctx.caller.platform}:${ctx.caller.id}`;
const FIELDS = ['mac', 'ip', 'hostname', 'name', 'room', 'phone', 'owner', 'access', 'comment', 'boot'];

function fromArgs(a: Record<string, unknown>, base?: HostRecord): HostInput {
  const s = (k: string) => (a[k] === undefined ? undefined : String(a[k]));
  return {
    mac: s('mac') ?? base?.mac ?? '',
    ip: s('ip') ?? base?.ip ?? 'auto',
    hostname: s('hostname') ?? s('name') ?? base?.hostname ?? '',
    room: s('room') ?? base?.room ?? undefined,
    phones:
      s('phone') !== undefined
        ? s('phone')!
            .split(/[,;]/)
            .map((p) => p.trim())
            .filter(Boolean)
        : base?.phones,
    owner: s('owner') ?? base?.owner ?? undefined,
    access: s('access') !== undefined ? (Number(s('access')) as number) : base?.access,
    comment: s('comment') ?? base?.comment ?? undefined,
    bootServer: s('boot') !== undefined ? s('boot') || null : (base?.bootServer ?? null),
  };
}

function show(h: HostRecord): string {
  return [
    `${h.hostname}  ${h.ip}  ${h.mac}`,
    `room: ${h.room ?? '-'}   owner: ${h.owner ?? '-'}   access: ${h.access}   phones: ${h.phones.join(', ') || '-'}`,
    ...(h.comment ? [`comment: ${h.comment}`] : []),
    ...(h.bootServer ? [`boot server (option 66): ${h.bootServer}`] : []),
    `changed by ${h.updatedBy} at ${when(h.updatedAt)}`,
  ].join('\n');
}
const hostTable = (hs: HostRecord[]) =>
  tablePart(
    ['hostname', 'ip', 'mac', 'room', 'owner', 'access', 'phones'],
    hs.map((h) => [h.hostname, h.ip, h.mac, h.room ?? '', h.owner ?? '', String(h.access), h.phones.join(',')]),
  );

async function need(ctx: CommandContext, key: string): Promise<HostRecord> {
  const h = await svc(ctx).lookup(key);
  if (!h) throw new UserError(`No host with MAC, IP or hostname "${key}".`, 'SB_NOT_FOUND');
  return h;
}

/** What differs between a host's stored record and its new one: `room 101 → 204, access 2 → 0`. */
function diff(a: HostRecord | undefined, b: HostRecord): string {
  if (!a) return 'new';
  const v = (x: unknown) => (x === null || x === undefined || x === '' ? '-' : Array.isArray(x) ? x.join(',') || '-' : String(x));
  const fields: [string, unknown, unknown][] = [
    ['ip', a.ip, b.ip],
    ['hostname', a.hostname, b.hostname],
    ['room', a.room, b.room],
    ['phones', a.phones, b.phones],
    ['owner', a.owner, b.owner],
    ['access', a.access, b.access],
    ['comment', a.comment, b.comment],
    ['boot', a.bootServer, b.bootServer],
  ];
  return fields
    .filter(([, x, y]) => v(x) !== v(y))
    .map(([k, x, y]) => `${k} ${v(x)} → ${v(y)}`)
    .join(', ');
}

function failText(errors: { index: number; message: string }[], label: (i: number) => string, max = 50): string {
  const lines = errors.slice(0, max).map((e) => `${label(e.index)}: ${e.message}`);
  if (errors.length > max) lines.push(`… and ${errors.length - max} more`);
  return lines.join('\n');
}

/** The reply to a host change, sent once the change is applied (dhcp.autoApply) or saying it is not live yet. */
async function afterChange(ctx: CommandContext, done: string): Promise<string> {
  const a = await applyAfterChange(ctx.app, svc(ctx), { platform: ctx.incoming.platform, channel: ctx.incoming.channel, thread: ctx.incoming.thread });
  if (!a.ok) throw new UserError(`${done}\n${a.text}`, 'SB_DHCP_RENDER_FAILED');
  return `${done}\n${a.text}`;
}

const KEY = { name: 'key', required: true, description: 'MAC, IP or hostname' } as const;

export const commands: Command[] = [
  {
    name: 'dhcp add',
    usage: 'dhcp add mac=<mac> ip=<ip|auto> name=<hostname> [room=…] [phone=…] [owner=…] [access=0-3] [comment=…] [boot=<url>]',
    example: 'dhcp add mac=00:11:22:33:44:66 ip=auto name=pc-lab room=A2 owner="Lab bench"',
    summary: 'add a DHCP reservation',
    role: 'operator',
    args: { allowUnknownNamed: true },
    async run(ctx, args) {
      const unknown = Object.keys(args).filter((k) => k !== 'flags' && !FIELDS.includes(k));
      if (unknown.length) throw new UsageError(`unknown field(s): ${unknown.join(', ')}`);
      const inp = fromArgs(args);
      const dup = await svc(ctx).getByMac(inp.mac);
      if (dup) throw new UserError(`A host with MAC ${dup.mac} exists (${dup.hostname}, ${dup.ip}); use dhcp edit.`, 'SB_DHCP_DUPLICATE_MAC');
      const r = await svc(ctx).upsertHosts([inp], by(ctx));
      if (!r.ok) throw new UserError(`Not added:\n${r.errors.map((e) => e.message).join('\n')}`, batchCode(r));
      return afterChange(ctx, `Added:\n${show(r.added[0]!)}`);
    },
  },
  {
    name: 'dhcp edit',
    usage: 'dhcp edit <mac|ip|hostname> field=value…',
    example: 'dhcp edit pc-reception room=B2',
    summary: 'change a reservation',
    role: 'operator',
    args: { positional: [KEY], allowUnknownNamed: true },
    async run(ctx, args) {
      const h = await need(ctx, String(args.key));
      const unknown = Object.keys(args).filter((k) => k !== 'flags' && k !== 'key' && !FIELDS.includes(k));
      if (unknown.length) throw new UsageError(`unknown field(s): ${unknown.join(', ')}`);
      if (args.mac !== undefined) throw new UserError('The MAC identifies the host; remove it and add a new one to change it.');
      const { key: _k, ...rest } = args;
      // ip=auto asks for the lowest free address (the host's own counts as free), not "keep it".
      const realloc = args.ip !== undefined && String(args.ip).trim().toLowerCase() === 'auto';
      const r = await svc(ctx).upsertHosts([fromArgs({ ...rest, mac: h.mac }, h)], by(ctx), { reallocate: realloc });
      if (!r.ok) throw new UserError(`Not changed:\n${r.errors.map((e) => e.message).join('\n')}`, batchCode(r));
      return r.changed.length ? afterChange(ctx, `Changed:\n${show(r.changed[0]!)}`) : 'Nothing changed.';
    },
  },
  {
    name: 'dhcp rm',
    usage: 'dhcp rm <mac|ip|hostname>',
    example: 'dhcp rm pc-reception',
    summary: 'remove a reservation',
    role: 'operator',
    args: { positional: [KEY] },
    async confirm(args, ctx) {
      const h = await need(ctx, String(args.key));
      return `remove DHCP host ${h.hostname} (${h.ip}, ${h.mac})`;
    },
    async run(ctx, args) {
      const h = await need(ctx, String(args.key));
      await svc(ctx).remove(h.mac, by(ctx));
      return afterChange(ctx, `Removed ${h.hostname} (${h.ip}, ${h.mac}).`);
    },
  },
  {
    name: 'dhcp show',
    usage: 'dhcp show <mac|ip|hostname>',
    example: 'dhcp show pc-reception',
    summary: 'show one reservation',
    role: 'viewer',
    args: { positional: [KEY] },
    async run(ctx, args) {
      return show(await need(ctx, String(args.key)));
    },
  },
  {
    name: 'dhcp find',
    usage: 'dhcp find <text>',
    example: 'dhcp find reception',
    summary: 'search MAC, IP, hostname, room, phone and owner',
    role: 'viewer',
    args: { positional: [{ name: 'text', required: true, rest: true }] },
    async run(ctx, args) {
      const text = ([] as string[]).concat(args.text as string[]).join(' ');
      const hs = await svc(ctx).find(text);
      if (!hs.length) return `No host matches "${text}".`;
      return structured([`${hs.length} host(s):`, hostTable(hs.slice(0, 50)), ...(hs.length > 50 ? [`… ${hs.length - 50} more; refine the search`] : [])]);
    },
  },
  {
    name: 'dhcp list',
    usage: 'dhcp list [room=…] [access=0-3] [page=N]',
    example: 'dhcp list room=A1',
    summary: 'list reservations, 50 a page',
    role: 'viewer',
    args: { named: { room: { type: 'string' }, access: { type: 'integer', minimum: 0, maximum: 3 }, page: { type: 'integer', minimum: 1, default: 1 } } },
    async run(ctx, args) {
      let hs = await svc(ctx).all();
      if (args.room !== undefined) hs = hs.filter((h) => h.room === String(args.room));
      if (args.access !== undefined) hs = hs.filter((h) => h.access === Number(args.access));
      const page = Number(args.page ?? 1);
      const pages = Math.max(1, Math.ceil(hs.length / 50));
      const filt = [args.room !== undefined ? `room=${/\s/.test(String(args.room)) ? JSON.stringify(String(args.room)) : args.room}` : '', args.access !== undefined ? `access=${args.access}` : '']
        .filter(Boolean)
        .join(' ');
      if (!hs.length) return filt ? `No hosts with ${filt}.` : 'No hosts.';
      if (page > pages) throw new UserError(`There is no page ${page}: ${hs.length} host(s)${filt ? ` with ${filt}` : ''} fit on ${pages} page(s) of 50.`);
      return structured([
        `${hs.length} host(s), page ${page}/${pages}:`,
        hostTable(hs.slice((page - 1) * 50, page * 50)),
        ...(page < pages ? [`next: \`dhcp list ${filt ? `${filt} ` : ''}page=${page + 1}\``] : []),
      ]);
    },
  },
  {
    name: 'dhcp history',
    usage: 'dhcp history <mac|ip|hostname>',
    example: 'dhcp history pc-reception',
    summary: "a host's changes",
    role: 'viewer',
    args: { positional: [KEY] },
    async run(ctx, args) {
      const key = String(args.key);
      const h = await svc(ctx).lookup(key);
      const hist = await svc(ctx).history(h?.mac ?? key);
      if (!hist.length) throw new UserError(`No history for "${key}".`, 'SB_NOT_FOUND');
      return table(
        ['when', 'who', 'action', 'ip', 'hostname', 'room', 'owner', 'access'],
        hist.map((e) => {
          const r = e.after ?? e.before!;
          return [when(e.at), e.by, e.action, r.ip, r.hostname, r.room ?? '', r.owner ?? '', String(r.access)];
        }),
      );
    },
  },
  {
    name: 'dhcp import',
    usage: 'dhcp import [--dry-run]   (attach a CSV or XLSX: mac, ip, hostname, room, phone, owner, access, comment)',
    example: 'dhcp import --dry-run',
    summary: 'add/update hosts from a sheet, all or nothing',
    role: 'operator',
    args: { flags: { 'dry-run': { description: 'show what would change' } } },
    async run(ctx, args) {
      const f = ctx.incoming.files[0];
      if (!f) throw new UserError('Attach a CSV or XLSX file with a header row (mac, ip, hostname, room, phone, owner, access, comment).');
      let data: Buffer;
      try {
        data = await readAttachment(f, SHEET_MAX_BYTES);
      } catch (err) {
        throw new UserError(`Nothing imported: ${(err as Error).message}`, err instanceof SbError ? err.code : 'SB_ATTACHMENT_UNREADABLE');
      }
      let parsed;
      try {
        parsed = await sheetToInputs(data, f.name);
      } catch (err) {
        throw new UserError(`Cannot read ${f.name}: ${(err as Error).message}`, 'SB_SHEET_BAD_ROW');
      }
      const { inputs, issues } = parsed;
      const dry = !!args.flags['dry-run'];
      const r = await svc(ctx).upsertHosts(inputs, by(ctx), { dryRun: dry || issues.length > 0 });
      if (issues.length || !r.ok) {
        const all = importProblems(parsed, r.errors);
        throw new UserError(
          `Nothing imported: ${all.length} problem(s) in ${f.name}:\n${all.slice(0, 50).join('\n')}${all.length > 50 ? `\n… and ${all.length - 50} more` : ''}`,
          issues.length ? 'SB_SHEET_BAD_ROW' : batchCode(r),
        );
      }
      const head = dry ? 'Dry run, nothing written' : 'Imported';
      const list = (t: string, hs: HostRecord[]) =>
        hs.length
          ? `\n${t}: ${hs
              .slice(0, 20)
              .map((h) => `${h.hostname} ${h.ip}`)
              .join(', ')}${hs.length > 20 ? ` … (${hs.length})` : ''}`
          : '';
      const diffs = r.changed.slice(0, 20).map((h) => `  ${h.hostname} (${h.mac}): ${diff(r.before.get(h.mac), h)}`);
      const more = r.changed.length > 20 ? `\n  … and ${r.changed.length - 20} more` : '';
      return `${head}: ${r.added.length} added, ${r.changed.length} changed, ${r.unchanged} unchanged.${list('added', r.added)}${r.changed.length ? `\nchanged:\n${diffs.join('\n')}${more}` : ''}`;
    },
  },
  {
    name: 'dhcp export',
    usage: 'dhcp export',
    example: 'dhcp export',
    summary: 'all reservations as a CSV file',
    role: 'viewer',
    async run(ctx) {
      const hs = await svc(ctx).all();
      return { text: `${hs.length} host(s).`, files: [{ name: 'dhcp-hosts.csv', data: Buffer.from(hostsToCsv(hs)), mime: 'text/csv' }] };
    },
  },
  {
    name: 'dhcp render',
    usage: 'dhcp render <target>',
    example: 'dhcp render kea',
    summary: 'print exactly what apply would write',
    role: 'viewer',
    args: { positional: [{ name: 'target', required: true, description: 'a rendered file of a loaded backend: isc, kea, dnsmasq, proxy1, proxy2, proxy3, …' }] },
    async run(ctx, args) {
      const targets = ctx.app.services.dhcpBackends.targets();
      if (!targets.includes(String(args.target))) throw new UsageError(`unknown target ${JSON.stringify(args.target)} (targets: ${targets.join(', ')})`);
      let r: { text: string; note: string };
      try {
        r = renderForApp(ctx.app, args.target as Target, await svc(ctx).all(), svc(ctx).subnets());
      } catch (e) {
        if (e instanceof RenderError) throw new UserError(e.message, 'SB_DHCP_RENDER_FAILED');
        throw e;
      }
      const { text, note } = r;
      const tail = note ? `\n${note}` : '';
      if (text.length > 3500) return { text: `${args.target}: ${text.length} bytes, attached.${tail}`, files: [{ name: `${args.target}.conf`, data: Buffer.from(text), mime: 'text/plain' }] };
      return '```\n' + (text || '(empty)\n') + '```' + tail;
    },
  },
  {
    name: 'dhcp apply',
    usage: 'dhcp apply [--dry-run]',
    example: 'dhcp apply --dry-run',
    summary: 'render, check with the daemons, install and reload',
    role: 'operator',
    args: { flags: { 'dry-run': { description: 'render and check only' } } },
    confirm(args) {
      return args.flags['dry-run'] ? null : 'write the DHCP and proxy files and reload the daemons';
    },
    async run(ctx, args) {
      const r = await applyAll(ctx.app, svc(ctx), { dryRun: !!args.flags['dry-run'], replyTo: { platform: ctx.incoming.platform, channel: ctx.incoming.channel, thread: ctx.incoming.thread } });
      if (!r.ok) throw new UserError(r.text, 'SB_DHCP_RENDER_FAILED');
      return r.text;
    },
  },
];
void failText;
