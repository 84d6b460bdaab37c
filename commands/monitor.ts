import type { Command, CommandContext } from '../src/core/command.js';
import { UserError, UsageError } from '../src/core/command.js';
import { table, ago, when, parseDuration } from '../src/core/format.js';
import { now } from '../src/store/db.js';
import { STATUS } from '../src/monitor/types.js';
import { parseRange } from '../src/agent/range.js';

const NAME = { name: 'name', required: true, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } as const;
const KINDS = ['disk', 'memory', 'swap', 'load', 'uptime', 'process', 'tcp', 'ping', 'sip-registrations', 'asterisk-channels', 'asterisk-uptime', 'nagios'];

const svc = (ctx: CommandContext) => ctx.app.services.monitor;

function ms(v: unknown, field: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = parseDuration(String(v));
  if (n === null || n <= 0) throw new UsageError(`${field}=${String(v)}: expected a duration like 60s, 5m`);
  return n;
}

function sensorArgs(args: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(args)) {
    if (['flags', 'name', 'kind', 'interval', 'timeout', 'attempts', 'retention', 'sensor', 'node'].includes(k) || v === undefined) continue;
    out[k] = String(v);
  }
  for (const k of ['warn', 'crit', 'lossWarn', 'lossCrit']) {
    if (out[k] === undefined) continue;
    try {
      parseRange(out[k]);
    } catch (e) {
      throw new UsageError(`${k}=${out[k]}: ${(e as Error).message} (Nagios range syntax: 10, 10:, ~:10, 10:20, @10:20)`);
    }
  }
  return out;
}

function checkRetention(r: string): string {
  if (r !== 'last' && !/^history:\d+d$/.test(r)) throw new UsageError(`retention=${r}: expected last or history:<N>d`);
  return r;
}

async function sensor(ctx: CommandContext, name: string) {
  const s = await ctx.app.db.selectFrom('mon_sensors').selectAll().where('name', '=', name).executeTakeFirst();
  if (!s) throw new UserError(`no sensor named ${name} (see monitor sensors)`);
  return s;
}

export const commands: Command[] = [
  {
    name: 'monitor enroll',
    usage: 'monitor enroll <name>',
    summary: 'create a node and send you (by DM) a one-time enrolment code for its agent',
    role: 'operator',
    args: { positional: [NAME] },
    async run(ctx, args) {
      const r = await svc(ctx).createEnrollment(String(args.name));
      await ctx.dm(
        `Enrolment for node ${args.name} (one-time code, valid until ${when(r.expires)} UTC). On the PBX run:\n\`\`\`\nswitchboard agent enroll --server ${ctx.app.baseUrl()} --code ${r.code} --config /etc/switchboard/agent.yaml\n\`\`\``,
        { secret: true },
      );
      return `Node ${args.name} created (id ${r.nodeId}). I sent you the enrolment command by direct message.`;
    },
  },
  {
    name: 'monitor token rotate',
    usage: 'monitor token rotate <node>',
    summary: "revoke a node's token now and DM you a new one-time enrolment code",
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'node' }] },
    confirm: (a) => `revoke the token of node ${a.node} (its agent stops until re-enrolled)`,
    async run(ctx, args) {
      const r = await svc(ctx).createEnrollment(String(args.node), true);
      await ctx.dm(`New enrolment for node ${args.node}:\n\`\`\`\nswitchboard agent enroll --server ${ctx.app.baseUrl()} --code ${r.code}\n\`\`\``, { secret: true });
      return `Token of ${args.node} revoked; a new enrolment code was sent to you by direct message.`;
    },
  },
  ...(['disable', 'enable'] as const).map(
    (verb): Command => ({
      name: `monitor ${verb}`,
      usage: `monitor ${verb} <node>`,
      summary: verb === 'disable' ? 'stop accepting results from a node (no stale alerts)' : 're-enable a node',
      role: 'operator',
      args: { positional: [{ ...NAME, name: 'node' }] },
      async run(ctx, args) {
        const n = await svc(ctx).node(String(args.node));
        await ctx.app.db.updateTable('mon_nodes').set({ enabled: verb === 'enable' ? 1 : 0, stale: 0 }).where('id', '=', n.id).execute();
        if (verb === 'enable') {
          // Its states were forgotten when it was disabled; a node disabled by an older release still has
          // them, and a sensor remembered hard CRITICAL (its alert resolved) would never alert again.
          if (!n.enabled) await svc(ctx).resetSensorStates(n.id);
          return `Node ${n.name} enabled.`;
        }
        // A disabled node sends nothing, so its open alerts could never resolve: close them now.
        const closed = await svc(ctx).closeNodeAlerts(n.id, 'disabled');
        return `Node ${n.name} disabled${closed ? `; ${closed} open alert(s) resolved` : ''}.`;
      },
    }),
  ),
  {
    name: 'monitor rm',
    usage: 'monitor rm <node>',
    summary: 'remove a node with its state, records and alerts',
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'node' }] },
    confirm: (a) => `remove node ${a.node} with all its records and alerts`,
    async run(ctx, args) {
      const n = await svc(ctx).node(String(args.node));
      await svc(ctx).closeNodeAlerts(n.id, 'removed');
      await ctx.app.db.transaction().execute(async (trx) => {
        for (const t of ['mon_node_sensors', 'mon_records', 'mon_seen', 'mon_sensor_state', 'mon_alerts', 'mon_silences', 'mon_cdr_calls'] as const) await trx.deleteFrom(t).where('node_id', '=', n.id).execute();
        await trx.deleteFrom('mon_nodes').where('id', '=', n.id).execute();
      });
      svc(ctx).invalidate();
      return `Node ${n.name} removed.`;
    },
  },
  {
    name: 'monitor sensor add',
    usage: 'monitor sensor add <name> kind=<kind> [interval=60s] [timeout=10s] [attempts=3] [retention=last|history:30d] [command="…"] [warn=…] [crit=…] [key=value…]',
    summary: 'define a sensor (built-in kind or a Nagios plugin command line)',
    role: 'operator',
    args: {
      positional: [NAME],
      named: { kind: { required: true, enum: KINDS }, interval: {}, timeout: {}, attempts: { type: 'integer', minimum: 1, maximum: 20 }, retention: {}, command: {} },
      allowUnknownNamed: true,
    },
    details: `Kinds: ${KINDS.join(', ')}. Thresholds warn= crit= use the Nagios range syntax (10, 10:, ~:10, 10:20, @10:20).`,
    async run(ctx, args) {
      if (args.kind === 'nagios' && !args.command) throw new UsageError('kind=nagios needs command="/usr/lib/nagios/plugins/check_… args"');
      const a = sensorArgs(args);
      const interval = ms(args.interval, 'interval', 60_000);
      const timeout = ms(args.timeout, 'timeout', 10_000);
      if (await ctx.app.db.selectFrom('mon_sensors').select('id').where('name', '=', String(args.name)).executeTakeFirst()) throw new UserError(`sensor ${args.name} exists (monitor sensor edit)`);
      await ctx.app.db.insertInto('mon_sensors').values({ name: String(args.name), kind: String(args.kind), args: JSON.stringify(a), interval_ms: interval, timeout_ms: timeout, attempts: Number(args.attempts ?? 3), retention: checkRetention(String(args.retention ?? 'last')), created_at: now() }).execute();
      return `Sensor ${args.name} (${args.kind}) added; assign it with monitor assign ${args.name} <node|all>.`;
    },
  },
  {
    name: 'monitor sensor edit',
    usage: 'monitor sensor edit <name> [interval=…] [timeout=…] [attempts=…] [retention=…] [key=value…]',
    summary: "change a sensor's settings or arguments",
    role: 'operator',
    args: { positional: [NAME], named: { interval: {}, timeout: {}, attempts: { type: 'integer', minimum: 1, maximum: 20 }, retention: {}, command: {} }, allowUnknownNamed: true },
    async run(ctx, args) {
      const s = await sensor(ctx, String(args.name));
      const a = { ...JSON.parse(s.args), ...sensorArgs(args) };
      await ctx.app.db
        .updateTable('mon_sensors')
        .set({ args: JSON.stringify(a), interval_ms: ms(args.interval, 'interval', s.interval_ms), timeout_ms: ms(args.timeout, 'timeout', s.timeout_ms), attempts: Number(args.attempts ?? s.attempts), retention: checkRetention(String(args.retention ?? s.retention)) })
        .where('id', '=', s.id)
        .execute();
      svc(ctx).invalidate();
      return `Sensor ${s.name} updated; agents pick it up at their next config poll.`;
    },
  },
  {
    name: 'monitor sensor show',
    usage: 'monitor sensor show <name>',
    summary: "a sensor's definition and the nodes it runs on",
    role: 'viewer',
    args: { positional: [NAME] },
    async run(ctx, args) {
      const s = await sensor(ctx, String(args.name));
      const nodes = await ctx.app.db.selectFrom('mon_node_sensors as ns').innerJoin('mon_nodes as n', 'n.id', 'ns.node_id').select(['n.name', 'ns.overrides']).where('ns.sensor_id', '=', s.id).execute();
      return [`${s.name}: kind ${s.kind}, every ${s.interval_ms / 1000}s, timeout ${s.timeout_ms / 1000}s, attempts ${s.attempts}, retention ${s.retention}`, `args: ${s.args}`, `nodes: ${nodes.map((n) => n.name + (n.overrides ? ` ${n.overrides}` : '')).join(', ') || '(none)'}`].join('\n');
    },
  },
  {
    name: 'monitor sensor rm',
    usage: 'monitor sensor rm <name>',
    summary: 'remove a sensor everywhere',
    role: 'operator',
    args: { positional: [NAME] },
    confirm: (a) => `remove sensor ${a.name} from every node with its records`,
    async run(ctx, args) {
      const s = await sensor(ctx, String(args.name));
      await ctx.app.db.transaction().execute(async (trx) => {
        for (const t of ['mon_node_sensors', 'mon_records', 'mon_sensor_state'] as const) await trx.deleteFrom(t).where('sensor_id', '=', s.id).execute();
        await trx.deleteFrom('mon_sensors').where('id', '=', s.id).execute();
      });
      svc(ctx).invalidate();
      return `Sensor ${s.name} removed.`;
    },
  },
  {
    name: 'monitor sensors',
    usage: 'monitor sensors',
    summary: 'list sensors',
    role: 'viewer',
    async run(ctx) {
      const rows = await ctx.app.db.selectFrom('mon_sensors').selectAll().orderBy('name').execute();
      if (!rows.length) return 'No sensors yet (monitor sensor add).';
      return table(['name', 'kind', 'every', 'attempts', 'retention', 'args'], rows.map((s) => [s.name, s.kind, `${s.interval_ms / 1000}s`, String(s.attempts), s.retention, s.args]));
    },
  },
  {
    name: 'monitor assign',
    usage: 'monitor assign <sensor> <node|all> [key=value… per-node overrides]',
    summary: 'run a sensor on a node (or all nodes)',
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'sensor' }, { ...NAME, name: 'node' }], allowUnknownNamed: true },
    async run(ctx, args) {
      const s = await sensor(ctx, String(args.sensor));
      const nodes = args.node === 'all' ? await ctx.app.db.selectFrom('mon_nodes').select(['id', 'name']).execute() : [await svc(ctx).node(String(args.node))];
      const ov = sensorArgs(args);
      for (const n of nodes) {
        await ctx.app.db.deleteFrom('mon_node_sensors').where('node_id', '=', n.id).where('sensor_id', '=', s.id).execute();
        await ctx.app.db.insertInto('mon_node_sensors').values({ node_id: n.id, sensor_id: s.id, overrides: Object.keys(ov).length ? JSON.stringify(ov) : null }).execute();
      }
      svc(ctx).invalidate();
      return `Sensor ${s.name} assigned to ${nodes.map((n) => n.name).join(', ') || '(no nodes)'}.`;
    },
  },
  {
    name: 'monitor unassign',
    usage: 'monitor unassign <sensor> <node|all>',
    summary: 'stop running a sensor on a node',
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'sensor' }, { ...NAME, name: 'node' }] },
    async run(ctx, args) {
      const s = await sensor(ctx, String(args.sensor));
      let q = ctx.app.db.deleteFrom('mon_node_sensors').where('sensor_id', '=', s.id);
      if (args.node !== 'all') q = q.where('node_id', '=', (await svc(ctx).node(String(args.node))).id);
      const r = await q.executeTakeFirst();
      svc(ctx).invalidate();
      return `Sensor ${s.name} unassigned from ${Number(r.numDeletedRows)} node(s).`;
    },
  },
  {
    name: 'monitor nodes',
    usage: 'monitor nodes',
    summary: 'one line per node: state, last seen',
    role: 'viewer',
    async run(ctx) {
      const nodes = await ctx.app.db.selectFrom('mon_nodes').selectAll().orderBy('name').execute();
      if (!nodes.length) return 'No nodes yet (monitor enroll <name>).';
      const states = await ctx.app.db.selectFrom('mon_sensor_state').select(['node_id', 'hard_status']).execute();
      return table(
        ['node', 'state', 'sensors', 'last seen', 'agent', 'asterisk'],
        nodes.map((n) => {
          const mine = states.filter((s) => s.node_id === n.id);
          const worst = Math.max(0, ...mine.map((s) => (s.hard_status === 3 ? 1.5 : s.hard_status)));
          const f = n.facts ? (JSON.parse(n.facts) as Record<string, string>) : {};
          const state = !n.enabled ? 'disabled' : !n.token_hash ? 'not enrolled' : n.stale ? 'STALE' : worst === 0 ? 'OK' : worst === 1.5 ? 'UNKNOWN' : STATUS[worst]!;
          return [n.name, state, String(mine.length), ago(n.last_seen), f.agentVersion ?? '', f.asterisk ?? ''];
        }),
      );
    },
  },
  {
    name: 'monitor node',
    usage: 'monitor node <name>',
    summary: "a node's sensors: state, output, age",
    role: 'viewer',
    args: { positional: [NAME] },
    async run(ctx, args) {
      const n = await svc(ctx).node(String(args.name));
      const rows = await ctx.app.db
        .selectFrom('mon_node_sensors as ns')
        .innerJoin('mon_sensors as s', 's.id', 'ns.sensor_id')
        .leftJoin('mon_sensor_state as st', (j) => j.onRef('st.node_id', '=', 'ns.node_id').onRef('st.sensor_id', '=', 'ns.sensor_id'))
        .select(['s.name', 's.kind', 'st.status', 'st.hard_status', 'st.attempt', 's.attempts', 'st.output', 'st.at', 'st.flapping'])
        .where('ns.node_id', '=', n.id)
        .orderBy('s.name')
        .execute();
      const f = n.facts ? (JSON.parse(n.facts) as Record<string, string>) : {};
      const head = `${n.name}: ${n.enabled ? (n.stale ? 'STALE' : 'enabled') : 'disabled'}, last seen ${ago(n.last_seen)}${f.hostname ? `, host ${f.hostname} (${f.os ?? ''}${f.asterisk ? `, Asterisk ${f.asterisk}` : ''}), agent ${f.agentVersion ?? '?'}` : ''}`;
      if (!rows.length) return `${head}\nNo sensors assigned.`;
      return `${head}\n${table(
        ['sensor', 'state', 'output', 'age'],
        rows.map((r) => [r.name, r.status === null || r.status === undefined ? 'PENDING' : `${STATUS[r.status]}${r.status !== 0 && r.hard_status !== r.status ? ` (soft ${r.attempt}/${r.attempts})` : ''}${r.flapping ? ' FLAPPING' : ''}`, r.output ?? '', ago(r.at ?? null)]),
        { maxWidth: 80 },
      )}`;
    },
  },
  {
    name: 'monitor records',
    usage: 'monitor records <node> <sensor> [since=24h]',
    summary: "a sensor's recent results (table, and a PNG chart of numeric perfdata)",
    role: 'viewer',
    args: { positional: [{ ...NAME, name: 'node' }, { ...NAME, name: 'sensor' }], named: { since: { default: '24h' } } },
    async run(ctx, args) {
      const n = await svc(ctx).node(String(args.node));
      const s = await sensor(ctx, String(args.sensor));
      const since = ms(args.since, 'since', 86_400_000);
      if (!s.retention.startsWith('history')) {
        const st = await ctx.app.db.selectFrom('mon_sensor_state').selectAll().where('node_id', '=', n.id).where('sensor_id', '=', s.id).executeTakeFirst();
        return `Sensor ${s.name} keeps only its last state (retention=last)${st ? `: ${STATUS[st.status]} ${st.output} (${ago(st.at)})` : ''}. Use monitor sensor edit ${s.name} retention=history:30d to keep records.`;
      }
      const rows = await ctx.app.db.selectFrom('mon_records').selectAll().where('node_id', '=', n.id).where('sensor_id', '=', s.id).where('at', '>=', now() - since).orderBy('at').orderBy('id').execute();
      if (!rows.length) return `No records for ${n.name}/${s.name} in the last ${args.since}.`;
      const series = new Map<string, [number, number][]>();
      for (const r of rows) for (const p of (r.perfdata ? JSON.parse(r.perfdata) : []) as { label: string; value: number; uom?: string }[]) (series.get(p.label) ?? series.set(p.label, []).get(p.label)!).push([r.at, p.value]);
      const shown = rows.slice(-30);
      const text = `${rows.length} record(s) for ${n.name}/${s.name} since ${args.since}${rows.length > shown.length ? ` (last ${shown.length} shown)` : ''}:\n${table(['at', 'state', 'output'], shown.map((r) => [when(r.at) + new Date(r.at).toISOString().slice(16, 19), STATUS[r.status]!, r.output]), { maxWidth: 80 })}`;
      if (!series.size) return text;
      const { renderChart } = await import('../src/monitor/chart.js'); // canvas loads on the first chart
      const png = renderChart(`${n.name} / ${s.name}`, [...series.entries()].slice(0, 5).map(([label, points]) => ({ label, points })));
      return { text, files: [{ name: `${n.name}-${s.name}.png`, data: png, mime: 'image/png' }] };
    },
  },
  {
    name: 'monitor fraud rules',
    usage: 'monitor fraud rules',
    summary: 'toll-fraud prefix rules',
    role: 'viewer',
    async run(ctx) {
      const rows = await ctx.app.db.selectFrom('mon_fraud_rules').selectAll().orderBy('prefix').execute();
      const c = ctx.app.config.monitor.fraud;
      const foot = `Burst limit ${c.burstPerHour}/hour per node; business hours ${c.businessHours.start}-${c.businessHours.end} on days ${c.businessHours.days.join(',')}.`;
      if (!rows.length) return `No fraud rules yet (monitor fraud add <prefix> premium|international [note]).\n${foot}`;
      return `${table(['id', 'prefix', 'kind', 'note'], rows.map((r) => [String(r.id), r.prefix, r.kind, r.note ?? '']))}\n${foot}`;
    },
  },
  {
    name: 'monitor fraud add',
    usage: 'monitor fraud add <prefix> <premium|international> [note…]',
    summary: 'alert immediately on calls to numbers starting with a prefix',
    role: 'operator',
    args: { positional: [{ name: 'prefix', required: true, pattern: '^\\+?[0-9*#]{1,31}$' }, { name: 'kind', required: true, enum: ['premium', 'international'] }, { name: 'note', rest: true }] },
    async run(ctx, args) {
      const prefix = String(args.prefix).replace(/^\+/, '00');
      const note = ((args.note as string[] | undefined) ?? []).join(' ') || null;
      await ctx.app.db.insertInto('mon_fraud_rules').values({ prefix, kind: String(args.kind), note, created_at: now() }).execute();
      return `Fraud rule added: ${args.kind} prefix ${prefix}.`;
    },
  },
  {
    name: 'monitor fraud rm',
    usage: 'monitor fraud rm <id>',
    summary: 'remove a fraud rule',
    role: 'operator',
    args: { positional: [{ name: 'id', required: true, type: 'integer', minimum: 1 }] },
    async run(ctx, args) {
      const r = await ctx.app.db.deleteFrom('mon_fraud_rules').where('id', '=', Number(args.id)).executeTakeFirst();
      if (!Number(r.numDeletedRows)) throw new UserError(`no fraud rule #${args.id}`);
      return `Fraud rule #${args.id} removed.`;
    },
  },
];
