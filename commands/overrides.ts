// `provision set|unset|overrides|diff`: vendor keys set over the drivers' defaults per model, per room (of one
// model) or per phone — applied in that order, the narrowest winning — and what the next render of a phone
// would change, shown before anything is written.
//
// Scopes: model=<model>, room=<room> [model=<model> when the room holds several models], mac=<mac>, ext=<ext>,
// or a bare MAC or extension (one phone) as the first word. Keys are the vendor's own, in the driver's file
// format (see `provision models` and help); keys Switchboard writes for the phones to keep working (account
// credentials, provisioning URL, admin password, firmware URL) need --force. Values are never audited; values
// of password-like keys (or any given with --secret) are sealed at rest and never shown.
// Where a command applies: src/provision/override-scope.ts; diffs: src/provision/override-diff.ts.
import type { Command, CommandContext } from '../src/app-types.js';
import { UserError, UsageError } from '../src/core/command.js';
import { ago, table } from '../src/core/format.js';
import { structured } from '../src/core/message.js';
import { fmtMac } from '../src/util/mac.js';
import { showKey } from '../drivers/phones/override-styles.js';
import { isSecretKey, resolveFor, type Applied, type OverrideRow, type Scope } from '../src/provision/overrides.js';
import { clipLines, diffOf, diffParts, MASK, MAX_DIFF_LINES } from '../src/provision/override-diff.js';
import { covered, phoneLabel, SCOPE_ARGS, SCOPE_USAGE, targetOf, wordsOf, type OverrideTarget } from '../src/provision/override-scope.js';
import type { NextRender, ProvisionService } from '../src/provision/service.js';

const svc = (ctx: CommandContext): ProvisionService => ctx.app.services.provision;
const by = (ctx: CommandContext) => `${ctx.caller.platform}:${ctx.caller.id}`;

/** A change reaching more phones than this asks for `confirm <code>` first. */
export const CONFIRM_ABOVE = 10;

function styleOf(t: OverrideTarget) {
  const style = t.driver.overrides;
  if (!style) throw new UserError(`${t.driver.label} phones take no overrides: the ${t.driver.id} driver declares no override style.`);
  return style;
}

/** Checks key=value words against the driver's format; the overrides to set, or every problem at once. */
function overridesOf(
  ctx: CommandContext,
  t: OverrideTarget,
  pairs: string[],
  opts: { force: boolean; secret: boolean; forDiff?: boolean },
): { rows: OverrideRow[]; forced: { key: string; what: string }[] } {
  const s = svc(ctx);
  const style = styleOf(t);
  const options = s.cfg.drivers[t.driver.id] ?? {};
  const problems: string[] = [];
  const rows: OverrideRow[] = [];
  const forced: { key: string; what: string }[] = [];
  const seen = new Set<string>();
  for (const w of pairs) {
    const eq = w.indexOf('=');
    if (eq <= 0) {
      problems.push(`• ${showKey(w)} is not key=value`);
      continue;
    }
    const raw = w.slice(0, eq);
    const value = w.slice(eq + 1);
    const k = style.key(raw, options);
    if ('problem' in k) {
      problems.push(`• ${k.problem}`);
      continue;
    }
    const key = k.key;
    if (seen.has(key.toLowerCase())) {
      problems.push(`• ${showKey(key)} is given twice`);
      continue;
    }
    seen.add(key.toLowerCase());
    const vp = style.valueProblem(key, value, options);
    if (vp) problems.push(`• ${showKey(key)}: ${vp}`);
    const owned = style.owned(key);
    if (owned) {
      if (!opts.force && !opts.forDiff) problems.push(`• ${showKey(key)} is ${owned}; Switchboard writes it for the phones to keep working. Add --force to override it anyway.`);
      forced.push({ key, what: owned });
    }
    rows.push({ ...t.scope, key, value, secret: opts.secret || isSecretKey(t.driver, key), forced: !!owned, setBy: by(ctx), setAt: Date.now() });
  }
  if (problems.length) throw new UserError(`Nothing ${opts.forDiff ? 'compared' : 'set'} for ${t.label}:\n${problems.join('\n')}\nKeys are ${style.describe}.`);
  return { rows, forced };
}

/** The keys `unset` names, as the driver stores them (case, P-value spelling). */
function keysOf(ctx: CommandContext, t: OverrideTarget, words: string[]): string[] {
  const style = styleOf(t);
  const options = svc(ctx).cfg.drivers[t.driver.id] ?? {};
  if (!words.length) throw new UsageError('name the keys to unset');
  const bad = words.filter((w) => w.includes('='));
  if (bad.length) throw new UsageError(`unset takes keys without values: ${bad.map((w) => showKey(w.slice(0, w.indexOf('=')))).join(', ')}`);
  return words.map((w) => {
    const k = style.key(w, options);
    return 'key' in k ? k.key : w;
  });
}

const shown = (o: { key: string; value: string; secret: boolean }) => `${o.key} = ${o.secret ? MASK : o.value === '' ? '(empty)' : o.value}`;

function scopeName(s: ProvisionService, sc: Scope): string {
  if (sc.kind === 'model') return `model ${sc.model}`;
  if (sc.kind === 'room') return `room ${sc.target} (${sc.model})`;
  const p = s.get(sc.target) ?? s.unreadablePhones().find((u) => u.rec.mac === sc.target)?.rec;
  return `phone ${fmtMac(sc.target)}${p ? ` (ext ${p.extension})` : ''}`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function confirmText(ctx: CommandContext, verb: string, keys: string[], t: OverrideTarget): string | null {
  const phones = covered(ctx, t.scope);
  if (phones.length <= CONFIRM_ABOVE) return null;
  return `${verb} ${keys.join(', ')} for ${t.label}: ${phones.length} phones are rendered again (${phones
    .slice(0, 5)
    .map((p) => p.extension)
    .join(', ')}, …), their versions rise where files change`;
}

/** What a change did (or would do), for replies. */
function outcomeText(out: Awaited<ReturnType<ProvisionService['changeOverrides']>>, dryRun: boolean): string {
  const n = out.phones.length;
  if (!n) return 'No phone is in this scope yet; phones provisioned into it get these overrides.';
  const verb = dryRun ? 'would change' : 'changed';
  const rest = [
    `${plural(n, 'phone')}: ${out.changed.length} ${verb}${dryRun ? '' : ' (version raised)'}, ${out.unchanged.length} unchanged`,
    ...(out.unreadable.length ? [`${out.unreadable.length} not rendered (sealed SIP password unreadable with this key; see provision list)`] : []),
  ];
  return `${rest.join('; ')}.`;
}

export const commands: Command[] = [
  {
    name: 'provision set',
    usage: `provision set <scope> <key>=<value> … [--force] [--secret] [--dry-run]   (scope: ${SCOPE_USAGE}; no key: list)`,
    example: 'provision set model=yealink-t4x features.dnd.enable=1',
    summary: 'set vendor keys over the driver defaults for a model, a room or one phone; affected phones are rendered again',
    details:
      'Precedence: driver defaults < model < room < phone. Keys are the vendor\'s own in the driver\'s file format (Yealink features.dnd.enable, Grandstream P1362, Poly up.backlight.idleIntensity, Cisco Dial_Plan_1_, Snom language or user_dtmf_info[1], AudioCodes personal_settings/language, Fanvil "PHONE FEATURE MODULE/DST Type"); quote a key with spaces: "A B/C"=value. ' +
      "A bare first word is one phone's MAC or extension; a room holding several models needs model=. " +
      'Keys Switchboard writes for the phones to keep working (account credentials, provisioning URL, admin password, firmware URL) are refused unless --force. ' +
      `Values are never written to the audit log; values of password-like keys, or any with --secret, are sealed at rest and never shown. More than ${CONFIRM_ABOVE} phones: asks for confirmation. --dry-run shows the diff and writes nothing.`,
    role: 'operator',
    args: {
      positional: [{ name: 'words', rest: true, description: 'a bare MAC or extension, then key=value pairs' }],
      named: SCOPE_ARGS,
      allowUnknownNamed: true,
      secretPairs: true,
      flags: {
        force: { description: 'also set keys Switchboard writes itself (credentials, provisioning URL, admin password)' },
        secret: { description: 'treat the values as secrets (sealed, never shown)' },
        'dry-run': { description: 'show what would change, write nothing' },
      },
    },
    confirm(args, ctx) {
      if (args.flags['dry-run']) return null;
      const { target, rest } = targetOf(ctx, args, wordsOf(ctx, args));
      if (!rest.length) return null;
      const { rows } = overridesOf(ctx, target, rest, { force: !!args.flags.force, secret: !!args.flags.secret });
      return confirmText(
        ctx,
        'set',
        rows.map((r) => r.key),
        target,
      );
    },
    async run(ctx, args) {
      const s = svc(ctx);
      const { target, rest } = targetOf(ctx, args, wordsOf(ctx, args));
      if (!rest.length) return listing(ctx, target);
      const dryRun = !!args.flags['dry-run'];
      const { rows, forced } = overridesOf(ctx, target, rest, { force: !!args.flags.force, secret: !!args.flags.secret });
      const out = await s.changeOverrides({ scope: target.scope, set: rows, unset: [] }, by(ctx), { dryRun });
      const head = `${dryRun ? 'Dry run, nothing written: would set' : 'Set'} for ${target.label}: ${rows.map(shown).join(', ')}.`;
      const notes = [
        ...forced.map((f) => `⚠ ${f.key} is ${f.what}: set with --force, it now overrides what Switchboard writes.`),
        ...(!dryRun && out.changed.length ? ['Phones fetch the change at their next re-sync; `provision resync <mac|ext|all>` makes them fetch now.'] : []),
      ];
      if (dryRun) return structured([head, outcomeText(out, true), ...diffParts(out.changed, s), ...notes]);
      return [head, outcomeText(out, false), ...notes].join('\n');
    },
  },
  {
    name: 'provision unset',
    usage: `provision unset <scope> <key> … [--dry-run]   (scope: ${SCOPE_USAGE})`,
    example: 'provision unset model=yealink-t4x features.dnd.enable',
    summary: "remove overrides at one scope: the phones get the wider scope's value or the driver default again",
    role: 'operator',
    args: {
      positional: [{ name: 'words', rest: true, description: 'a bare MAC or extension, then keys' }],
      named: SCOPE_ARGS,
      flags: { 'dry-run': { description: 'show what would change, write nothing' } },
    },
    confirm(args, ctx) {
      if (args.flags['dry-run']) return null;
      const { target, rest } = targetOf(ctx, args, wordsOf(ctx, args));
      return confirmText(ctx, 'unset', keysOf(ctx, target, rest), target);
    },
    async run(ctx, args) {
      const s = svc(ctx);
      const { target, rest } = targetOf(ctx, args, wordsOf(ctx, args));
      const keys = keysOf(ctx, target, rest);
      const dryRun = !!args.flags['dry-run'];
      const out = await s.changeOverrides({ scope: target.scope, set: [], unset: keys }, by(ctx), { dryRun });
      const rows = out.missing.length ? await s.overrideRows() : [];
      const missing = out.missing.map((k) => {
        const elsewhere = rows.filter((r) => r.model === target.scope.model && r.key.toLowerCase() === k.toLowerCase()).map((r) => scopeName(s, r));
        return `${k} is not set for ${target.label}${elsewhere.length ? ` (it is set for ${elsewhere.join(', ')})` : ''}.`;
      });
      const done = keys.filter((k) => !out.missing.includes(k));
      if (!done.length) return `${missing.join('\n')}\nNothing changed.`;
      const head = `${dryRun ? 'Dry run, nothing written: would unset' : 'Unset'} for ${target.label}: ${done.join(', ')}; the phones get the value of a wider scope, or the driver default.`;
      if (dryRun) return structured([head, outcomeText(out, true), ...diffParts(out.changed, s), ...missing]);
      return [head, outcomeText(out, false), ...missing].join('\n');
    },
  },
  {
    name: 'provision overrides',
    usage: `provision overrides [<scope>]   (scope: ${SCOPE_USAGE})`,
    example: 'provision overrides',
    summary: 'overrides set, everywhere or at one scope; for one phone, every override it gets and where it comes from',
    role: 'viewer',
    args: { positional: [{ name: 'words', rest: true, description: 'a bare MAC or extension' }], named: SCOPE_ARGS },
    async run(ctx, args) {
      const words = (args.words as string[] | undefined) ?? [];
      const scoped = words.length || ['model', 'room', 'mac', 'ext'].some((k) => args[k] !== undefined);
      if (!scoped) {
        const s = svc(ctx);
        const rows = await s.overrideRows();
        if (!rows.length) return 'No overrides are set. Set one with `provision set <scope> <key>=<value>`.';
        const order = { model: 0, room: 1, phone: 2 };
        rows.sort((a, b) => a.model.localeCompare(b.model) || order[a.kind] - order[b.kind] || a.target.localeCompare(b.target) || a.key.localeCompare(b.key));
        return `${plural(rows.length, 'override')} (driver defaults < model < room < phone):\n${table(
          ['scope', 'key', 'value', 'set'],
          rows.map((r) => [scopeName(s, r), r.key, r.secret ? MASK : r.value, `${ago(r.setAt)} by ${r.setBy}${r.forced ? ' (forced)' : ''}`]),
        )}`;
      }
      const { target, rest } = targetOf(ctx, args, words);
      if (rest.length) throw new UsageError(`unexpected word${rest.length > 1 ? 's' : ''}: ${rest.join(' ')}`);
      return listing(ctx, target);
    },
  },
  {
    name: 'provision diff',
    usage: 'provision diff <mac|ext> [<key>=<value> …]',
    example: 'provision diff 201',
    summary: 'what the next render of a phone would change in the file it is served now (its overrides, settings and firmware wave; with key=value, as if set for it); writes nothing',
    details:
      'The diff is unified (--- served, +++ next render); passwords in it are masked. With key=value pairs the phone is rendered as if they were set for it (provision set mac=…), so a change can be seen before it is made.',
    role: 'viewer',
    args: {
      positional: [{ name: 'words', rest: true, description: 'the MAC or extension, then key=value pairs' }],
      named: { mac: SCOPE_ARGS.mac!, ext: SCOPE_ARGS.ext! },
      allowUnknownNamed: true,
      secretPairs: true,
    },
    async run(ctx, args) {
      const s = svc(ctx);
      const { target, rest } = targetOf(ctx, args, wordsOf(ctx, args));
      if (!target.phone) throw new UsageError('name one phone: provision diff <mac|ext>');
      const p = target.phone;
      let proposed: Applied[] = [];
      const notes: string[] = [];
      if (rest.length) {
        const { rows, forced } = overridesOf(ctx, target, rest, { force: false, secret: false, forDiff: true });
        proposed = rows.map((r) => ({ key: r.key, value: r.value, secret: r.secret, from: r }));
        notes.push(...forced.map((f) => `⚠ ${f.key} is ${f.what}; provision set needs --force for it.`));
      }
      let n: NextRender;
      try {
        n = await s.nextRender(p.mac, proposed);
      } catch (err) {
        throw new UserError(`Cannot render ${phoneLabel(s, p)}: ${(err as Error).message}.`);
      }
      const what = rest.length ? `with ${proposed.map(shown).join(', ')} set for it` : 'as it stands in the store';
      if (!n.changed) return [`Nothing would change: the next render of ${phoneLabel(s, p)} ${what} is the file served now (version ${n.rec.version}).`, ...notes].join('\n');
      const files = n.files.filter((f) => f.served !== f.next).map((f) => f.name);
      return structured([
        `The next render of ${phoneLabel(s, p)} ${what} would change ${files.join(', ')} (version ${n.rec.version} → ${n.version}); nothing was written:`,
        { kind: 'code', text: clipLines(diffOf(n), MAX_DIFF_LINES) },
        ...notes,
      ]);
    },
  },
];

/** What is set at a scope; for one phone, everything it gets and from where. */
async function listing(ctx: CommandContext, t: OverrideTarget): Promise<string> {
  const s = svc(ctx);
  const rows = await s.overrideRows();
  if (t.phone) {
    const applied = resolveFor(rows, t.phone);
    if (!applied.length) return `No overrides apply to ${t.label}: it gets the ${t.driver.label} driver's defaults.`;
    return `${plural(applied.length, 'override')} apply to ${t.label} (driver defaults < model < room < phone):\n${table(
      ['key', 'value', 'from'],
      applied.map((a) => [a.key, a.secret ? MASK : a.value, a.from.kind === 'phone' ? 'this phone' : scopeName(s, a.from)]),
    )}`;
  }
  const here = rows.filter((r) => r.model === t.scope.model && r.kind === t.scope.kind && r.target === t.scope.target);
  const n = covered(ctx, t.scope).length;
  if (!here.length) return `No overrides are set for ${t.label} (${plural(n, 'phone')}).`;
  return `${plural(here.length, 'override')} set for ${t.label} (${plural(n, 'phone')}):\n${table(
    ['key', 'value', 'set'],
    here.map((r) => [r.key, r.secret ? MASK : r.value, `${ago(r.setAt)} by ${r.setBy}${r.forced ? ' (forced)' : ''}`]),
  )}`;
}
