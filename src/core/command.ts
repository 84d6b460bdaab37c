// What a command is, and what its handler is given. Command files in commands/ export
// `commands: Command[]` and, when they run long work, `jobKinds: Record<string, JobKind>` (the App-bound
// forms from src/app-types.ts). `A` is what the handler gets as `ctx.app`; the core never looks into it.
import type { Incoming, MessageRef, OutMessage, Role } from './types.js';
import type { Logger } from '../log.js';
import { SbError, type SbCode } from '../util/errors.js';

export type RoleReq = Role | 'none';

export interface JsonSchemaLite {
  type?: 'string' | 'integer' | 'number' | 'boolean';
  enum?: readonly (string | number)[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  default?: unknown;
}

export interface PositionalSpec extends JsonSchemaLite {
  name: string;
  required?: boolean;
  description?: string;
  /** Collects every remaining word (array of strings). Only the last positional may be rest. */
  rest?: boolean;
}

export interface NamedSpec extends JsonSchemaLite {
  description?: string;
  required?: boolean;
  /** Value is a secret: never stored in the audit log or echoed. */
  secret?: boolean;
}

export interface FlagSpec {
  description?: string;
  /** --name=value instead of a bare --name. */
  value?: boolean;
}

export interface ArgSpec {
  positional?: PositionalSpec[];
  named?: Record<string, NamedSpec>;
  flags?: Record<string, FlagSpec>;
  /** Accept key=value pairs not listed in `named` (they arrive as strings). */
  allowUnknownNamed?: boolean;
  /**
   * Every key=value word other than the declared (non-secret) named ones may carry a secret — e.g. vendor
   * keys of `provision set`: the audit log keeps the key and never the value, and a pending confirmation
   * keeps the command sealed.
   */
  secretPairs?: boolean;
}

export interface Caller {
  platform: string;
  id: string;
  name?: string;
  role: RoleReq;
}

export interface CommandContext<A = unknown> {
  app: A;
  incoming: Incoming;
  caller: Caller;
  /** True when the caller confirmed (confirm <code>, a button, or exec --yes). */
  confirmed: boolean;
  log: Logger;
  /** Reply in the request's channel/thread. */
  reply(msg: OutMessage | string): Promise<MessageRef | undefined>;
  /** Direct message to the caller. `secret: true` for text that carries a secret meant for them alone. */
  dm(msg: OutMessage | string, opts?: { secret?: boolean }): Promise<void>;
  /** Start a durable job; its progress message appears in the request's channel and is edited in place. */
  startJob(kind: string, args: unknown, opts?: { total?: number; note?: string }): Promise<number>;
}

export type Args = Record<string, unknown> & { flags: Record<string, string | true> };

export interface Command<A = unknown> {
  /** One or more words: 'help', 'dhcp add', 'monitor sensor add'. */
  name: string;
  usage: string;
  summary: string;
  role: RoleReq;
  args?: ArgSpec;
  /**
   * A complete command line that works as given (shown by `help <command>`; a test runs every example).
   * Names things a fresh install may not have only where the command itself explains what is missing.
   */
  example?: string;
  /** Extra help lines shown by `help <command>`. */
  details?: string;
  /**
   * Destructive commands return a one-line description of what will happen; the core then asks the
   * caller to confirm (button or `confirm <code>`) unless already confirmed. Return null to skip.
   */
  confirm?(args: Args, ctx: CommandContext<A>): string | null | Promise<string | null>;
  run(ctx: CommandContext<A>, args: Args): Promise<OutMessage | string | void>;
}

/**
 * A failure the user caused or can fix: shown as-is with its code, exit code 1. Without a code the dispatcher
 * gives it its command family's fallback code (familyCode), so every refusal carries one.
 */
export class UserError extends SbError {
  /** True when the thrower named the code; false for the family fallback. */
  readonly specific: boolean;
  constructor(message: string, code?: SbCode, details?: Record<string, unknown>) {
    super(code ?? 'SB_COMMAND_REFUSED', message, details);
    this.specific = code !== undefined;
    this.name = 'UserError';
  }
}

/** Wrong arguments: the usage line is shown with the reason, exit code 2. */
export class UsageError extends SbError {
  constructor(
    message: string,
    public usage?: string,
    code: SbCode = 'SB_USAGE',
  ) {
    super(code, message);
    this.name = 'UsageError';
  }
}

/** The family fallback code of a command, from its first word: `dhcp add` → SB_DHCP_REFUSED. */
export function familyCode(commandName: string): SbCode {
  const word = commandName.split(' ')[0]!;
  return FAMILIES[word] ?? 'SB_COMMAND_REFUSED';
}

const FAMILIES: Record<string, SbCode> = {
  dhcp: 'SB_DHCP_REFUSED',
  provision: 'SB_PROVISION_REFUSED',
  monitor: 'SB_MONITOR_REFUSED',
  alerts: 'SB_ALERTS_REFUSED',
  ack: 'SB_ALERTS_REFUSED',
  silence: 'SB_ALERTS_REFUSED',
  silences: 'SB_ALERTS_REFUSED',
  unsilence: 'SB_ALERTS_REFUSED',
  renew: 'SB_RENEW_REFUSED',
  inventory: 'SB_INVENTORY_REFUSED',
  users: 'SB_USERS_REFUSED',
  whoami: 'SB_USERS_REFUSED',
  jobs: 'SB_JOBS_REFUSED',
  job: 'SB_JOBS_REFUSED',
  cancel: 'SB_JOBS_REFUSED',
  calls: 'SB_CALLS_REFUSED',
  call: 'SB_CALLS_REFUSED',
  audit: 'SB_AUDIT_REFUSED',
  doctor: 'SB_DOCTOR_REFUSED',
  selftest: 'SB_DOCTOR_REFUSED',
};

/** The code a failure of `commandName` is shown and audited with (a UserError without one gets its family's). */
export function codeOf(err: SbError, commandName: string): SbCode {
  return err instanceof UserError && !err.specific ? familyCode(commandName) : err.code;
}

/** A reply line with its code: the code goes at the end of the first line, so it stays beside the reason. */
export function withCode(text: string, code: SbCode): string {
  const nl = text.indexOf('\n');
  return nl < 0 ? `${text} (${code})` : `${text.slice(0, nl)} (${code})${text.slice(nl)}`;
}

export function toMessage(m: OutMessage | string): OutMessage {
  return typeof m === 'string' ? { text: m } : m;
}
