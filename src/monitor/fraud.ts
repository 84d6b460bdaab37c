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
// Why a call is suspicious: fraud-detect.ts; a group's chat message: fraud-message.ts.
import type { App } from '../app-types.js';
import { UserError } from '../core/command.js';
import { now, isUniqueViolation, insertedId, type DB } from '../store/db.js';
import type { Alerts } from './alerts.js';
import { shortForeignCalls, suspicionReasons, type CallRow, type Reason } from './fraud-detect.js';
import { FraudMessages } from './fraud-message.js';
import { directionOf, formatHours, normalizeNumber, parseHours, serializeHours } from './fraud-rules.js';
import { span, type BusinessHours, type CallIn, type MonitorConfig, type NodeRow } from './types.js';

export { maxConcurrent } from './fraud-detect.js';

/** Calls listed in a group's chat message (the resolve message lists up to LIST_MAX). */
const LIST_SHOWN = 12;
const LIST_MAX = 50;

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
  private messages: FraudMessages;

  constructor(
    private app: App,
    private cfg: MonitorConfig,
    private alerts: Alerts,
    private zone: string,
  ) {
    this.messages = new FraudMessages(app, cfg, zone, (nodeId) => this.hoursOf(nodeId));
  }

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
        const r = await this.db
          .insertInto('mon_cdr_calls')
          .values({
            node_id: node.id,
            call_id: c.callId,
            at: c.at,
            src: c.src ?? null,
            dst: c.dst,
            duration: c.duration ?? null,
            disposition: c.disposition ?? null,
            raw: c.raw ?? null,
            flagged: null,
            direction,
            peer,
            fraud_group: null,
            alert_id: null,
          })
          .executeTakeFirstOrThrow();
        id = insertedId(r);
      } catch (e) {
        if (isUniqueViolation(e)) continue;
        throw e;
      }
      stored++;
      const row: CallRow = { id, at: c.at, src: c.src ?? null, dst: c.dst, duration: c.duration ?? null, disposition: c.disposition ?? null, direction, peer, flagged: null };
      const reasons = await suspicionReasons(this.db, this.f, this.zone, node.id, row, rules, hours);
      if (!reasons.length) continue;
      flagged++;
      const main = reasons[0]!;
      await this.db
        .updateTable('mon_cdr_calls')
        .set({
          flagged: reasons
            .map((r) => r.text)
            .join('; ')
            .slice(0, 255),
          fraud_group: main.group,
        })
        .where('id', '=', id)
        .execute();
      const g = groups.get(main.group) ?? groups.set(main.group, { status: 0, calls: [] }).get(main.group)!;
      g.status = Math.max(g.status, ...reasons.filter((r) => r.group === main.group).map((r) => r.status));
      g.calls.push({ id, reasons });
      // The calls of a Wangiri burst before the one that crossed the threshold belong to its group too.
      if (main.group.startsWith('wangiri:') && row.direction === 'in') {
        const earlier = (await shortForeignCalls(this.db, this.f, node.id, main.group.slice(8), row.at)).filter((e) => e.alert_id === null && e.id !== id && !g.calls.some((x) => x.id === e.id));
        if (earlier.length)
          await this.db
            .updateTable('mon_cdr_calls')
            .set({ flagged: 'short call from a foreign prefix (Wangiri burst)' })
            .where(
              'id',
              'in',
              earlier.map((e) => e.id),
            )
            .execute();
        for (const e of earlier) g.calls.push({ id: e.id, reasons: [] });
      }
    }
    for (const [group, g] of groups) await this.addToGroup(node, group, g);
    return { stored, flagged };
  }

  /** Add calls to the node's open alert of this group (one per group while open), or open it. */
  private async addToGroup(node: NodeRow, group: string, g: { status: number; calls: { id: number }[] }): Promise<void> {
    const openKey = `fraud:${node.id}:${group}`;
    const ids = g.calls.map((c) => c.id);
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.alerts.byKey(openKey);
      if (existing) {
        const upd = await this.db
          .updateTable('mon_alerts')
          .set((eb) => ({ calls: eb('calls', '+', ids.length), updated_at: now() }))
          .where('id', '=', existing.id)
          .where('resolved_at', 'is', null)
          .executeTakeFirst();
        if (!Number(upd.numUpdatedRows)) continue; // resolved meanwhile: open a new one
        await this.db.updateTable('mon_cdr_calls').set({ alert_id: existing.id, fraud_group: group }).where('id', 'in', ids).execute();
        await this.db.updateTable('mon_alerts').set({ status: g.status }).where('id', '=', existing.id).where('status', '<', g.status).execute();
        await this.refresh(existing.id);
        return;
      }
      const r = await this.alerts.open({
        nodeId: node.id,
        kind: 'fraud',
        status: g.status,
        summary: `TOLL FRAUD? ${node.name}: ${ids.length} suspicious call(s)`,
        openKey,
        calls: ids.length,
        defer: true,
      });
      if (!r.created) continue; // another process opened it just now: add to that one
      await this.db.updateTable('mon_cdr_calls').set({ alert_id: r.id, fraud_group: group }).where('id', 'in', ids).execute();
      // Rendered from the store: calls another process added meanwhile are in the first message too.
      const text = await this.messages.render(r.id, LIST_SHOWN);
      if (!text) return;
      await this.db.updateTable('mon_alerts').set({ summary: text.headline }).where('id', '=', r.id).execute();
      await this.db.updateTable('mon_alerts').set({ sent_count: text.count }).where('id', '=', r.id).where('sent_count', '<', text.count).execute();
      await this.alerts.postOne(r.id, text.full);
      return;
    }
    this.app.log.error({ node: node.name, group, calls: ids.length }, 'fraud group could not be updated (kept being resolved or opened concurrently)');
  }

  /** Re-render a group's message for its current count (edit in place, claimed by sent_count). */
  async refresh(id: number): Promise<void> {
    const text = await this.messages.render(id, LIST_SHOWN);
    if (!text) return;
    await this.db.updateTable('mon_alerts').set({ summary: text.headline }).where('id', '=', id).where('resolved_at', 'is', null).execute();
    await this.alerts.refresh(id, text.count, text.full, `${text.headline} (count now ${text.count})`);
  }

  /** Tick: resolve groups quiet for `quietMs`; re-send edits that lost a race or failed. */
  async tick(): Promise<void> {
    const t = now();
    const quiet = await this.db
      .selectFrom('mon_alerts')
      .select('id')
      .where('kind', '=', 'fraud')
      .where('resolved_at', 'is', null)
      .where('updated_at', '<', t - this.f.quietMs)
      .execute();
    for (const a of quiet) {
      const text = await this.messages.render(a.id, LIST_MAX);
      if (text) await this.alerts.resolve(a.id, `RESOLVED after ${span(this.f.quietMs)} without a further suspicious call: ${text.full}`);
    }
    const behind = await this.db
      .selectFrom('mon_alerts')
      .select('id')
      .where('kind', '=', 'fraud')
      .where('resolved_at', 'is', null)
      .where('notified', '=', 1)
      .whereRef('sent_count', '<', 'calls')
      .execute();
    for (const a of behind) await this.refresh(a.id);
  }

  // ---------- rules and business hours (chat commands) ----------
  async rules() {
    return this.db.selectFrom('mon_fraud_rules').selectAll().orderBy('prefix').execute();
  }

  async addRule(r: RuleInput): Promise<number> {
    if (r.kind === 'limit' && !r.cpm && !r.concurrent && !r.totalSeconds && !r.sequential) throw new UserError('a limit rule needs at least one of cpm=, concurrent=, duration=, sequential=');
    const res = await this.db
      .insertInto('mon_fraud_rules')
      .values({
        prefix: r.prefix,
        kind: r.kind,
        note: r.note,
        created_at: now(),
        cpm: r.cpm ?? null,
        concurrent: r.concurrent ?? null,
        total_seconds: r.totalSeconds ?? null,
        sequential: r.sequential ?? null,
      })
      .executeTakeFirstOrThrow();
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
    await this.db
      .updateTable('mon_nodes')
      .set({ business_hours: h ? serializeHours(h) : null })
      .where('id', '=', nodeId)
      .execute();
    return formatHours(h ?? this.defaultHours(), this.zone);
  }

  formatHours(h: BusinessHours): string {
    return formatHours(h, this.zone);
  }

  normalize(n: string): string {
    return normalizeNumber(n, this.f.internationalPrefix);
  }
}
