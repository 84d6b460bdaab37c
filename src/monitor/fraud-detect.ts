// Why a stored CDR call is suspicious (fraud.ts groups and alerts on the reasons): Wangiri bursts and callbacks,
// the call's prefix rule and its thresholds, off-hours, burst.
import type { DB } from '../store/db.js';
import { inBusinessHours, isForeign } from './fraud-rules.js';
import { span, type BusinessHours, type FraudConfig } from './types.js';

const HOUR = 3_600_000;

export interface Reason {
  group: string;
  status: number;
  /** Why this call (listed beside it). */
  text: string;
}

export type Rule = { id: number; prefix: string; kind: string; note: string | null; cpm: number | null; concurrent: number | null; total_seconds: number | null; sequential: number | null };
export type CallRow = {
  id: number;
  at: number;
  src: string | null;
  dst: string;
  duration: number | null;
  disposition: string | null;
  direction: string | null;
  peer: string | null;
  flagged: string | null;
};

/** The reasons a stored call is suspicious, most specific group first. */
export async function suspicionReasons(db: DB, f: FraudConfig, zone: string, nodeId: number, c: CallRow, rules: Rule[], hours: BusinessHours): Promise<Reason[]> {
  const out: Reason[] = [];
  const foreignPrefix = c.peer && isForeign(c.peer, f.internationalPrefix, f.homeCountryCode) ? c.peer.slice(0, f.wangiri.prefixDigits) : null;
  if (c.direction === 'in') {
    if (!foreignPrefix || (c.duration ?? 0) > f.wangiri.maxSeconds) return out;
    const burst = await shortForeignCalls(db, f, nodeId, foreignPrefix, c.at);
    if (burst.length >= f.wangiri.minCalls) out.push({ group: `wangiri:${foreignPrefix}`, status: 1, text: `${burst.length} short calls from ${foreignPrefix}… within ${span(f.wangiri.windowMs)}` });
    return out;
  }
  if (c.direction !== 'out' || !c.peer) return out;
  const q = () => db.selectFrom('mon_cdr_calls').where('node_id', '=', nodeId).where('direction', '=', 'out');
  if (foreignPrefix) {
    const seen = await db
      .selectFrom('mon_cdr_calls')
      .select('id')
      .where('node_id', '=', nodeId)
      .where('direction', '=', 'in')
      .where('fraud_group', '=', `wangiri:${foreignPrefix}`)
      .where('at', '>=', c.at - f.wangiri.callbackMs)
      .where('at', '<=', c.at)
      .executeTakeFirst();
    if (seen) out.push({ group: `wangiri:${foreignPrefix}`, status: 2, text: `callback to ${foreignPrefix}… after a Wangiri burst from it` });
  }
  const rule = rules.find((r) => c.peer!.startsWith(r.prefix));
  if (rule) {
    const add = (text: string) => out.push({ group: `rule:${rule.id}`, status: 2, text });
    if (rule.kind !== 'limit') add(`${rule.kind} prefix ${rule.prefix}${rule.note ? ` (${rule.note})` : ''}`);
    const toPrefix = () => q().where('peer', 'like', `${rule.prefix}%`);
    if (rule.cpm) {
      const n = Number(
        (
          await toPrefix()
            .where('at', '>', c.at - 60_000)
            .where('at', '<=', c.at)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirst()
        )?.n ?? 0,
      );
      if (n > rule.cpm) add(`${n} calls to ${rule.prefix}… within a minute (limit ${rule.cpm})`);
    }
    if (rule.concurrent) {
      const end = c.at + (c.duration ?? 0) * 1000;
      const rows = await toPrefix()
        .where('at', '<=', end)
        .where('at', '>=', c.at - 6 * HOUR)
        .select(['at', 'duration'])
        .limit(2000)
        .execute();
      const n = maxConcurrent(rows, c.at, end);
      if (n > rule.concurrent) add(`${n} concurrent calls to ${rule.prefix}… (limit ${rule.concurrent})`);
    }
    if (rule.total_seconds) {
      const s = Number(
        (
          await toPrefix()
            .where('at', '>', c.at - HOUR)
            .where('at', '<=', c.at)
            .select((eb) => eb.fn.sum<number>('duration').as('s'))
            .executeTakeFirst()
        )?.s ?? 0,
      );
      if (s > rule.total_seconds) add(`${span(s * 1000)} of calls to ${rule.prefix}… within an hour (limit ${span(rule.total_seconds * 1000)})`);
    }
    if (rule.sequential) {
      const last = await q()
        .where('at', '<=', c.at)
        .select(['peer'])
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(rule.sequential + 1)
        .execute();
      const run = last.findIndex((r) => !(r.peer ?? '').startsWith(rule.prefix));
      const n = run < 0 ? last.length : run;
      if (n > rule.sequential) add(`${n} calls in a row to ${rule.prefix}… (limit ${rule.sequential})`);
    }
  }
  if (!inBusinessHours(c.at, hours, zone)) out.push({ group: 'offhours', status: 2, text: 'outside business hours' });
  const n = Number(
    (
      await q()
        .where('at', '>', c.at - HOUR)
        .where('at', '<=', c.at)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst()
    )?.n ?? 0,
  );
  if (n > f.burstPerHour) out.push({ group: 'burst', status: 2, text: `${n} outbound calls within an hour (limit ${f.burstPerHour})` });
  return out;
}

/** Short inbound calls from a foreign prefix within the Wangiri window before `at`. */
export async function shortForeignCalls(db: DB, f: FraudConfig, nodeId: number, prefix: string, at: number) {
  return db
    .selectFrom('mon_cdr_calls')
    .select(['id', 'alert_id'])
    .where('node_id', '=', nodeId)
    .where('direction', '=', 'in')
    .where('peer', 'like', `${prefix}%`)
    .where((eb) => eb.or([eb('duration', 'is', null), eb('duration', '<=', f.wangiri.maxSeconds)]))
    .where('at', '>', at - f.wangiri.windowMs)
    .where('at', '<=', at)
    .limit(500)
    .execute();
}

/** The most calls up at once within [from, to] (a sweep over starts and ends). */
export function maxConcurrent(rows: { at: number; duration: number | null }[], from: number, to: number): number {
  const ev: [number, number][] = [];
  for (const r of rows) {
    const s = Math.max(r.at, from);
    const e = Math.min(r.at + (r.duration ?? 0) * 1000, to);
    if (e < s) continue;
    ev.push([s, 1], [e, -1]);
  }
  ev.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of ev) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}
