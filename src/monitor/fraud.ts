// Toll fraud on the CDRs agents post. Each stored call is checked against:
// - prefix rules: `premium` / `international` prefixes (every outbound call to them is suspicious), and
//   per-prefix thresholds in the spirit of OpenSIPS fraud_detection on any rule (also kind `limit`, which
//   only watches them): calls per minute, concurrent calls, total duration within an hour, calls in a row;
// - off-hours: an outbound call to an outside number outside the node's business hours;
// - burst: more than `burstPerHour` outbound calls to outside numbers within an hour (all calls count);
// - Wangiri: `minCalls` short inbound calls from one foreign prefix within `windowMs` (a WARNING), and a
//   callback to that prefix within `callbackMs` after it (CRITICAL).
// Suspicious calls are grouped: per node, one alert per group (the call's first reason: Wangiri, then its
// prefix rule, then off-hours, then burst) while calls keep coming. The alert lists the calls; a new call
// raises its count in place (the chat message is edited, or a short update posted), no new alert and no
// new e-mail. A group without a new call for `quietMs` is resolved (by whichever replica's tick sees it).
import { DateTime } from 'luxon';
import type { App } from '../app-types.js';
import { UserError } from '../core/command.js';
import { now, isUniqueViolation, insertedId, type DB } from '../store/db.js';
import type { Alerts } from './alerts.js';
import { directionOf, formatHours, inBusinessHours, isForeign, normalizeNumber, parseHours, serializeHours } from './fraud-rules.js';
import { span, type BusinessHours, type CallIn, type MonitorConfig, type NodeRow } from './types.js';

const HOUR = 3_600_000;
/** Calls listed in a group's chat message (the resolve message lists up to LIST_MAX). */
const LIST_SHOWN = 12;
const LIST_MAX = 50;

interface Reason {
  group: string;
  status: number;
  /** Why this call (listed beside it). */
  text: string;
}

type Rule = { id: number; prefix: string; kind: string; note: string | null; cpm: number | null; concurrent: number | null; total_seconds: number | null; sequential: number | null };
type CallRow = { id: number; at: number; src: string | null; dst: string; duration: number | null; disposition: string | null; direction: string | null; peer: string | null; flagged: string | null };

export interface RuleInput {
  prefix: string;
  kind: 'premium' | 'international' | 'limit';
  note: string | null;
  cpm?: number;
  concurrent?: number;
  totalSeconds?: number;
  sequential?: number;
}

export class Fraud {
  constructor(
    private app: App,
    private cfg: MonitorConfig,
    private alerts: Alerts,
    private zone: string,
  ) {}

  private get db(): DB {
    return this.app.db;
  }

  private get f() {
    return this.cfg.fraud;
  }

  async ingestCdr(node: NodeRow, calls: CallIn[]): Promise<{ stored: number; flagged: number }> {
    const rules = (await this.db.selectFrom('mon_fraud_rules').selectAll().execute()).sort((a, b) => b.prefix.length - a.prefix.length);
    const hours = await this.hoursOf(node.id);
    const groups = new Map<string, { status: number; calls: { id: number; reasons: Reason[] }[] }>();
    let stored = 0;
    let flagged = 0;
    for (const c of calls) {
      const { direction, peer } = directionOf(c, this.f.internationalPrefix);
      let id: number;
      try {
        const r = await this.db.insertInto('mon_cdr_calls').values({ node_id: node.id, call_id: c.callId, at: c.at, src: c.src ?? null, dst: c.dst, duration: c.duration ?? null, disposition: c.disposition ?? null, raw: c.raw ?? null, flagged: null, direction, peer, fraud_group: null, alert_id: null }).executeTakeFirstOrThrow();
        id = insertedId(r);
      } catch (e) {
        if (isUniqueViolation(e)) continue;
        throw e;
      }
      stored++;
      const row: CallRow = { id, at: c.at, src: c.src ?? null, dst: c.dst, duration: c.duration ?? null, disposition: c.disposition ?? null, direction, peer, flagged: null };
      const reasons = await this.check(node.id, row, rules, hours);
      if (!reasons.length) continue;
      flagged++;
      const main = reasons[0]!;
      await this.db.updateTable('mon_cdr_calls').set({ flagged: reasons.map((r) => r.text).join('; ').slice(0, 255), fraud_group: main.group }).where('id', '=', id).execute();
      const g = groups.get(main.group) ?? groups.set(main.group, { status: 0, calls: [] }).get(main.group)!;
      g.status = Math.max(g.status, ...reasons.filter((r) => r.group === main.group).map((r) => r.status));
      g.calls.push({ id, reasons });
      // The calls of a Wangiri burst before the one that crossed the threshold belong to its group too.
      if (main.group.startsWith('wangiri:') && row.direction === 'in') {
        const earlier = (await this.shortForeignCalls(node.id, main.group.slice(8), row.at)).filter((e) => e.alert_id === null && e.id !== id && !g.calls.some((x) => x.id === e.id));
        if (earlier.length) await this.db.updateTable('mon_cdr_calls').set({ flagged: 'short call from a foreign prefix (Wangiri burst)' }).where('id', 'in', earlier.map((e) => e.id)).execute();
        for (const e of earlier) g.calls.push({ id: e.id, reasons: [] });
      }
    }
    for (const [group, g] of groups) await this.addToGroup(node, group, g);
    return { stored, flagged };
  }

  /** The reasons a stored call is suspicious, most specific group first. */
  private async check(nodeId: number, c: CallRow, rules: Rule[], hours: BusinessHours): Promise<Reason[]> {
    const out: Reason[] = [];
    const f = this.f;
    const foreignPrefix = c.peer && isForeign(c.peer, f.internationalPrefix, f.homeCountryCode) ? c.peer.slice(0, f.wangiri.prefixDigits) : null;
    if (c.direction === 'in') {
      if (!foreignPrefix || (c.duration ?? 0) > f.wangiri.maxSeconds) return out;
      const burst = await this.shortForeignCalls(nodeId, foreignPrefix, c.at);
      if (burst.length >= f.wangiri.minCalls) out.push({ group: `wangiri:${foreignPrefix}`, status: 1, text: `${burst.length} short calls from ${foreignPrefix}… within ${span(f.wangiri.windowMs)}` });
      return out;
    }
    if (c.direction !== 'out' || !c.peer) return out;
    const q = () => this.db.selectFrom('mon_cdr_calls').where('node_id', '=', nodeId).where('direction', '=', 'out');
    if (foreignPrefix) {
      const seen = await this.db
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
        const n = Number((await toPrefix().where('at', '>', c.at - 60_000).where('at', '<=', c.at).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0);
        if (n > rule.cpm) add(`${n} calls to ${rule.prefix}… within a minute (limit ${rule.cpm})`);
      }
      if (rule.concurrent) {
        const end = c.at + (c.duration ?? 0) * 1000;
        const rows = await toPrefix().where('at', '<=', end).where('at', '>=', c.at - 6 * HOUR).select(['at', 'duration']).limit(2000).execute();
        const n = maxConcurrent(rows, c.at, end);
        if (n > rule.concurrent) add(`${n} concurrent calls to ${rule.prefix}… (limit ${rule.concurrent})`);
      }
      if (rule.total_seconds) {
        const s = Number((await toPrefix().where('at', '>', c.at - HOUR).where('at', '<=', c.at).select((eb) => eb.fn.sum<number>('duration').as('s')).executeTakeFirst())?.s ?? 0);
        if (s > rule.total_seconds) add(`${span(s * 1000)} of calls to ${rule.prefix}… within an hour (limit ${span(rule.total_seconds * 1000)})`);
      }
      if (rule.sequential) {
        const last = await q().where('at', '<=', c.at).select(['peer']).orderBy('at', 'desc').orderBy('id', 'desc').limit(rule.sequential + 1).execute();
        const run = last.findIndex((r) => !(r.peer ?? '').startsWith(rule.prefix));
        const n = run < 0 ? last.length : run;
        if (n > rule.sequential) add(`${n} calls in a row to ${rule.prefix}… (limit ${rule.sequential})`);
      }
    }
    if (!inBusinessHours(c.at, hours, this.zone)) out.push({ group: 'offhours', status: 2, text: 'outside business hours' });
    const n = Number((await q().where('at', '>', c.at - HOUR).where('at', '<=', c.at).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0);
    if (n > f.burstPerHour) out.push({ group: 'burst', status: 2, text: `${n} outbound calls within an hour (limit ${f.burstPerHour})` });
    return out;
  }

  /** Short inbound calls from a foreign prefix within the Wangiri window before `at`. */
  private async shortForeignCalls(nodeId: number, prefix: string, at: number) {
    return this.db
      .selectFrom('mon_cdr_calls')
      .select(['id', 'alert_id'])
      .where('node_id', '=', nodeId)
      .where('direction', '=', 'in')
      .where('peer', 'like', `${prefix}%`)
      .where((eb) => eb.or([eb('duration', 'is', null), eb('duration', '<=', this.f.wangiri.maxSeconds)]))
      .where('at', '>', at - this.f.wangiri.windowMs)
      .where('at', '<=', at)
      .limit(500)
      .execute();
  }

  /** Add calls to the node's open alert of this group (one per group while open), or open it. */
  private async addToGroup(node: NodeRow, group: string, g: { status: number; calls: { id: number }[] }): Promise<void> {
    const openKey = `fraud:${node.id}:${group}`;
    const ids = g.calls.map((c) => c.id);
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.alerts.byKey(openKey);
      if (existing) {
        const upd = await this.db.updateTable('mon_alerts').set((eb) => ({ calls: eb('calls', '+', ids.length), updated_at: now() })).where('id', '=', existing.id).where('resolved_at', 'is', null).executeTakeFirst();
        if (!Number(upd.numUpdatedRows)) continue; // resolved meanwhile: open a new one
        await this.db.updateTable('mon_cdr_calls').set({ alert_id: existing.id, fraud_group: group }).where('id', 'in', ids).execute();
        await this.db.updateTable('mon_alerts').set({ status: g.status }).where('id', '=', existing.id).where('status', '<', g.status).execute();
        await this.refresh(existing.id);
        return;
      }
      const r = await this.alerts.open({ nodeId: node.id, kind: 'fraud', status: g.status, summary: `TOLL FRAUD? ${node.name}: ${ids.length} suspicious call(s)`, openKey, calls: ids.length, defer: true });
      if (!r.created) continue; // another process opened it just now: add to that one
      await this.db.updateTable('mon_cdr_calls').set({ alert_id: r.id, fraud_group: group }).where('id', 'in', ids).execute();
      // Rendered from the store: calls another process added meanwhile are in the first message too.
      const text = await this.render(r.id, LIST_SHOWN);
      if (!text) return;
      await this.db.updateTable('mon_alerts').set({ summary: text.headline }).where('id', '=', r.id).execute();
      await this.db.updateTable('mon_alerts').set({ sent_count: text.count }).where('id', '=', r.id).where('sent_count', '<', text.count).execute();
      await this.alerts.postOne(r.id, text.full);
      return;
    }
    this.app.log.error({ node: node.name, group, calls: ids.length }, 'fraud group could not be updated (kept being resolved or opened concurrently)');
  }

  /** A group's message from the store: headline (count, title, time span) and its latest calls. */
  private async render(id: number, list: number): Promise<{ headline: string; full: string; count: number } | null> {
    const a = await this.db.selectFrom('mon_alerts as a').innerJoin('mon_nodes as n', 'n.id', 'a.node_id').select(['a.calls', 'a.open_key', 'a.node_id', 'n.name']).where('a.id', '=', id).executeTakeFirst();
    if (!a) return null;
    const title = a.open_key ? await this.groupTitle(a.node_id, groupOf(a.open_key)) : 'suspicious calls';
    return { ...this.renderCalls(a.name, title, a.calls, await this.callsOf(id, list), await this.rangeOf(id)), count: a.calls };
  }

  /** Re-render a group's message for its current count (edit in place, claimed by sent_count). */
  async refresh(id: number): Promise<void> {
    const text = await this.render(id, LIST_SHOWN);
    if (!text) return;
    await this.db.updateTable('mon_alerts').set({ summary: text.headline }).where('id', '=', id).where('resolved_at', 'is', null).execute();
    await this.alerts.refresh(id, text.count, text.full, `${text.headline} (count now ${text.count})`);
  }

  /** Tick: resolve groups quiet for `quietMs`; re-send edits that lost a race or failed. */
  async tick(): Promise<void> {
    const t = now();
    const quiet = await this.db.selectFrom('mon_alerts').select('id').where('kind', '=', 'fraud').where('resolved_at', 'is', null).where('updated_at', '<', t - this.f.quietMs).execute();
    for (const a of quiet) {
      const text = await this.render(a.id, LIST_MAX);
      if (text) await this.alerts.resolve(a.id, `RESOLVED after ${span(this.f.quietMs)} without a further suspicious call: ${text.full}`);
    }
    const behind = await this.db.selectFrom('mon_alerts').select('id').where('kind', '=', 'fraud').where('resolved_at', 'is', null).where('notified', '=', 1).whereRef('sent_count', '<', 'calls').execute();
    for (const a of behind) await this.refresh(a.id);
  }

  /** The latest `limit` calls of a group, oldest first. */
  private async callsOf(alertId: number, limit: number): Promise<CallRow[]> {
    const rows = await this.db.selectFrom('mon_cdr_calls').select(['id', 'at', 'src', 'dst', 'duration', 'disposition', 'direction', 'peer', 'flagged']).where('alert_id', '=', alertId).orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.reverse();
  }

  private async rangeOf(alertId: number): Promise<{ first: number; last: number } | undefined> {
    const r = await this.db.selectFrom('mon_cdr_calls').select((eb) => [eb.fn.min<number>('at').as('first'), eb.fn.max<number>('at').as('last')]).where('alert_id', '=', alertId).executeTakeFirst();
    return r?.first === null || r?.first === undefined ? undefined : { first: Number(r.first), last: Number(r.last) };
  }

  /** What a group is about (its alert's headline after the count). */
  private async groupTitle(nodeId: number, group: string): Promise<string> {
    if (group === 'offhours') return `calls outside business hours (${formatHours(await this.hoursOf(nodeId), this.zone)})`;
    if (group === 'burst') return `burst: more than ${this.f.burstPerHour} outbound calls within an hour`;
    if (group.startsWith('wangiri:')) return `Wangiri pattern: short calls from ${group.slice(8)}… (and callbacks to it)`;
    const rule = await this.db.selectFrom('mon_fraud_rules').selectAll().where('id', '=', Number(group.slice(5))).executeTakeFirst();
    if (!rule) return `prefix rule #${group.slice(5)} (removed)`;
    return `${rule.kind === 'limit' ? 'limits on prefix' : `${rule.kind} prefix`} ${rule.prefix}${rule.note ? ` (${rule.note})` : ''}`;
  }

  private time(at: number): string {
    return DateTime.fromMillis(at, { zone: this.zone }).toFormat('yyyy-MM-dd HH:mm:ss');
  }

  private renderCalls(node: string, title: string, count: number, rows: CallRow[], range?: { first: number; last: number }): { headline: string; full: string } {
    if (count === 1 && rows.length === 1) {
      const c = rows[0]!;
      const headline = `TOLL FRAUD? ${node}: call from ${c.src ?? '?'} to ${c.dst} at ${this.time(c.at)} ${this.zone} — ${c.flagged ?? title}`;
      return { headline, full: headline };
    }
    const first = range?.first ?? rows[0]?.at;
    const last = range?.last ?? rows[rows.length - 1]?.at;
    const to = last === undefined ? '' : this.time(last);
    const headline = `TOLL FRAUD? ${node}: ${count} suspicious calls — ${title}${first !== undefined ? ` (${this.time(first)} to ${to.slice(0, 10) === this.time(first).slice(0, 10) ? to.slice(11) : to} ${this.zone})` : ''}`;
    const lines = rows.map((c) => `• ${this.time(c.at).slice(5)} ${c.src ?? '?'} → ${c.dst}${c.duration !== null ? ` ${c.duration}s` : ''}${c.disposition ? ` ${c.disposition}` : ''}${c.flagged ? ` — ${c.flagged}` : ''}`);
    const more = count > rows.length ? `\n… and ${count - rows.length} earlier call(s)` : '';
    return { headline, full: `${headline}\n${lines.join('\n')}${more}` };
  }

  // ---------- rules and business hours (chat commands) ----------
  async rules() {
    return this.db.selectFrom('mon_fraud_rules').selectAll().orderBy('prefix').execute();
  }

  async addRule(r: RuleInput): Promise<number> {
    if (r.kind === 'limit' && !r.cpm && !r.concurrent && !r.totalSeconds && !r.sequential) throw new UserError('a limit rule needs at least one of cpm=, concurrent=, duration=, sequential=');
    const res = await this.db.insertInto('mon_fraud_rules').values({ prefix: r.prefix, kind: r.kind, note: r.note, created_at: now(), cpm: r.cpm ?? null, concurrent: r.concurrent ?? null, total_seconds: r.totalSeconds ?? null, sequential: r.sequential ?? null }).executeTakeFirstOrThrow();
    return insertedId(res);
  }

  async removeRule(id: number): Promise<void> {
    const r = await this.db.deleteFrom('mon_fraud_rules').where('id', '=', id).executeTakeFirst();
    if (!Number(r.numDeletedRows)) throw new UserError(`no fraud rule #${id}`, 'SB_NOT_FOUND');
  }

  defaultHours(): BusinessHours {
    return { ...this.f.businessHours, days: [...this.f.businessHours.days].sort() };
  }

  async hoursOf(nodeId: number): Promise<BusinessHours> {
    const n = await this.db.selectFrom('mon_nodes').select('business_hours').where('id', '=', nodeId).executeTakeFirst();
    if (!n?.business_hours) return this.defaultHours();
    try {
      return parseHours(n.business_hours);
    } catch {
      return this.defaultHours();
    }
  }

  /** Set a node's business hours (`default`: the configured ones). Returns them, formatted. */
  async setHours(nodeId: number, spec: string): Promise<string> {
    const h = spec.trim().toLowerCase() === 'default' ? null : parseHours(spec);
    await this.db.updateTable('mon_nodes').set({ business_hours: h ? serializeHours(h) : null }).where('id', '=', nodeId).execute();
    return formatHours(h ?? this.defaultHours(), this.zone);
  }

  formatHours(h: BusinessHours): string {
    return formatHours(h, this.zone);
  }

  normalize(n: string): string {
    return normalizeNumber(n, this.f.internationalPrefix);
  }
}

/** The group of an open fraud alert, from its open key `fraud:<node>:<group>`. */
const groupOf = (openKey: string): string => openKey.split(':').slice(2).join(':');

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
