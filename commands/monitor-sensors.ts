// `monitor sensor …`, `monitor sensors`, `monitor assign|unassign`: sensor definitions, checked against the
// kinds the agent knows (src/agent/sensors/, through the service's catalogue), and where they run.
import type { Command, CommandContext } from '../src/app-types.js';
import { UserError, UsageError } from '../src/core/command.js';
import { table } from '../src/core/format.js';
import { NAME, durationArg as ms } from '../src/monitor/command-args.js';
import type { SensorCatalogue } from '../src/wire/sensor-kinds.js';
import type { SensorArg } from '../src/wire/sensor-kind.js';
import { structured, tablePart } from '../src/core/message.js';

const svc = (ctx: CommandContext) => ctx.app.services.monitor;

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
      await svc(ctx).sensors.add({
        name: String(args.name),
        kind,
        args: a,
        intervalMs: ms(args.interval, 'interval', 60_000),
        timeoutMs: ms(args.timeout, 'timeout', 10_000),
        attempts: Number(args.attempts ?? 3),
        retention: checkRetention(String(args.retention ?? 'last')),
      });
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
      await svc(ctx).sensors.edit(String(args.name), (s) => ({
        ...s,
        args: { ...s.args, ...checkedArgs(svc(ctx).kinds, s.kind, args, true) },
        intervalMs: ms(args.interval, 'interval', s.intervalMs),
        timeoutMs: ms(args.timeout, 'timeout', s.timeoutMs),
        attempts: Number(args.attempts ?? s.attempts),
        retention: checkRetention(String(args.retention ?? s.retention)),
      }));
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
      const rows = kinds
        .names()
        .map((n) => kinds.info(n)!)
        .map((k) => [
          k.name,
          k.summary,
          Object.entries(k.args)
            .map(([n, a]) => (a.required ? `${n}=… (required)` : n))
            .join(', '),
        ]);
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
      return [
        `${s.name}: kind ${s.kind}, every ${s.interval_ms / 1000}s, timeout ${s.timeout_ms / 1000}s, attempts ${s.attempts}, retention ${s.retention}`,
        `args: ${s.args}`,
        `nodes: ${nodes.map((n) => n.name + (n.overrides ? ` ${n.overrides}` : '')).join(', ') || '(none)'}`,
      ].join('\n');
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
      return table(
        ['name', 'kind', 'every', 'attempts', 'retention', 'args'],
        rows.map((s) => [s.name, s.kind, `${s.interval_ms / 1000}s`, String(s.attempts), s.retention, s.args]),
      );
    },
  },
  {
    name: 'monitor assign',
    usage: 'monitor assign <sensor> <node|all> [key=value… per-node overrides]',
    example: 'monitor assign load all',
    summary: 'run a sensor on a node (or all nodes)',
    role: 'operator',
    args: {
      positional: [
        { ...NAME, name: 'sensor' },
        { ...NAME, name: 'node' },
      ],
      allowUnknownNamed: true,
    },
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
    args: {
      positional: [
        { ...NAME, name: 'sensor' },
        { ...NAME, name: 'node' },
      ],
    },
    async run(ctx, args) {
      const m = svc(ctx);
      await m.sensors.get(String(args.sensor));
      const n = await m.sensors.unassign(String(args.sensor), args.node === 'all' ? undefined : (await m.nodes.get(String(args.node))).id);
      return `Sensor ${args.sensor} unassigned from ${n} node(s).`;
    },
  },
];
