import type { Command, CommandContext } from '../src/app-types.js';
import { loopbackWarning } from '../src/http/base-url.js';
import { UserError, UsageError } from '../src/core/command.js';
import { table, ago, when, parseDuration } from '../src/core/format.js';
import { DateTime } from 'luxon';
import { parseRange, STATUS, span, type Perf } from '../src/monitor/types.js';
import { parseHours } from '../src/monitor/fraud-rules.js';
import type { SensorCatalogue } from '../src/wire/sensor-kinds.js';
import type { SensorArg } from '../src/wire/sensor-kind.js';
import { parseApplyTargets } from '../src/dhcp/apply-agents.js';
import { structured, tablePart } from '../src/core/message.js';

const NAME = { name: 'name', required: true, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } as const;

const svc = (ctx: CommandContext) => ctx.app.services.monitor;

function ms(v: unknown, field: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = parseDuration(String(v));
  if (n === null || n <= 0) throw new UsageError(`${field}=${String(v)}: expected a duration like 60s, 5m`);
  return n;
}

/** The key=value arguments of a sensor (everything but the command's own settings), as text. */
function sensorArgs(args: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(args)) {
    if (['flags', 'name', 'kind', 'interval', 'timeout', 'attempts', 'retention', 'sensor', 'node'].includes(k) || v === undefined) continue;
    out[k] = String(v);
  }
  return out;
}

/**
 * A kind's arguments, checked against its definition in src/agent/sensors/ (through the catalogue): every
 * problem named, as a usage error. `partial`: a change to a sensor that has its required arguments already.
 */
function checkedArgs(kinds: SensorCatalogue, kind: string, args: Record<string, unknown>, partial = false): Record<string, string> {
  const a = sensorArgs(args);
  const problems = kinds.argProblems(kind, a, { partial });
  if (!problems.length) return a;
  const hint = kinds.info(kind) ? `monitor sensor kinds ${kind} lists its arguments` : 'monitor sensor kinds lists the kinds';
  throw new UsageError(`${problems.join('\n')}\n(${hint})`);
}

/** Sensor arguments that make the agent run a program on the PBX: a plugin kind, or an override of the program. */
function runsCommand(kinds: SensorCatalogue, kind: string, args: Record<string, string>): boolean {
  const k = kinds.info(kind);
  return k?.runs === 'plugin' || Object.keys(args).some((a) => k?.args[a]?.agentOverride);
}
const MAY_REFUSE = 'The agent on each PBX may refuse it: it runs only what its own config allows (a refused sensor reports UNKNOWN with the reason).';

/** One argument of a kind for `monitor sensor kinds <kind>`: `key=…  summary (required; type; values; default)`. */
function describeArg(name: string, a: SensorArg): string {
  const type = a.type === 'range' ? 'Nagios range' : a.type === 'integer' ? `whole number${a.minimum !== undefined ? ` ${a.minimum}..${a.maximum ?? ''}` : ''}` : '';
  const override = a.agentOverride ? "replaced by the agent's own unless its config allows commands" : '';
  const notes = [a.required ? 'required' : '', type, a.enum ? a.enum.join('|') : '', a.default !== undefined ? `default ${a.default}` : '', override].filter(Boolean);
  return `${name}=…  ${a.summary}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

function checkRetention(r: string): string {
  if (r !== 'last' && !/^history:\d+d$/.test(r)) throw new UsageError(`retention=${r}: expected last or history:<N>d`);
  return r;
}


export const commands: Command[] = [
  {
    name: 'monitor enroll',
    usage: 'monitor enroll <name> [role=monitor|apply] [targets=isc,kea,keaControl,dnsmasq,proxy]',
    example: 'monitor enroll pbx2',
    summary: 'create a node (a PBX agent, or with role=apply an agent that applies DHCP/proxy files on its server) and DM you its one-time enrolment code',
    details: 'role=apply targets=isc,proxy: `dhcp apply` hands those backends to this node\'s agent, which checks, installs and reloads them with the paths and commands of its own agent.yaml (apply.backends) and reports back; the result is posted where the apply was asked. Other backends stay applied by the bot itself.',
    role: 'operator',
    args: { positional: [NAME], named: { role: { enum: ['monitor', 'apply'] }, targets: {} } },
    async run(ctx, args) {
      const role = (args.role as 'monitor' | 'apply' | undefined) ?? 'monitor';
      let applyTargets: string | null = null;
      if (role === 'apply') {
        if (args.targets === undefined) throw new UsageError('role=apply needs targets=<backends>, e.g. targets=isc,proxy');
        try {
          applyTargets = parseApplyTargets(String(args.targets), ctx.app.services.dhcpBackends).join(',');
        } catch (e) {
          throw new UserError((e as Error).message);
        }
        const taken = (await ctx.app.services.dhcpAgents.nodes()).flatMap((n) => n.backends.filter((b) => applyTargets!.split(',').includes(b)).map((b) => `${b} (node ${n.name})`));
        if (taken.length) throw new UserError(`already applied by another node: ${taken.join(', ')}; remove that node first (monitor rm) or choose other targets`);
      } else if (args.targets !== undefined) throw new UsageError('targets= is for role=apply');
      const r = await svc(ctx).createEnrollment(String(args.name), false, { role, applyTargets });
      const extra = role === 'apply' ? `\nThen add to /etc/switchboard/agent.yaml what this server applies, with its own paths and reload commands, e.g.:\n\`\`\`\ncdrSource: off\napply:\n  backends:\n${applyTargets!.split(',').map((b) => `    ${b}: {reload: [systemctl, reload, <service>]}`).join('\n')}\n\`\`\`` : '';
      await ctx.dm(
        `Enrolment for node ${args.name} (one-time code, valid until ${when(r.expires)} UTC). On the ${role === 'apply' ? 'DHCP/proxy server' : 'PBX'} run:\n\`\`\`\nswitchboard agent enroll --server ${ctx.app.baseUrl()} --code ${r.code} --config /etc/switchboard/agent.yaml\n\`\`\`${extra}`,
        { secret: true },
      );
      const warn = loopbackWarning(ctx.app.baseUrl(), 'The server URL in that command');
      return `Node ${args.name} created (id ${r.nodeId}${role === 'apply' ? `, role apply: ${applyTargets}` : ''}). I sent you the enrolment command by direct message.${warn ? `\n${warn}` : ''}`;
    },
  },
  {
    name: 'monitor token rotate',
    usage: 'monitor token rotate <node>',
    example: 'monitor token rotate pbx1',
    summary: "revoke a node's token now and DM you a new one-time enrolment code",
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'node' }] },
    confirm: (a) => `revoke the token of node ${a.node} (its agent stops until re-enrolled)`,
    async run(ctx, args) {
      const r = await svc(ctx).createEnrollment(String(args.node), true);
      await ctx.dm(`New enrolment for node ${args.node}:\n\`\`\`\nswitchboard agent enroll --server ${ctx.app.baseUrl()} --code ${r.code}\n\`\`\``, { secret: true });
      const warn = loopbackWarning(ctx.app.baseUrl(), 'The server URL in that command');
      return `Token of ${args.node} revoked; a new enrolment code was sent to you by direct message.${warn ? `\n${warn}` : ''}`;
    },
  },
  ...(['disable', 'enable'] as const).map(
    (verb): Command => ({
      name: `monitor ${verb}`,
      usage: `monitor ${verb} <node>`,
      example: `monitor ${verb} pbx1`,
      summary: verb === 'disable' ? 'stop accepting results from a node (no stale alerts)' : 're-enable a node',
      role: 'operator',
      args: { positional: [{ ...NAME, name: 'node' }] },
      async run(ctx, args) {
        const r = await svc(ctx).nodes.setEnabled(String(args.node), verb === 'enable');
        if (verb === 'enable') return `Node ${r.name} enabled.`;
        return `Node ${r.name} disabled${r.closed ? `; ${r.closed} open alert(s) resolved` : ''}.`;
      },
    }),
  ),
  {
    name: 'monitor rm',
    usage: 'monitor rm <node>',
    example: 'monitor rm pbx1',
    summary: 'remove a node with its state, records and alerts',
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'node' }] },
    confirm: (a) => `remove node ${a.node} with all its records and alerts`,
    async run(ctx, args) {
      return `Node ${await svc(ctx).nodes.remove(String(args.node))} removed.`;
    },
  },
  {
    name: 'monitor sensor add',
    usage: 'monitor sensor add <name> kind=<kind> [interval=60s] [timeout=10s] [attempts=3] [retention=last|history:30d] [command="…"] [warn=…] [crit=…] [key=value…]',
    example: 'monitor sensor add root-disk kind=disk path=/ warn=80 crit=90 retention=history:30d',
    summary: 'define a sensor (built-in kind or a Nagios plugin command line)',
    role: 'operator',
    args: {
      positional: [NAME],
      named: { kind: { required: true }, interval: {}, timeout: {}, attempts: { type: 'integer', minimum: 1, maximum: 20 }, retention: {}, command: {} },
      allowUnknownNamed: true,
    },
    details: 'Kinds and the arguments each takes: monitor sensor kinds. Thresholds warn= crit= use the Nagios range syntax (10, 10:, ~:10, 10:20, @10:20).',
    async run(ctx, args) {
      const kinds = svc(ctx).kinds;
      const kind = String(args.kind);
      const a = checkedArgs(kinds, kind, args);
      await svc(ctx).sensors.add({ name: String(args.name), kind, args: a, intervalMs: ms(args.interval, 'interval', 60_000), timeoutMs: ms(args.timeout, 'timeout', 10_000), attempts: Number(args.attempts ?? 3), retention: checkRetention(String(args.retention ?? 'last')) });
      return `Sensor ${args.name} (${kind}) added; assign it with monitor assign ${args.name} <node|all>.${runsCommand(kinds, kind, a) ? ` ${MAY_REFUSE}` : ''}`;
    },
  },
  {
    name: 'monitor sensor edit',
    usage: 'monitor sensor edit <name> [interval=…] [timeout=…] [attempts=…] [retention=…] [key=value…]',
    example: 'monitor sensor edit load interval=5m',
    summary: "change a sensor's settings or arguments",
    role: 'operator',
    args: { positional: [NAME], named: { interval: {}, timeout: {}, attempts: { type: 'integer', minimum: 1, maximum: 20 }, retention: {}, command: {} }, allowUnknownNamed: true },
    async run(ctx, args) {
      await svc(ctx).sensors.edit(String(args.name), (s) => ({ ...s, args: { ...s.args, ...checkedArgs(svc(ctx).kinds, s.kind, args, true) }, intervalMs: ms(args.interval, 'interval', s.intervalMs), timeoutMs: ms(args.timeout, 'timeout', s.timeoutMs), attempts: Number(args.attempts ?? s.attempts), retention: checkRetention(String(args.retention ?? s.retention)) }));
      return `Sensor ${args.name} updated; agents pick it up at their next config poll.`;
    },
  },
  {
    name: 'monitor sensor kinds',
    usage: 'monitor sensor kinds [kind]',
    example: 'monitor sensor kinds ping',
    summary: 'the sensor kinds, or the arguments one kind takes',
    role: 'viewer',
    args: { positional: [{ name: 'kind' }] },
    async run(ctx, args) {
      const kinds = svc(ctx).kinds;
      if (args.kind !== undefined) {
        const k = kinds.info(String(args.kind));
        if (!k) throw new UserError(`no sensor kind ${args.kind} (kinds: ${kinds.names().join(', ')})`);
        const list = Object.entries(k.args).map(([n, a]) => `  ${describeArg(n, a)}`);
        return `${k.name}: ${k.summary}${k.runs === 'plugin' ? ' — runs the command line given, if the agent allows that plugin' : ''}\n${list.length ? `Arguments:\n${list.join('\n')}` : 'No arguments.'}`;
      }
      const rows = kinds.names().map((n) => kinds.info(n)!).map((k) => [k.name, k.summary, Object.entries(k.args).map(([n, a]) => (a.required ? `${n}=… (required)` : n)).join(', ')]);
      return structured([`${rows.length} sensor kinds (monitor sensor kinds <kind> for one kind's arguments):`, tablePart(['kind', 'checks', 'arguments'], rows, { align: ['left', 'left', 'left'] })]);
    },
  },
  {
    name: 'monitor sensor show',
    usage: 'monitor sensor show <name>',
    example: 'monitor sensor show load',
    summary: "a sensor's definition and the nodes it runs on",
    role: 'viewer',
    args: { positional: [NAME] },
    async run(ctx, args) {
      const { sensor: s, nodes } = await svc(ctx).sensors.show(String(args.name));
      return [`${s.name}: kind ${s.kind}, every ${s.interval_ms / 1000}s, timeout ${s.timeout_ms / 1000}s, attempts ${s.attempts}, retention ${s.retention}`, `args: ${s.args}`, `nodes: ${nodes.map((n) => n.name + (n.overrides ? ` ${n.overrides}` : '')).join(', ') || '(none)'}`].join('\n');
    },
  },
  {
    name: 'monitor sensor rm',
    usage: 'monitor sensor rm <name>',
    example: 'monitor sensor rm load',
    summary: 'remove a sensor everywhere',
    role: 'operator',
    args: { positional: [NAME] },
    confirm: (a) => `remove sensor ${a.name} from every node with its records`,
    async run(ctx, args) {
      await svc(ctx).removeSensor(String(args.name));
      return `Sensor ${args.name} removed.`;
    },
  },
  {
    name: 'monitor sensors',
    usage: 'monitor sensors',
    example: 'monitor sensors',
    summary: 'list sensors',
    role: 'viewer',
    async run(ctx) {
      const rows = await svc(ctx).sensors.list();
      if (!rows.length) return 'No sensors yet (monitor sensor add).';
      return table(['name', 'kind', 'every', 'attempts', 'retention', 'args'], rows.map((s) => [s.name, s.kind, `${s.interval_ms / 1000}s`, String(s.attempts), s.retention, s.args]));
    },
  },
  {
    name: 'monitor assign',
    usage: 'monitor assign <sensor> <node|all> [key=value… per-node overrides]',
    example: 'monitor assign load all',
    summary: 'run a sensor on a node (or all nodes)',
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'sensor' }, { ...NAME, name: 'node' }], allowUnknownNamed: true },
    async run(ctx, args) {
      const m = svc(ctx);
      const s = await m.sensors.get(String(args.sensor));
      const overrides = checkedArgs(m.kinds, s.kind, args, true);
      const nodes = args.node === 'all' ? await m.nodes.all() : [await m.nodes.get(String(args.node))];
      await m.sensors.assign(String(args.sensor), nodes, overrides);
      return `Sensor ${args.sensor} assigned to ${nodes.map((n) => n.name).join(', ') || '(no nodes)'}.${runsCommand(m.kinds, s.kind, overrides) ? ` ${MAY_REFUSE}` : ''}`;
    },
  },
  {
    name: 'monitor unassign',
    usage: 'monitor unassign <sensor> <node|all>',
    example: 'monitor unassign load pbx1',
    summary: 'stop running a sensor on a node',
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'sensor' }, { ...NAME, name: 'node' }] },
    async run(ctx, args) {
      const m = svc(ctx);
      await m.sensors.get(String(args.sensor));
      const n = await m.sensors.unassign(String(args.sensor), args.node === 'all' ? undefined : (await m.nodes.get(String(args.node))).id);
      return `Sensor ${args.sensor} unassigned from ${n} node(s).`;
    },
  },
  {
    name: 'monitor nodes',
    usage: 'monitor nodes',
    example: 'monitor nodes',
    summary: 'one line per node: state, last seen',
    role: 'viewer',
    async run(ctx) {
      const nodes = await svc(ctx).nodes.overview();
      if (!nodes.length) return 'No nodes yet (monitor enroll <name>).';
      return structured([
        tablePart(
          ['node', 'state', 'sensors', 'last seen', 'agent', 'asterisk'],
          nodes.map((n) => [n.node.role === 'apply' ? `${n.node.name} (apply: ${n.node.apply_targets ?? ''})` : n.node.name, n.state, String(n.sensors), ago(n.node.last_seen), String(n.facts.agentVersion ?? ''), String(n.facts.asterisk ?? '')]),
          { align: ['left', 'left', 'right', 'left', 'left', 'left'] },
        ),
      ]);
    },
  },
  {
    name: 'monitor node',
    usage: 'monitor node <name>',
    example: 'monitor node pbx1',
    summary: "a node's sensors: state, output, age",
    role: 'viewer',
    args: { positional: [NAME] },
    async run(ctx, args) {
      const { node: n, facts: f, sensors: rows } = await svc(ctx).nodes.detail(String(args.name));
      const clock = n.clock_bad ? `, CLOCK OFF by ${span(n.clock_skew ?? 0)} (${(n.clock_skew ?? 0) > 0 ? 'ahead' : 'behind'})` : '';
      const head = `${n.name}: ${n.enabled ? (n.stale ? 'STALE' : 'enabled') : 'disabled'}, last seen ${ago(n.last_seen)}${clock}${f.hostname ? `, host ${f.hostname} (${f.os ?? ''}${f.asterisk ? `, Asterisk ${f.asterisk}` : ''}), agent ${f.agentVersion ?? '?'}` : ''}`;
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
    example: 'monitor records pbx1 load since=6h',
    summary: "a sensor's recent results (table, and a PNG chart of numeric perfdata with its thresholds)",
    role: 'viewer',
    args: { positional: [{ ...NAME, name: 'node' }, { ...NAME, name: 'sensor' }], named: { since: { default: '24h' } } },
    async run(ctx, args) {
      const m = svc(ctx);
      const n = await m.nodes.get(String(args.node));
      const s = await m.sensors.get(String(args.sensor));
      const since = ms(args.since, 'since', 86_400_000);
      const st = await m.results.state(n.id, s.id);
      if (!s.retention.startsWith('history')) {
        return `Sensor ${s.name} keeps only its last state (retention=last)${st ? `: ${STATUS[st.status]} ${st.output} (${ago(st.at)})` : ''}. Use monitor sensor edit ${s.name} retention=history:30d to keep records.`;
      }
      const rows = await m.results.records(n.id, s.id, Date.now() - since);
      if (!rows.length) return `No records for ${n.name}/${s.name} in the last ${args.since}.`;
      const zone = m.zone;
      const series = new Map<string, { label: string; uom?: string; warn?: string; crit?: string; points: { at: number; value: number; status: number }[] }>();
      for (const r of rows) {
        for (const p of (r.perfdata ? JSON.parse(r.perfdata) : []) as Perf[]) {
          const e = series.get(p.label) ?? series.set(p.label, { label: p.label, points: [] }).get(p.label)!;
          e.points.push({ at: r.at, value: p.value, status: r.status });
          if (p.uom) e.uom = p.uom;
          // The latest thresholds the check reported (else the sensor's own warn/crit).
          e.warn = p.warn ?? e.warn;
          e.crit = p.crit ?? e.crit;
        }
      }
      const def = JSON.parse(s.args) as Record<string, string>;
      const first = [...series.values()][0];
      if (first && series.size === 1 && !first.warn && !first.crit) Object.assign(first, { warn: def.warn, crit: def.crit });
      const shown = rows.slice(-30);
      const head = `${rows.length} record(s) for ${n.name}/${s.name} since ${args.since}${rows.length > shown.length ? ` (last ${shown.length} shown)` : ''}, times in ${zone}:`;
      const recs = tablePart(['at', 'state', 'output'], shown.map((r) => [DateTime.fromMillis(r.at, { zone }).toFormat('yyyy-MM-dd HH:mm:ss'), STATUS[r.status]!, r.output]), { align: ['left', 'left', 'left'] });
      if (!series.size) return structured([head, recs]);
      const { renderChart } = await import('../src/monitor/chart.js'); // Chart.js and the canvas load on the first chart
      // Since when: the start of the trailing run of records in the current status.
      let run = rows.length - 1;
      while (st && run > 0 && rows[run - 1]!.status === st.status) run--;
      const sinceState = st && rows[run]!.status === st.status && run > 0 ? rows[run]!.at : undefined;
      const png = renderChart({ title: `${n.name} / ${s.name}`, zone, series: [...series.values()], statuses: rows.map((r) => ({ at: r.at, status: r.status })), state: st ? { status: st.status, hard: st.hard_status, since: sinceState } : undefined });
      const chart = `${n.name}-${s.name}.png`;
      return structured([head, { kind: 'image', file: chart, alt: `chart of ${[...series.keys()].join(', ')} for ${n.name}/${s.name} since ${args.since}` }, recs], { files: [{ name: chart, data: png, mime: 'image/png' }] });
    },
  },
  {
    name: 'monitor fraud rules',
    usage: 'monitor fraud rules',
    example: 'monitor fraud rules',
    summary: 'toll-fraud prefix rules and limits, business hours',
    role: 'viewer',
    async run(ctx) {
      const f = svc(ctx).fraud;
      const c = ctx.app.config.monitor.fraud;
      const rows = await f.rules();
      const nodes = (await svc(ctx).nodes.overview()).filter((n) => n.node.business_hours);
      const hours = [`Business hours: ${f.formatHours(f.defaultHours())}${nodes.length ? `; ${nodes.map((n) => `${n.node.name}: ${f.formatHours(parseHours(n.node.business_hours!))}`).join('; ')}` : ''}.`];
      const foot = `Burst limit ${c.burstPerHour} outbound calls/hour per node; Wangiri: ${c.wangiri.minCalls}+ calls of ≤ ${c.wangiri.maxSeconds}s from one foreign prefix within ${span(c.wangiri.windowMs)}; a group resolves after ${span(c.quietMs)} without a new call.\n${hours.join('\n')}`;
      if (!rows.length) return `No fraud rules yet (monitor fraud add <prefix> premium|international|limit [cpm=…] [concurrent=…] [duration=…] [sequential=…] [note]).\n${foot}`;
      const limits = (r: (typeof rows)[number]) => [r.cpm ? `${r.cpm}/min` : '', r.concurrent ? `${r.concurrent} at once` : '', r.total_seconds ? `${span(r.total_seconds * 1000)}/h` : '', r.sequential ? `${r.sequential} in a row` : ''].filter(Boolean).join(', ');
      return `${table(['id', 'prefix', 'kind', 'limits', 'note'], rows.map((r) => [String(r.id), r.prefix, r.kind, limits(r), r.note ?? '']))}\n${foot}`;
    },
  },
  {
    name: 'monitor fraud add',
    usage: 'monitor fraud add <prefix> <premium|international|limit> [cpm=N] [concurrent=N] [duration=30m] [sequential=N] [note…]',
    example: 'monitor fraud add 00 international cpm=3 calls abroad',
    summary: 'flag calls to a prefix (premium/international: every call; limit: only beyond its thresholds)',
    role: 'operator',
    details: 'Thresholds, per node and prefix (like OpenSIPS fraud_detection): cpm = calls per minute, concurrent = calls at once, duration = total call time within an hour, sequential = calls in a row to the prefix. Each counts as exceeded above N.',
    args: {
      positional: [{ name: 'prefix', required: true, pattern: '^\\+?[0-9*#]{1,31}$' }, { name: 'kind', required: true, enum: ['premium', 'international', 'limit'] }, { name: 'note', rest: true }],
      named: { cpm: { type: 'integer', minimum: 1 }, concurrent: { type: 'integer', minimum: 1 }, duration: {}, sequential: { type: 'integer', minimum: 1 } },
    },
    async run(ctx, args) {
      const f = svc(ctx).fraud;
      const prefix = String(args.prefix).replace(/^\+/, ctx.app.config.monitor.fraud.internationalPrefix);
      const note = ((args.note as string[] | undefined) ?? []).join(' ') || null;
      const totalSeconds = args.duration === undefined ? undefined : Math.round(ms(args.duration, 'duration', 0) / 1000);
      const id = await f.addRule({ prefix, kind: args.kind as 'premium' | 'international' | 'limit', note, cpm: args.cpm as number | undefined, concurrent: args.concurrent as number | undefined, totalSeconds, sequential: args.sequential as number | undefined });
      return `Fraud rule #${id} added: ${args.kind} prefix ${prefix}.`;
    },
  },
  {
    name: 'monitor fraud rm',
    usage: 'monitor fraud rm <id>',
    example: 'monitor fraud rm 1',
    summary: 'remove a fraud rule',
    role: 'operator',
    args: { positional: [{ name: 'id', required: true, type: 'integer', minimum: 1 }] },
    async run(ctx, args) {
      await svc(ctx).fraud.removeRule(Number(args.id));
      return `Fraud rule #${args.id} removed.`;
    },
  },
  {
    name: 'monitor fraud hours',
    usage: 'monitor fraud hours <node> [mon-fri 08:00-18:00 [tz=Area/City] | always | never | default]',
    example: 'monitor fraud hours pbx1 mon-fri 08:00-18:00 tz=Europe/Lisbon',
    summary: "a node's business hours for the off-hours fraud check (without a spec: show them)",
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'node' }, { name: 'spec', rest: true }], named: { tz: {} } },
    async run(ctx, args) {
      const m = svc(ctx);
      const n = await m.nodes.get(String(args.node));
      const words = (args.spec as string[] | undefined) ?? [];
      const spec = [...words, ...(args.tz !== undefined ? [`tz=${args.tz}`] : [])].join(' ');
      if (!words.length && args.tz !== undefined) throw new UsageError('tz= goes with business hours, e.g. monitor fraud hours pbx1 mon-fri 08:00-18:00 tz=America/Sao_Paulo');
      if (!spec) return `Business hours of ${n.name}: ${m.fraud.formatHours(await m.fraud.hoursOf(n.id))}${n.business_hours ? '' : ' (the default)'}.`;
      try {
        return `Business hours of ${n.name}: ${await m.fraud.setHours(n.id, spec)}.`;
      } catch (e) {
        if (e instanceof UserError) throw e;
        throw new UsageError((e as Error).message);
      }
    },
  },
];
