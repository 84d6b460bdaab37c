// A sensor kind: one file in src/agent/sensors/ exporting `sensor: SensorKind` — its name, a summary for help,
// the arguments it takes (the bot checks `monitor sensor add … key=value` against them), whether it runs the
// agent's own code or a plugin command line, and its check. The check gets what it needs from the agent in a
// `SensorKit` (running programs, thresholds), so a sensor file imports only Node's built-ins and types: the bot
// reads the same files for the kinds' names and arguments without loading any of the agent.
import type { Perf } from './perfdata.js';
import { parseRange } from './range.js';
import type { AgentSensor, CheckResult, Status } from './results.js';

/** One argument of a kind, given as `key=value` (values are always text on the wire). */
export interface SensorArg {
  /** One line for `monitor sensor kinds`. */
  summary: string;
  /** `text` (default), `integer`, or `range`: a Nagios threshold range (10, 10:, ~:10, 10:20, @10:20). */
  type?: 'text' | 'integer' | 'range';
  required?: boolean;
  /** The allowed values. */
  enum?: readonly string[];
  /** A regular expression a text value must match (whole value). */
  pattern?: string;
  /** Said when a value does not match `pattern`, e.g. "a host name or address". */
  patternHint?: string;
  minimum?: number;
  maximum?: number;
  /** What the check uses when the argument is not given (shown in help). */
  default?: string;
  /**
   * An override the agent replaces with its own setting unless its config has `allowCommands: true` (the
   * `asterisk` binary, ping's `command`): the bot says so when one is given.
   */
  agentOverride?: boolean;
}

/** The result of running a program. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  error?: string;
}

/** What the agent gives a check. */
export interface SensorKit {
  /** Run a program with its arguments (no shell) with a hard timeout; on timeout its whole process group is killed. */
  run(argv: string[], timeoutMs: number): Promise<CommandResult>;
  /** Run a Nagios plugin command line (no shell) and read its exit status, output and perfdata. */
  runPlugin(cmdline: string, timeoutMs: number): Promise<CheckResult>;
  /** Split a command line into words as a shell would quote them (quotes, backslashes), without a shell. */
  splitWords(cmdline: string): string[];
  /** The status of a value against optional warning/critical Nagios ranges. */
  statusFor(value: number, warn?: string, crit?: string): 0 | 1 | 2;
  /** `<NAME> <STATUS> - <text>` with the status of `value` against `args.warn`/`args.crit`. */
  judge(name: string, value: number, args: Record<string, string | undefined>, text: string, perfdata: Perf[]): CheckResult;
  /** OK, WARNING, CRITICAL, UNKNOWN. */
  label(status: Status): string;
}

export interface SensorKind {
  /** The kind's name: the file's name without its extension (`kind=<name>` in chat). */
  name: string;
  /** What it checks, one line (help). */
  summary: string;
  /**
   * `builtin`: the agent's own code (which may run a program the agent's config names: ping, asterisk).
   * `plugin`: the command line in its `command` argument, vetted against the agent's plugin directories.
   */
  runs: 'builtin' | 'plugin';
  args: Readonly<Record<string, SensorArg>>;
  /** One run. May throw (the agent reports UNKNOWN with the message); the agent also bounds it by the sensor's timeout. */
  check(sensor: AgentSensor, kit: SensorKit): Promise<CheckResult>;
}

/** What the bot knows of a kind: everything but its check. */
export type SensorKindInfo = Omit<SensorKind, 'check'>;

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const ARG_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

/** What is wrong with a module's `sensor` export, or null. `file` is the kind's name its file gives. */
export function sensorKindProblem(k: unknown, name: string): string | null {
  if (!k || typeof k !== 'object') return 'it exports no `sensor` object';
  const s = k as Partial<SensorKind>;
  if (s.name !== name) return `its sensor.name is ${JSON.stringify(s.name)}, not ${JSON.stringify(name)} as its file name says`;
  if (!NAME.test(name)) return `the kind name ${JSON.stringify(name)} must be lower case letters, digits and dashes (at most 32)`;
  if (typeof s.summary !== 'string' || !s.summary.trim()) return 'sensor.summary is missing';
  if (s.runs !== 'builtin' && s.runs !== 'plugin') return `sensor.runs must be "builtin" or "plugin", not ${JSON.stringify(s.runs)}`;
  if (typeof s.check !== 'function') return 'sensor.check is not a function';
  if (!s.args || typeof s.args !== 'object') return 'sensor.args is missing (use {} for a kind without arguments)';
  for (const [a, spec] of Object.entries(s.args)) {
    if (!ARG_NAME.test(a)) return `argument ${JSON.stringify(a)}: not a valid argument name`;
    if (!spec || typeof spec.summary !== 'string') return `argument ${a}: its summary is missing`;
    if (spec.type !== undefined && !['text', 'integer', 'range'].includes(spec.type)) return `argument ${a}: unknown type ${JSON.stringify(spec.type)}`;
    if (spec.pattern !== undefined) {
      try {
        new RegExp(spec.pattern);
      } catch (e) {
        return `argument ${a}: pattern ${JSON.stringify(spec.pattern)} is not a regular expression (${(e as Error).message})`;
      }
    }
  }
  if (s.runs === 'plugin' && !s.args.command?.required) return 'a plugin kind needs a required `command` argument (the command line it runs)';
  return null;
}

const RANGE_SYNTAX = 'Nagios range syntax: 10, 10:, ~:10, 10:20, @10:20';

/**
 * What is wrong with arguments given for a kind, one line per problem naming the `key=value` and why (empty:
 * fine). `partial`: a change to a sensor that has its arguments already (`monitor sensor edit`, a node's
 * overrides), so a required argument may be left out.
 */
export function sensorArgProblems(kind: SensorKindInfo, args: Record<string, string>, opts: { partial?: boolean } = {}): string[] {
  const out: string[] = [];
  const names = Object.keys(kind.args);
  for (const [key, value] of Object.entries(args)) {
    const spec = kind.args[key];
    if (!spec) {
      out.push(`${key}=${value}: kind ${kind.name} takes no argument ${key} (${names.length ? `its arguments: ${names.join(', ')}` : 'it takes no arguments'})`);
      continue;
    }
    const why = valueProblem(spec, value);
    if (why) out.push(`${key}=${value}: ${why}`);
  }
  if (!opts.partial) {
    for (const [key, spec] of Object.entries(kind.args)) if (spec.required && !args[key]) out.push(`kind=${kind.name} needs ${key}=…: ${spec.summary}`);
  }
  return out;
}

function valueProblem(spec: SensorArg, value: string): string | null {
  if (spec.required && value === '') return `must not be empty (${spec.summary})`;
  if (spec.enum && !spec.enum.includes(value)) return `expected one of ${spec.enum.join(', ')}`;
  switch (spec.type ?? 'text') {
    case 'range':
      try {
        parseRange(value);
      } catch (e) {
        return `${(e as Error).message} (${RANGE_SYNTAX})`;
      }
      return null;
    case 'integer': {
      const { minimum: min, maximum: max } = spec;
      const n = Number(value);
      if (/^-?\d+$/.test(value) && (min === undefined || n >= min) && (max === undefined || n <= max)) return null;
      const bounds = min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` of at least ${min}` : max !== undefined ? ` of at most ${max}` : '';
      return `expected a whole number${bounds}`;
    }
    default:
      if (spec.pattern && !new RegExp(`^(?:${spec.pattern})$`).test(value)) return `expected ${spec.patternHint ?? `a value matching ${spec.pattern}`}`;
      return null;
  }
}
