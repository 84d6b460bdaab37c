// Where an override command (`provision set|unset|overrides|diff`) applies: the scope its arguments name
// (model=, room= [model=], mac=, ext=, or a bare MAC or extension), the driver of that scope, the phones it covers.
import type { Args, NamedSpec } from '../core/command.js';
import type { CommandContext } from '../app-types.js';
import { UserError, UsageError } from '../core/command.js';
import { parseLine } from '../core/parser.js';
import { fmtMac } from '../util/mac.js';
import type { PhoneDriver } from '../../drivers/phones/contract.js';
import { macKey } from './served-index.js';
import { applies, roomTarget, type Scope } from './overrides.js';
import type { PhoneRecord, ProvisionService } from './service.js';

const svc = (ctx: CommandContext): ProvisionService => ctx.app.services.provision;

export const SCOPE_ARGS: Record<string, NamedSpec> = {
  model: { type: 'string', description: 'every phone of a model (id or alias, see provision models)' },
  room: { type: 'string', description: "a room's phones of one model (add model= when the room holds several)" },
  mac: { type: 'string', description: 'one phone by MAC' },
  ext: { type: 'string', description: 'one phone by extension' },
};
export const SCOPE_USAGE = 'model=<model> | room=<room> [model=<model>] | mac=<mac> | ext=<ext> | <mac|ext>';

/** Where a command's overrides go: the scope, its driver, and how to name it in replies. */
export interface OverrideTarget {
  scope: Scope;
  driver: PhoneDriver;
  label: string;
  /** The phone, for a phone scope. */
  phone?: PhoneRecord;
}

export function driverOf(ctx: CommandContext, name: string): PhoneDriver {
  const d = svc(ctx).drivers.find(name);
  if (!d) throw new UsageError(`unknown model "${name}"; known: ${svc(ctx).drivers.names()}`);
  return d;
}

/** Stored phones, served or set aside as unreadable. */
export function storedPhones(ctx: CommandContext): PhoneRecord[] {
  return [
    ...svc(ctx).all(),
    ...svc(ctx)
      .unreadablePhones()
      .map((u) => u.rec),
  ];
}

export function onePhone(ctx: CommandContext, key: string, how: 'mac' | 'ext' | 'either'): PhoneRecord {
  const s = svc(ctx);
  if (how === 'mac' && !macKey(key)) throw new UsageError(`mac=${key}: not a MAC address`);
  const hex = how === 'ext' ? null : macKey(key);
  const found = storedPhones(ctx).filter((p) => (hex ? p.mac === hex : p.extension === key));
  if (!found.length) throw new UserError(`No provisioned phone with ${hex ? 'MAC' : how === 'ext' ? 'extension' : 'MAC or extension'} "${key}".`);
  if (found.length > 1) throw new UserError(`Extension ${key} is on ${found.length} phones (${found.map((p) => `${fmtMac(p.mac)} ${s.label(p)}`).join(', ')}); name one with mac=…`);
  return found[0]!;
}

export const phoneLabel = (s: ProvisionService, p: PhoneRecord) => `${s.label(p)} ${fmtMac(p.mac)} (ext ${p.extension})`;

/**
 * The scope the arguments name, and the words left after it. A bare first word is a MAC or extension only
 * when no scope is named with model=, room=, mac= or ext=.
 */
export function targetOf(ctx: CommandContext, args: Args, words: string[]): { target: OverrideTarget; rest: string[] } {
  const s = svc(ctx);
  const named = (k: string) => (args[k] === undefined ? undefined : String(args[k]));
  const [model, room, mac, ext] = ['model', 'room', 'mac', 'ext'].map(named);
  const bare = !model && !room && !mac && !ext && words[0] !== undefined && !words[0].includes('=') ? words[0] : undefined;
  const rest = bare === undefined ? words : words.slice(1);
  const phoneKeys = [mac, ext, bare].filter((x) => x !== undefined);
  if (phoneKeys.length > 1 || (phoneKeys.length && room !== undefined)) throw new UsageError(`name one scope: ${SCOPE_USAGE}`);
  if (phoneKeys.length) {
    const p = onePhone(ctx, phoneKeys[0]!, mac !== undefined ? 'mac' : ext !== undefined ? 'ext' : 'either');
    const driver = s.drivers.get(p.model);
    if (!driver) throw new UserError(`${fmtMac(p.mac)} is a ${p.model} phone, and that driver is no longer installed.`);
    if (model !== undefined && driverOf(ctx, model) !== driver) throw new UsageError(`${fmtMac(p.mac)} is a ${driver.label}, not a ${driverOf(ctx, model).label}; leave model= out for one phone`);
    return { target: { scope: { model: driver.id, kind: 'phone', target: p.mac }, driver, label: phoneLabel(s, p), phone: p }, rest };
  }
  if (room !== undefined) {
    const r = roomTarget(room);
    if (!r) throw new UsageError('room= needs a room name');
    let driver = model !== undefined ? driverOf(ctx, model) : undefined;
    if (!driver) {
      const models = [
        ...new Set(
          storedPhones(ctx)
            .filter((p) => roomTarget(p.room) === r)
            .map((p) => p.model),
        ),
      ];
      if (!models.length) throw new UserError(`No phone is in room "${room}" yet; name the model too (room=${room} model=<model>) to set overrides for its phones to come.`);
      if (models.length > 1) throw new UserError(`Room "${room}" holds phones of ${models.length} models (${models.join(', ')}); keys belong to one model: add model=<one of them>.`);
      driver = s.drivers.get(models[0]!);
      if (!driver) throw new UserError(`Room "${room}" holds ${models[0]} phones, and that driver is no longer installed.`);
    }
    return { target: { scope: { model: driver.id, kind: 'room', target: r }, driver, label: `${driver.label} phones in room ${r} (room=${r} model=${driver.id})` }, rest };
  }
  if (model !== undefined) {
    const driver = driverOf(ctx, model);
    return { target: { scope: { model: driver.id, kind: 'model', target: '' }, driver, label: `every ${driver.label} phone (model=${driver.id})` }, rest };
  }
  throw new UsageError(`name the scope: ${SCOPE_USAGE}`);
}

/** Stored phones a scope covers. */
export const covered = (ctx: CommandContext, scope: Scope) => storedPhones(ctx).filter((p) => applies(scope, p));

/** The words of a command that are not its scope: positional words, then key=value pairs the parser took as named. */
export function wordsOf(ctx: CommandContext, args: Args): string[] {
  const line = parseLine(ctx.incoming.text.trim().replace(/^\//, ''));
  const pairs = Object.entries(line.multi)
    .filter(([k]) => !(k in SCOPE_ARGS))
    .flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`));
  return [...((args.words as string[] | undefined) ?? []), ...pairs];
}
