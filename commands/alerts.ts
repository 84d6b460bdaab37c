import type { Command } from '../src/app-types.js';
import { UserError, UsageError } from '../src/core/command.js';
import { table, ago, when, parseDuration } from '../src/core/format.js';
import { structured, tablePart } from '../src/core/message.js';

/** `ack 3 4 #5 looking into it` → ids [3,4,5], comment; `ack all [comment]`. */
export function parseAck(words: string[]): { ids: number[] | 'all'; comment: string | null } {
  const ids: number[] = [];
  let i = 0;
  if (words[0]?.toLowerCase() === 'all') i = 1;
  else
    for (; i < words.length; i++) {
      const parts = words[i]!.split(',').filter(Boolean);
      if (!parts.length || !parts.every((p) => /^#?\d+$/.test(p))) break;
      for (const p of parts) ids.push(Number(p.replace('#', '')));
    }
  if (i === 0) throw new UsageError('ack <alert id…|all> [comment…]: give one or more alert ids (e.g. ack 12 13 14) or all');
  if (ids.some((n) => n < 1 || !Number.isSafeInteger(n))) throw new UsageError('alert ids are positive numbers');
  return { ids: i === 1 && words[0]!.toLowerCase() === 'all' ? 'all' : ids, comment: words.slice(i).join(' ') || null };
}

export const commands: Command[] = [
  {
    name: 'alerts',
    usage: 'alerts [all]',
    example: 'alerts all',
    summary: 'open alerts (`all`: the last 50 including resolved)',
    role: 'viewer',
    args: { positional: [{ name: 'scope', enum: ['open', 'all'], default: 'open' }] },
    async run(ctx, args) {
      const rows = await ctx.app.services.monitor.alerts.list(args.scope === 'all');
      if (!rows.length) return args.scope === 'all' ? 'No alerts yet.' : 'No open alerts.';
      return structured([
        tablePart(
          ['#', 'what', 'kind', 'opened', 'state', 'summary'],
          rows.map((r) => [
            String(r.id),
            r.sensor ? `${r.node}/${r.sensor}` : r.node,
            r.kind === 'fraud' ? `fraud ×${r.calls}` : r.kind,
            ago(r.opened_at),
            r.resolved_at ? `resolved ${ago(r.resolved_at)}` : r.acked_by ? `acked by ${r.acked_by}` : 'OPEN',
            r.summary,
          ]),
        ),
      ]);
    },
  },
  {
    name: 'ack',
    usage: 'ack <alert…|all> [comment…]',
    example: 'ack all disk cleaned up',
    summary: 'acknowledge alerts (stops their repeats): one or more ids, or all open ones',
    role: 'operator',
    args: { positional: [{ name: 'words', required: true, rest: true }] },
    async run(ctx, args) {
      const who = ctx.caller.name ?? `${ctx.caller.platform}:${ctx.caller.id}`;
      const { ids, comment } = parseAck((args.words as string[] | undefined) ?? []);
      const r = await ctx.app.services.monitor.alerts.ack(ids, who, comment);
      if (!r.acked.length) throw new UserError(ids === 'all' ? 'no open unacknowledged alerts' : `no open alert ${ids.map((i) => `#${i}`).join(', ')}`);
      const list = r.acked.map((i) => `#${i}`).join(', ');
      return `${r.acked.length === 1 ? `Alert ${list}` : `${r.acked.length} alerts (${list})`} acknowledged by ${who}.${r.missing.length ? ` Not open: ${r.missing.map((i) => `#${i}`).join(', ')}.` : ''}`;
    },
  },
  {
    name: 'silence',
    usage: 'silence <node>[/<sensor>] <duration> [reason…]',
    example: 'silence pbx1/load 2h maintenance window',
    summary: 'mute alerts of a node or one of its sensors for a while',
    role: 'operator',
    args: {
      positional: [
        { name: 'what', required: true, pattern: '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?$' },
        { name: 'duration', required: true },
        { name: 'reason', rest: true },
      ],
    },
    async run(ctx, args) {
      const m = ctx.app.services.monitor;
      const [nodeName, sensorName] = String(args.what).split('/');
      const d = parseDuration(String(args.duration));
      if (!d) throw new UsageError(`duration ${args.duration}: expected e.g. 30m, 2h, 1d`);
      const n = await m.nodes.get(nodeName!);
      const sensorId = sensorName ? (await m.sensors.get(sensorName)).id : null;
      const reason = ((args.reason as string[] | undefined) ?? []).join(' ') || null;
      const until = await m.alerts.silence(n.id, sensorId, d, reason, ctx.caller.name ?? ctx.caller.id);
      return `${args.what} silenced until ${when(until)} UTC.`;
    },
  },
  {
    name: 'silences',
    usage: 'silences',
    example: 'silences',
    summary: 'active silences',
    role: 'viewer',
    async run(ctx) {
      const rows = await ctx.app.services.monitor.alerts.silences();
      if (!rows.length) return 'No active silences.';
      return table(
        ['id', 'what', 'until', 'by', 'reason'],
        rows.map((r) => [String(r.id), r.sensor ? `${r.node}/${r.sensor}` : r.node, when(r.until), r.created_by, r.reason ?? '']),
      );
    },
  },
  {
    name: 'unsilence',
    usage: 'unsilence <id>',
    example: 'unsilence 1',
    summary: 'end a silence now',
    role: 'operator',
    args: { positional: [{ name: 'id', required: true, type: 'integer', minimum: 1 }] },
    async run(ctx, args) {
      await ctx.app.services.monitor.alerts.unsilence(Number(args.id));
      return `Silence #${args.id} ended.`;
    },
  },
];
