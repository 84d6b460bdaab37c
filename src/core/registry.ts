// The command registry: every command file in commands/ is loaded, names are resolved by the longest
// matching word prefix, arguments are checked against the command's declared schema with ajv.
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { lazyAjv } from '../util/lazy-ajv.js';
import { importPlugins } from '../util/plugin-dir.js';
import { distance } from 'fastest-levenshtein';
import { UsageError, type Args, type Command } from './command.js';
import type { ParsedLine } from './parser.js';
import type { JobKind } from './job-types.js';

export const COMMANDS_DIR = fileURLToPath(new URL('../../commands/', import.meta.url));

/** Ajv options for command arguments (loaded on the first command, not at start-up). */
const ARG_AJV_OPTIONS = { coerceTypes: true, useDefaults: true, allErrors: true, strict: false } as const;

interface Compiled<A> {
  cmd: Command<A>;
  /** Compiled on the command's first use (ajv compiles cost ~1 ms each; start-up does not pay for them). */
  validate?: ValidateFunction;
}

/** `A` is what handlers get as `ctx.app` (App, bound in src/app-types.ts). */
export class Registry<A = unknown> {
  private byName = new Map<string, Compiled<A>>();
  readonly jobKinds = new Map<string, JobKind<A>>();

  add(cmd: Command<A>): void {
    const name = cmd.name.trim().toLowerCase();
    if (this.byName.has(name)) throw new Error(`command "${name}" is defined twice`);
    this.byName.set(name, { cmd });
  }

  addJobKind(kind: string, def: JobKind<A>): void {
    if (this.jobKinds.has(kind)) throw new Error(`job kind "${kind}" is defined twice`);
    this.jobKinds.set(kind, def);
  }

  /** The command's argument validator, compiled once on first use. */
  private validatorOf(c: Compiled<A>): ValidateFunction {
    return (c.validate ??= lazyAjv(ARG_AJV_OPTIONS).compile(schemaOf(c.cmd)));
  }

  /** Compile every command's argument schema now (tests: a bad ArgSpec fails here, not on first use). */
  compileAll(): void {
    for (const c of this.byName.values()) this.validatorOf(c);
  }

  get(name: string): Command<A> | undefined {
    return this.byName.get(name)?.cmd;
  }

  all(): Command<A>[] {
    return [...this.byName.values()].map((c) => c.cmd).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Load every commands/*.{ts,js} module (the extension this module runs as). */
  async loadDir(dir = COMMANDS_DIR): Promise<void> {
    for (const { mod } of await importPlugins<{ commands?: Command<A>[]; jobKinds?: Record<string, JobKind<A>> }>(dir, { mustExist: true, what: 'command' })) {
      for (const c of mod.commands ?? []) this.add(c);
      for (const [k, v] of Object.entries(mod.jobKinds ?? {})) this.addJobKind(k, v);
    }
  }

  /** Longest registered name that prefixes the words. */
  resolve(words: string[]): { cmd: Command<A>; rest: string[] } | null {
    const lower = words.map((w) => w.toLowerCase());
    for (let n = Math.min(lower.length, 4); n >= 1; n--) {
      const c = this.byName.get(lower.slice(0, n).join(' '));
      if (c) return { cmd: c.cmd, rest: words.slice(n) };
    }
    return null;
  }

  /** Nearest command names to what was typed, for "did you mean". */
  suggest(words: string[]): string[] {
    const typed1 = (words[0] ?? '').toLowerCase();
    const typed2 = words.slice(0, 2).join(' ').toLowerCase();
    const scored: { name: string; d: number }[] = [];
    for (const name of this.byName.keys()) {
      const nWords = name.split(' ').length;
      const typed = nWords >= 2 ? typed2 : typed1;
      const d = distance(typed, name);
      const limit = Math.max(2, Math.floor(name.length / 3));
      if (d <= limit) scored.push({ name, d });
    }
    // A known family with an unknown sub-command: offer the family's sub-commands.
    if (scored.length === 0) {
      for (const name of this.byName.keys()) if (name.startsWith(`${typed1} `)) scored.push({ name, d: 10 });
    }
    // Nothing close: still point at the single nearest command.
    if (scored.length === 0 && typed1) {
      let best = { name: '', d: Infinity };
      for (const name of this.byName.keys()) {
        const d = distance(typed1, name.split(' ')[0]!);
        if (d < best.d) best = { name: name.split(' ')[0]!, d };
      }
      if (best.name) scored.push(best);
    }
    return [...new Set(scored.sort((a, b) => a.d - b.d || a.name.localeCompare(b.name)).map((s) => s.name))].slice(0, 3);
  }

  /** Bind parsed words/pairs/flags to the command's declared arguments and validate them. */
  bind(cmd: Command<A>, rest: string[], line: ParsedLine): Args {
    const compiled = this.byName.get(cmd.name.toLowerCase())!;
    const spec = cmd.args ?? {};
    const out: Record<string, unknown> = {};
    const pos = spec.positional ?? [];
    let i = 0;
    for (const p of pos) {
      if (p.rest) {
        out[p.name] = rest.slice(i);
        i = rest.length;
        break;
      }
      if (i < rest.length) out[p.name] = rest[i++];
    }
    if (i < rest.length) {
      throw new UsageError(
        `unexpected word${rest.length - i > 1 ? 's' : ''}: ${rest
          .slice(i)
          .map((w) => `"${w}"`)
          .join(' ')}`,
        cmd.usage,
      );
    }
    for (const [k, v] of Object.entries(line.named)) {
      if (k in out) throw new UsageError(`"${k}" is given twice`, cmd.usage);
      out[k] = v;
    }
    const flags: Record<string, string | true> = {};
    for (const [k, v] of Object.entries(line.flags)) {
      const f = spec.flags?.[k];
      if (!f)
        throw new UsageError(
          `unknown option --${k}${
            spec.flags
              ? ` (options: ${Object.keys(spec.flags)
                  .map((x) => `--${x}`)
                  .join(', ')})`
              : ''
          }`,
          cmd.usage,
        );
      if (f.value && v === true) throw new UsageError(`--${k} needs a value: --${k}=…`, cmd.usage);
      if (!f.value && v !== true) throw new UsageError(`--${k} takes no value`, cmd.usage);
      flags[k] = v;
    }
    const validate = this.validatorOf(compiled);
    if (!validate(out)) throw new UsageError(describeArgErrors(validate.errors ?? [], cmd), cmd.usage);
    return Object.assign(out, { flags }) as Args;
  }
}

function schemaOf(cmd: Command): Record<string, unknown> {
  const spec = cmd.args ?? {};
  const props: Record<string, unknown> = {};
  const required: string[] = [];
  const strip = (o: object): Record<string, unknown> => {
    const { name: _n, required: _r, description: _d, rest: _rest, secret: _s, ...schema } = o as Record<string, unknown>;
    return { type: 'string', ...schema };
  };
  for (const p of spec.positional ?? []) {
    props[p.name] = p.rest ? { type: 'array', items: { type: 'string' } } : strip(p);
    if (p.required) required.push(p.name);
  }
  for (const [k, n] of Object.entries(spec.named ?? {})) {
    props[k] = strip(n);
    if (n.required) required.push(k);
  }
  return {
    type: 'object',
    properties: props,
    required,
    additionalProperties: spec.allowUnknownNamed ? { type: 'string' } : false,
  };
}

function describeArgErrors(errors: ErrorObject[], cmd: Command): string {
  const spec = cmd.args ?? {};
  const isPositional = (k: string) => (spec.positional ?? []).some((p) => p.name === k);
  const msgs = errors.map((e) => {
    const key = e.instancePath.replace(/^\//, '').split('/')[0] ?? '';
    const shown = isPositional(key) ? `<${key}>` : `${key}=`;
    switch (e.keyword) {
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        const known = Object.keys(spec.named ?? {});
        const near = known.filter((k) => distance(k, extra) <= 2);
        return `unknown argument ${extra}=${near.length ? ` (did you mean ${near.map((k) => `${k}=`).join(' or ')}?)` : known.length ? ` (known: ${known.map((k) => `${k}=`).join(' ')})` : ''}`;
      }
      case 'required': {
        const miss = (e.params as { missingProperty: string }).missingProperty;
        return isPositional(miss) ? `missing <${miss}>` : `missing ${miss}=`;
      }
      case 'enum':
        return `${shown} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
      case 'type':
        return `${shown} must be ${(e.params as { type: string }).type === 'integer' ? 'a whole number' : `a ${(e.params as { type: string }).type}`}`;
      case 'pattern': {
        const desc = (spec.named?.[key] ?? spec.positional?.find((p) => p.name === key))?.description;
        return `${shown} is not valid${desc ? ` (${desc})` : ''}`;
      }
      default:
        return `${shown} ${e.message}`;
    }
  });
  return [...new Set(msgs)].join('; ');
}
