import type { Command } from '../src/core/command.js';
import { UserError, UsageError } from '../src/core/command.js';
import { table, ago, when, parseDuration } from '../src/core/format.js';
import { now } from '../src/store/db.js';

export const commands: Command[] = [
  {
    name: 'alerts',
    usage: 'alerts [all]',
    summary: 'open alerts (`all`: the last 50 including resolved)',
    role: 'viewer',
    args: { positional: [{ name: 'scope', enum: ['open', 'all'], default: 'open' }] },
    async run(ctx, args) {
      let q = ctx.app.db.selectFrom('mon_alerts as a').innerJoin('mon_nodes as n', 'n.id', 'a.node_id').leftJoin('mon_sensors as s', 's.id', 'a.sensor_id').select(['a.id', 'a.kind', 'a.summary', 'a.opened_at', 'a.resolved_at', 'a.acked_by', 'n.name as node', 's.name as sensor']).orderBy('a.id', 'desc').limit(50);
      if (args.scope !== 'all') q = q.where('a.resolved_at', 'is', null);
      const rows = await q.execute();
      if (!rows.length) return args.scope === 'all' ? 'No alerts yet.' : 'No open alerts.';
      return table(['#', 'what', 'kind', 'opened', 'state', 'summary'], rows.map((r) => [String(r.id), r.sensor ? `${r.node}/${r.sensor}` : r.node, r.kind, ago(r.opened_at), r.resolved_at ? `resolved ${ago(r.resolved_at)}` : r.acked_by ? `acked by ${r.acked_by}` : 'OPEN', r.summary]), { maxWidth: 70 });
    },
  },
  {
    name: 'ack',
    usage: 'ack <alert> [comment…]',
    summary: 'acknowledge an alert (stops its repeats)',
    role: 'operator',
    args: { positional: [{ name: 'alert', required: true, type: 'integer', minimum: 1 }, { name: 'comment', rest: true }] },
    async run(ctx, args) {
      const who = ctx.caller.name ?? `${ctx.caller.platform}:${ctx.caller.id}`;
      const comment = ((args.comment as string[] | undefined) ?? []).join(' ') || null;
      const r = await ctx.app.db.updateTable('mon_alerts').set({ acked_by: who, ack_comment: comment }).where('id', '=', Number(args.alert)).where('resolved_at', 'is', null).executeTakeFirst();
      if (!Number(r.numUpdatedRows)) throw new UserError(`no open alert #${args.alert}`);
      return `Alert #${args.alert} acknowledged by ${who}.`;
    },
  },
  {
    name: 'silence',
    usage: 'silence <node>[/<sensor>] <duration> [reason…]',
    summary: 'mute alerts of a node or one of its sensors for a while',
    role: 'operator',
    args: { positional: [{ name: 'what', required: true, pattern: '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?$' }, { name: 'duration', required: true }, { name: 'reason', rest: true }] },
    async run(ctx, args) {
      const [nodeName, sensorName] = String(args.what).split('/');
      const d = parseDuration(String(args.duration));
      if (!d) throw new UsageError(`duration ${args.duration}: expected e.g. 30m, 2h, 1d`);
      const n = await ctx.app.services.monitor.node(nodeName!);
      let sensorId: number | null = null;
      if (sensorName) {
        const s = await ctx.app.db.selectFrom('mon_sensors').select('id').where('name', '=', sensorName).executeTakeFirst();
        if (!s) throw new UserError(`no sensor named ${sensorName}`);
        sensorId = s.id;
      }
      const reason = ((args.reason as string[] | undefined) ?? []).join(' ') || null;
      await ctx.app.db.insertInto('mon_silences').values({ node_id: n.id, sensor_id: sensorId, until: now() + d, reason, created_by: ctx.caller.name ?? ctx.caller.id, created_at: now() }).execute();
      return `${args.what} silenced until ${when(now() + d)} UTC.`;
    },
  },
  {
    name: 'silences',
    usage: 'silences',
    summary: 'active silences',
    role: 'viewer',
    async run(ctx) {
      const rows = await ctx.app.db.selectFrom('mon_silences as x').innerJoin('mon_nodes as n', 'n.id', 'x.node_id').leftJoin('mon_sensors as s', 's.id', 'x.sensor_id').select(['x.id', 'n.name as node', 's.name as sensor', 'x.until', 'x.reason', 'x.created_by']).where('x.until', '>', now()).orderBy('x.id').execute();
      if (!rows.length) return 'No active silences.';
      return table(['id', 'what', 'until', 'by', 'reason'], rows.map((r) => [String(r.id), r.sensor ? `${r.node}/${r.sensor}` : r.node, when(r.until), r.created_by, r.reason ?? '']));
    },
  },
  {
    name: 'unsilence',
    usage: 'unsilence <id>',
    summary: 'end a silence now',
    role: 'operator',
    args: { positional: [{ name: 'id', required: true, type: 'integer', minimum: 1 }] },
    async run(ctx, args) {
      const r = await ctx.app.db.updateTable('mon_silences').set({ until: now() }).where('id', '=', Number(args.id)).where('until', '>', now()).executeTakeFirst();
      if (!Number(r.numUpdatedRows)) throw new UserError(`no active silence #${args.id}`);
      return `Silence #${args.id} ended.`;
    },
  },
];
