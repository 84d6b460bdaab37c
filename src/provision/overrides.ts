// Overrides: vendor keys set over the drivers' defaults per model, per room (of one model) or per phone, kept in
// `provision_overrides` (migration 0501). A phone gets the overrides of its model, then of its room, then its
// own (a narrower one of the same key wins), resolved here; the result travels in the phone's row (extra
// `_overrides`, secret values sealed) so that every replica renders a phone from its row alone, and the
// Renderer hands it to the driver's override style after `render`.
import type { Sealer } from '../store/sealer.js';
import type { DB } from '../store/db.js';
import { registerSecret } from '../secrets.js';
import type { Override, PhoneDriver } from '../../drivers/phones/contract.js';
import { looksSecret } from '../../drivers/phones/override-styles.js';

declare module '../store/db.js' {
  interface Tables {
    provision_overrides: {
      id: import('kysely').Generated<number>;
      model: string;
      scope: string;
      target: string;
      vendor_key: string;
      key_lc: string;
      value: string;
      secret: number;
      forced: number;
      set_by: string;
      set_at: number;
    };
  }
}

/** Key in a phone's stored extra values holding the overrides that apply to it. */
export const OVERRIDES_KEY = '_overrides';

export type ScopeKind = 'model' | 'room' | 'phone';
const ORDER: Record<ScopeKind, number> = { model: 0, room: 1, phone: 2 };

/** Where an override applies: every phone of a model, a model's phones in one room, or one phone (by MAC). */
export interface Scope {
  model: string;
  kind: ScopeKind;
  /** '' for a model, the room in lower case, or the phone's MAC (12 hex digits). */
  target: string;
}

export interface OverrideRow extends Scope {
  key: string;
  /** In clear (opened when stored sealed). */
  value: string;
  secret: boolean;
  forced: boolean;
  setBy: string;
  setAt: number;
}

/** An override as it applies to one phone: the value of its narrowest scope, and where that came from. */
export interface Applied extends Override {
  secret: boolean;
  from: Scope;
}

export const roomTarget = (room: string | null | undefined): string => (room ?? '').trim().toLowerCase();

export function sameScope(a: Scope, b: Scope): boolean {
  return a.model === b.model && a.kind === b.kind && a.target === b.target;
}

/** Whether an override of this scope applies to this phone. */
export function applies(s: Scope, phone: { mac: string; model: string; room?: string | null }): boolean {
  if (s.model !== phone.model) return false;
  if (s.kind === 'model') return true;
  if (s.kind === 'room') return s.target !== '' && s.target === roomTarget(phone.room);
  return s.target === phone.mac;
}

/**
 * The overrides of a phone in the order they are applied: model, then room, then phone (by key within one
 * scope); a key set at several scopes (compared ignoring case) appears once, with the narrowest value.
 */
export function resolveFor(rows: OverrideRow[], phone: { mac: string; model: string; room?: string | null }): Applied[] {
  const mine = rows.filter((r) => applies(r, phone)).sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || a.key.toLowerCase().localeCompare(b.key.toLowerCase()));
  const out = new Map<string, Applied>();
  // A narrower scope keeps the place of the wider one's key (Map order) and wins the value.
  for (const r of mine) out.set(r.key.toLowerCase(), { key: r.key, value: r.value, secret: r.secret, from: { model: r.model, kind: r.kind, target: r.target } });
  return [...out.values()];
}

/** A phone's overrides as stored in its extra values: JSON of [key, value or sealed value, 1 when sealed]. */
export function packOverrides(list: Applied[], sealer: Sealer): string {
  return JSON.stringify(list.map((o) => (o.secret ? [o.key, sealer.seal(o.value), 1] : [o.key, o.value])));
}

/** The overrides a phone's row carries, opened (secret values registered with the scrubber). */
export function unpackOverrides(packed: string | undefined, sealer: Sealer): (Override & { secret: boolean })[] {
  if (!packed) return [];
  const list = JSON.parse(packed) as [string, string, 1?][];
  return list.map(([key, v, sealed]) => {
    if (!sealed) return { key, value: v, secret: false };
    const value = sealer.open(v);
    registerSecret(value);
    return { key, value, secret: true };
  });
}

/** A phone's extra values with these overrides (the key removed when there are none). */
export function withOverrides(extra: Record<string, string>, list: Applied[], sealer: Sealer): Record<string, string> {
  const { [OVERRIDES_KEY]: _old, ...rest } = extra;
  return list.length ? { ...rest, [OVERRIDES_KEY]: packOverrides(list, sealer) } : rest;
}

/** Whether a row's packed overrides are these (values compared opened: sealing is randomised). */
export function sameOverrides(packed: string | undefined, list: Applied[], sealer: Sealer): boolean {
  const have = unpackOverrides(packed, sealer);
  return have.length === list.length && have.every((o, i) => o.key === list[i]!.key && o.value === list[i]!.value && o.secret === list[i]!.secret);
}

/** Whether a value of this key of this driver is to be treated as a password. */
export function isSecretKey(driver: PhoneDriver, key: string): boolean {
  return looksSecret(key) || !!driver.overrides?.secret(key);
}

/** The overrides table. Reads open sealed values; writes run in the caller's transaction. */
export class OverrideStore {
  constructor(private sealer: Sealer) {}

  async all(db: DB): Promise<OverrideRow[]> {
    const rows = await db.selectFrom('provision_overrides').selectAll().orderBy('id').execute();
    return rows.map((r) => {
      const secret = Number(r.secret) === 1;
      const value = secret ? this.sealer.open(r.value) : r.value;
      if (secret) registerSecret(value);
      return { model: r.model, kind: r.scope as ScopeKind, target: r.target, key: r.vendor_key, value, secret, forced: Number(r.forced) === 1, setBy: r.set_by, setAt: Number(r.set_at) };
    });
  }

  /** Sets (or replaces, whatever the case of its key) one override. */
  async set(db: DB, r: OverrideRow): Promise<void> {
    const lc = r.key.toLowerCase();
    await db.deleteFrom('provision_overrides').where('model', '=', r.model).where('scope', '=', r.kind).where('target', '=', r.target).where('key_lc', '=', lc).execute();
    await db
      .insertInto('provision_overrides')
      .values({
        model: r.model,
        scope: r.kind,
        target: r.target,
        vendor_key: r.key,
        key_lc: lc,
        value: r.secret ? this.sealer.seal(r.value) : r.value,
        secret: r.secret ? 1 : 0,
        forced: r.forced ? 1 : 0,
        set_by: r.setBy,
        set_at: r.setAt,
      })
      .execute();
  }

  /** Removes one override; true when there was one. */
  async unset(db: DB, s: Scope, key: string): Promise<boolean> {
    const r = await db
      .deleteFrom('provision_overrides')
      .where('model', '=', s.model)
      .where('scope', '=', s.kind)
      .where('target', '=', s.target)
      .where('key_lc', '=', key.toLowerCase())
      .executeTakeFirst();
    return Number(r.numDeletedRows ?? 0) > 0;
  }
}
