// `provision …` for the phones provisioned: models, list, show, rm, regenerate, stale, the fetch log.
import type { Command, CommandContext } from '../src/app-types.js';
import { UserError, UsageError } from '../src/core/command.js';
import { ago, table, when } from '../src/core/format.js';
import { COMMON_COLUMNS } from '../src/provision/rows.js';
import { fmtMac } from '../src/util/mac.js';
import type { ProvisionService } from '../src/provision/service.js';
import { needOne, needStored, targets } from '../src/provision/phone-lookup.js';
import { structured, tablePart } from '../src/core/message.js';

const svc = (ctx: { app: CommandContext['app'] }) => ctx.app.services.provision as ProvisionService;
const by = (ctx: CommandContext) => `${ctx.caller.platform}:${ctx.caller.id}`;

export const commands: Command[] = [
  {
    name: 'provision models',
    usage: 'provision models',
    example: 'provision models',
    summary: 'phone models Switchboard can provision, and the sheet columns they read',
    role: 'viewer',
    async run(ctx) {
      const s = svc(ctx);
      const rows = s.drivers.list.map((d) => [
        d.id,
        d.label,
        d.aliases.slice(0, 4).join(', '),
        d.ouis.map((o) => o.match(/../g)!.join(':')).join(' '),
        String(d.maxLines),
        d
          .fileNames('0c383e000000')
          .map((f) => f.replace('0c383e000000', '<mac>').replace('0C383E000000', '<MAC>'))
          .join(' '),
        d.sampleUserAgent ?? '',
      ]);
      const cols = COMMON_COLUMNS.map((c) => `${c.required ? '' : '['}${c.aliases.join('|')}${c.required ? '' : ']'}`).join(' ');
      const extras = s.drivers.list.filter((d) => d.columns.length).map((d) => `${d.id} also reads: ${d.columns.map((c) => c.name).join(', ')}`);
      return [
        `${s.drivers.list.length} model${s.drivers.list.length === 1 ? '' : 's'}:`,
        table(['id', 'model', 'aliases', 'OUI', 'lines', 'files', 'user agent (example)'], rows),
        `Sheet columns: ${cols}`,
        ...extras,
        `Phones fetch from ${s.rootUrl()}${s.cfg.tokenUrls ? 't/<token>/' : ''}${s.cfg.auth ? ' with basic auth' : ''}.`,
        'Override keys (provision set <scope> <key>=<value>):',
        ...s.drivers.list.map((d) => `• ${d.id}: ${d.overrides ? d.overrides.describe : 'takes no overrides'}`),
      ].join('\n');
    },
  },
  {
    name: 'provision list',
    usage: 'provision list [filter]',
    example: 'provision list 201',
    summary: 'provisioned phones (filter on MAC, extension, name, room, model or IP)',
    role: 'viewer',
    args: { positional: [{ name: 'filter', rest: true }] },
    async run(ctx, args) {
      const f = ([] as string[])
        .concat((args.filter as string[] | undefined) ?? [])
        .join(' ')
        .toLowerCase();
      const fhex = f.replace(/[^0-9a-f]/g, '');
      await svc(ctx).refreshFetches(); // last fetches other processes served
      let ps = svc(ctx).all();
      if (f)
        ps = ps.filter((p) => [p.extension, p.name, p.room ?? '', p.model, p.ip ?? '', p.lastFetchIp ?? ''].some((x) => x.toLowerCase().includes(f)) || (fhex.length >= 4 && p.mac.includes(fhex)));
      if (!ps.length) return f ? `No provisioned phone matches "${f}".` : 'No phones are provisioned.';
      const rows = ps
        .slice(0, 100)
        .map((p) => [fmtMac(p.mac), svc(ctx).label(p), p.extension, p.name, p.room ?? '', p.ip ?? '', String(p.version), p.lastFetchAt ? `${ago(p.lastFetchAt)} from ${p.lastFetchIp}` : 'never']);
      const unreadable = svc(ctx).unreadablePhones();
      const warn = unreadable.length
        ? `\n⚠ ${unreadable.length} more phone${unreadable.length === 1 ? ' is' : 's are'} stored but not served: ${unreadable.length === 1 ? 'its' : 'their'} sealed SIP password cannot be opened with this key (${unreadable
            .slice(0, 10)
            .map((u) => fmtMac(u.rec.mac))
            .join(', ')}${unreadable.length > 10 ? ', …' : ''}; see provision show <mac>).`
        : '';
      return structured([
        `${ps.length} phone${ps.length === 1 ? '' : 's'}:`,
        tablePart(['mac', 'model', 'ext', 'name', 'room', 'ip', 'v', 'last fetch'], rows, { align: ['left', 'left', 'left', 'left', 'left', 'left', 'right', 'left'] }),
        ...(ps.length > 100 ? [`… ${ps.length - 100} more; give a filter`] : []),
        ...(warn ? [warn.replace(/^\n/, '')] : []),
      ]);
    },
  },
  {
    name: 'provision show',
    usage: 'provision show <mac|ext>',
    example: 'provision show 201',
    summary: "one phone's record, files and recent requests",
    role: 'viewer',
    args: { positional: [{ name: 'key', required: true }] },
    async run(ctx, args) {
      const s = svc(ctx);
      await s.refreshFetches();
      const p = needOne(svc(ctx), String(args.key));
      const log = await s.log.recent({ mac: p.mac, limit: 5 });
      return [
        `${s.label(p)} ${fmtMac(p.mac)}: ext ${p.extension} "${p.name}"${p.room ? `, room ${p.room}` : ''}`,
        `registrar ${p.server}:${p.port}, line ${p.line}, auth user ${p.authUser}; password sealed at rest`,
        `files: ${p.files.map((f) => `${s.configUrl(p.token)}${f}`).join(' ')} (version ${p.version}, generated ${when(p.generatedAt)})`,
        `DHCP ip: ${p.ip ?? '-'}   last fetch: ${p.lastFetchAt ? `${when(p.lastFetchAt)} from ${p.lastFetchIp} (${p.lastFetchUa ?? 'no user agent'})` : 'never'}`,
        `changed by ${p.updatedBy} at ${when(p.updatedAt)}`,
        ...(log.length
          ? [
              'recent requests:',
              table(
                ['when', 'from', 'file', 'status', 'reason'],
                log.map((e) => [when(e.at), e.ip, e.file ?? '', String(e.status), e.reason ?? e.decision]),
              ),
            ]
          : []),
      ].join('\n');
    },
  },
  {
    name: 'provision rm',
    usage: 'provision rm <mac>',
    example: 'provision rm 0c:38:3e:12:34:57',
    summary: 'forget a phone and delete its files (its DHCP reservation stays; see dhcp rm)',
    role: 'operator',
    args: { positional: [{ name: 'mac', required: true }] },
    confirm(args, ctx) {
      const p = needStored(svc(ctx), String(args.mac));
      return `remove ${svc(ctx).label(p)} ${fmtMac(p.mac)} (ext ${p.extension}) and delete ${p.files.join(', ')}`;
    },
    async run(ctx, args) {
      const p = needStored(svc(ctx), String(args.mac));
      await svc(ctx).remove(p.mac);
      const host = await ctx.app.services.dhcp.getByMac(fmtMac(p.mac));
      return `Removed ${svc(ctx).label(p)} ${fmtMac(p.mac)} (ext ${p.extension}); deleted ${p.files.join(', ')}.${host ? ` Its DHCP reservation ${host.hostname} ${host.ip} stays (dhcp rm ${host.mac} to remove it).` : ''}`;
    },
  },
  {
    name: 'provision regenerate',
    usage: 'provision regenerate <mac|ext|all>',
    example: 'provision regenerate 201',
    summary: 're-render phone files from the store (after a config or driver change); versions rise where files change',
    role: 'operator',
    args: { positional: [{ name: 'key', required: true }] },
    async run(ctx, args) {
      const s = svc(ctx);
      const key = String(args.key);
      const unreadable = key === 'all' ? s.unreadablePhones() : s.unreadablePhones(key);
      const served = key === 'all' ? s.all() : s.lookup(key);
      const list = served.length || unreadable.length ? served : targets(svc(ctx), key); // targets() says what is wrong
      const macs = [...list.map((p) => p.mac), ...unreadable.map((u) => u.rec.mac)];
      const r = await s.regenerate(macs, by(ctx));
      const n = r.changed.length + r.unchanged.length;
      const text = `Regenerated ${n} phone${n === 1 ? '' : 's'}: ${r.changed.length} changed (version raised), ${r.unchanged.length} unchanged.${r.changed.length ? ` Changed: ${r.changed.slice(0, 20).map(fmtMac).join(', ')}${r.changed.length > 20 ? ' …' : ''}. Run provision resync to have them fetch now.` : ''}`;
      if (!r.failed.length) return text;
      const failed = r.failed.map((f) => `• ${fmtMac(f.mac)} (ext ${f.extension}): ${f.reason}.`);
      const tail = `${r.failed.length} phone${r.failed.length === 1 ? '' : 's'} not regenerated and not served:\n${failed.slice(0, 20).join('\n')}${failed.length > 20 ? `\n… and ${failed.length - 20} more` : ''}`;
      throw new UserError(`${text}\n${tail}`);
    },
  },
  {
    name: 'provision stale',
    usage: 'provision stale [days]',
    example: 'provision stale 7',
    summary: 'phones that have not fetched their config in N days (default 7), never-fetched ones included',
    role: 'viewer',
    args: { positional: [{ name: 'days', type: 'integer', minimum: 1, maximum: 3650 }] },
    async run(ctx, args) {
      const days = args.days === undefined ? 7 : Number(args.days);
      await svc(ctx).refreshFetches(); // fetches other processes served
      const cutoff = Date.now() - days * 86_400_000;
      const stale = svc(ctx)
        .all()
        .filter((p) => (p.lastFetchAt ?? 0) < cutoff)
        .sort((a, b) => (a.lastFetchAt ?? 0) - (b.lastFetchAt ?? 0) || a.mac.localeCompare(b.mac));
      if (!stale.length) return `Every provisioned phone fetched its config within ${days} day${days === 1 ? '' : 's'}.`;
      const rows = stale
        .slice(0, 100)
        .map((p) => [
          fmtMac(p.mac),
          svc(ctx).label(p),
          p.extension,
          p.name,
          p.room ?? '',
          p.lastFetchAt ? `${ago(p.lastFetchAt)} from ${p.lastFetchIp}` : 'never',
          `v${p.version} ${ago(p.generatedAt)}`,
        ]);
      return `${stale.length} phone${stale.length === 1 ? ' has' : 's have'} not fetched in ${days} day${days === 1 ? '' : 's'}:\n${table(['mac', 'model', 'ext', 'name', 'room', 'last fetch', 'config'], rows)}${stale.length > 100 ? `\n… ${stale.length - 100} more` : ''}`;
    },
  },
  {
    name: 'provision log',
    usage: 'provision log [mac|ext] [n]   (or n=… for the count: a lone number that is a provisioned extension is read as that extension)',
    example: 'provision log 201 20',
    summary: 'recent requests to the config server, served or refused, with the reason',
    role: 'viewer',
    args: {
      positional: [{ name: 'mac' }, { name: 'count', type: 'integer', minimum: 1, maximum: 500 }],
      named: { n: { type: 'integer', minimum: 1, maximum: 500, description: 'how many requests (default 20)' } },
    },
    async run(ctx, args) {
      let mac: string | undefined;
      let n = 20;
      if (args.count !== undefined && args.n !== undefined) throw new UsageError('give the count once: provision log [mac|ext] [n] or n=…');
      const count = args.count ?? args.n;
      if (args.mac !== undefined) {
        const m = String(args.mac);
        // "provision log 101": extension 101 when such a phone exists, else the last 101 requests.
        if (/^\d{1,3}$/.test(m) && count === undefined && !svc(ctx).lookup(m).length) n = Number(m);
        else {
          mac = m.toLowerCase().replace(/[^0-9a-f]/g, '');
          if (mac.length !== 12) {
            const p = svc(ctx).lookup(m);
            if (!p.length) throw new UserError(`"${m}" is not a MAC address or a provisioned extension.`);
            mac = p[0]!.mac;
          }
        }
      }
      if (count !== undefined) n = Number(count);
      const rows = await svc(ctx).log.recent({ mac, limit: n });
      if (!rows.length) return mac ? `No requests for ${fmtMac(mac)} yet.` : 'No requests yet.';
      return `${table(
        ['when', 'from', 'mac', 'file', 'status', 'decision', 'reason', 'user agent'],
        rows.map((e) => [when(e.at), e.ip, e.mac ? fmtMac(e.mac) : '', e.file ?? e.path, String(e.status), e.decision, e.reason ?? '', (e.userAgent ?? '').slice(0, 40)]),
      )}`;
    },
  },
];
