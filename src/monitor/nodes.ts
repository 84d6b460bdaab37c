// Nodes: enrolment, token authentication, last-seen and facts, the node's clock (a "clock skew" alert),
// staleness, enable/disable/remove, and the node views behind `monitor nodes` / `monitor node`.
//
// Node-wide flags other processes must agree on (stale, clock_bad) live in the node row and flip with
// conditional UPDATEs: the process whose UPDATE changed the row opens or resolves the alert, once.
import crypto from 'node:crypto';
import type { App } from '../app-types.js';
import { UserError } from '../core/command.js';
import { registerSecret } from '../secrets.js';
import { BatchLoader } from '../store/batch-loader.js';
import { now, insertedId, affected, type DB } from '../store/db.js';
import type { Alerts } from './alerts.js';
import { sha256, type Sensors } from './sensors.js';
import { span, type MonitorConfig, type NodeRow } from './types.js';
import { writeTransaction } from '../store/conflict-retry.js';

/** How long a token's node row is reused before the store is asked again (other processes' changes show within it). */
const AUTH_CACHE_MS = 1000;

export class Nodes {
  private lastTouch = new Map<number, number>();
  private lastFacts = new Map<number, string>();
  /** Token hash → node row, for AUTH_CACHE_MS; cleared at once by this process's own node changes. */
  private authCache = new Map<string, { node: NodeRow | null; at: number }>();
  /** Token lookups of one event-loop turn in one query. */
  private byToken = new BatchLoader<string, NodeRow & { token_hash: string | null }>(
    (hashes) => this.db.selectFrom('mon_nodes').select(['id', 'name', 'enabled', 'stale', 'last_seen', 'clock_bad', 'role', 'token_hash']).where('token_hash', 'in', hashes).execute(),
    (n) => n.token_hash ?? '',
  );

  constructor(
    private app: App,
    private cfg: MonitorConfig,
    private alerts: Alerts,
    private sensors: Sensors,
  ) {}

  private get db(): DB {
    return this.app.db;
  }

  async get(name: string) {
    const n = await this.db.selectFrom('mon_nodes').selectAll().where('name', '=', name).executeTakeFirst();
    if (!n) throw new UserError(`no node named ${name} (see monitor nodes)`, 'SB_NOT_FOUND');
    return n;
  }

  async all() {
    return this.db.selectFrom('mon_nodes').select(['id', 'name']).orderBy('name').execute();
  }

  async createEnrollment(name: string, existing = false, role?: { role: 'monitor' | 'apply'; applyTargets: string | null }): Promise<{ code: string; nodeId: number; expires: number }> {
    const code = crypto.randomBytes(9).toString('base64url');
    const expires = now() + this.cfg.enrollHours * 3_600_000;
    registerSecret(code);
    if (existing) {
      const n = await this.get(name);
      await this.db
        .updateTable('mon_nodes')
        .set({ enroll_hash: sha256(code), enroll_expires: expires, token_hash: null })
        .where('id', '=', n.id)
        .execute();
      this.sensors.invalidate();
      this.forgetCachedNodes();
      return { code, nodeId: n.id, expires };
    }
    if (await this.db.selectFrom('mon_nodes').select('id').where('name', '=', name).executeTakeFirst())
      throw new UserError(`node ${name} exists; use monitor token rotate ${name} for a new code`, 'SB_ALREADY_EXISTS');
    const r = await this.db
      .insertInto('mon_nodes')
      .values({
        name,
        token_hash: null,
        enroll_hash: sha256(code),
        enroll_expires: expires,
        enabled: 1,
        last_seen: null,
        facts: null,
        stale: 0,
        created_at: now(),
        clock_skew: null,
        business_hours: null,
        ...(role ? { role: role.role, apply_targets: role.applyTargets } : {}),
      })
      .executeTakeFirstOrThrow();
    return { code, nodeId: insertedId(r), expires };
  }

  async enroll(code: string): Promise<{ nodeId: number; node: string; token: string } | null> {
    const n = await this.db.selectFrom('mon_nodes').select(['id', 'name', 'enroll_expires']).where('enroll_hash', '=', sha256(code)).executeTakeFirst();
    if (!n || (n.enroll_expires ?? 0) < now()) return null;
    const token = crypto.randomBytes(32).toString('base64url');
    registerSecret(token);
    // Consume the code with a conditional UPDATE: of two concurrent requests with one code only one changes
    // the row; the other gets "unknown, used or expired".
    const upd = await this.db
      .updateTable('mon_nodes')
      .set({ token_hash: sha256(token), enroll_hash: null, enroll_expires: null, last_seen: now() })
      .where('id', '=', n.id)
      .where('enroll_hash', '=', sha256(code))
      .where('enroll_expires', '>=', now())
      .executeTakeFirst();
    if (affected(upd) !== 1) return null;
    this.forgetCachedNodes();
    return { nodeId: n.id, node: n.name, token };
  }

  /**
   * The node a bearer token belongs to (disabled ones too: the caller answers 403 for those), or null. The
   * row is reused for up to a second (a busy agent posts many times a second; the lookup was a query per
   * post), so a token rotated, a node disabled or removed by another process is refused within a second;
   * by this process, at once.
   */
  async authenticate(header: string | undefined): Promise<NodeRow | null> {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) return null;
    const hash = sha256(m[1]!);
    const t = now();
    const hit = this.authCache.get(hash);
    if (hit && t - hit.at < AUTH_CACHE_MS) return hit.node;
    const n = (await this.byToken.load(hash)) ?? null;
    if (this.authCache.size > 10_000) this.authCache.clear();
    this.authCache.set(hash, { node: n, at: t });
    return n;
  }

  /** Forget cached node rows (after this process changed a node). */
  forgetCachedNodes(): void {
    this.authCache.clear();
  }

  /**
   * The node was heard from: last_seen (unless `lastSeenWritten`: stored results write it in their own
   * transaction), facts when they changed, and a stale node is fresh again (its alert resolved, once).
   */
  async touch(node: NodeRow, facts?: unknown, opts: { lastSeenWritten?: boolean } = {}): Promise<void> {
    const t = now();
    // last_seen with 1 s resolution is plenty for staleness; skip the write under heavy ingestion.
    // Facts are written whenever they change.
    const prev = opts.lastSeenWritten ? t : (this.lastTouch.get(node.id) ?? 0);
    const f = facts ? JSON.stringify(facts) : undefined;
    const newFacts = f !== undefined && f !== this.lastFacts.get(node.id);
    if (!node.stale && !newFacts && t - prev < 1000) return;
    this.lastTouch.set(node.id, t);
    if (newFacts) this.lastFacts.set(node.id, f);
    await this.db
      .updateTable('mon_nodes')
      .set(newFacts ? { last_seen: t, facts: f } : { last_seen: t })
      .where('id', '=', node.id)
      .execute();
    if (node.stale) {
      const upd = await this.db.updateTable('mon_nodes').set({ stale: 0 }).where('id', '=', node.id).where('stale', '=', 1).executeTakeFirst();
      node.stale = 0; // the cached row too: fresh now, whoever flipped the flag
      if (affected(upd) === 1) await this.alerts.resolveNode(node.id, `RESOLVED: node ${node.name} is reporting again`, 'stale');
    }
  }

  /**
   * The node's clock against the bot's, from the post's `clock` field (the agent's time when it posted) or,
   * without one, from its results: a result stamped beyond the allowed skew says the clock is ahead; a
   * result stamped within it says it is right (older results are replays and say nothing). Off by more than
   * `maxFutureSkewMs` opens a "clock skew" alert on the node; right again resolves it.
   */
  async observeClock(node: NodeRow, ev: { clock?: number; results?: { at: number }[] }): Promise<void> {
    const t = now();
    const limit = this.cfg.maxFutureSkewMs;
    let skew: number | undefined;
    if (typeof ev.clock === 'number') skew = ev.clock - t;
    else if (ev.results?.length) {
      const newest = Math.max(...ev.results.map((r) => r.at));
      if (newest >= t - limit) skew = newest - t;
    }
    if (skew === undefined) return;
    const bad = Math.abs(skew) > limit;
    const was = node.clock_bad;
    node.clock_bad = bad ? 1 : 0; // this request's view (the store's flag flips below, once)
    if (!!was === bad) return;
    if (bad) {
      const upd = await this.db.updateTable('mon_nodes').set({ clock_bad: 1, clock_skew: skew }).where('id', '=', node.id).where('clock_bad', '=', 0).executeTakeFirst();
      if (affected(upd) !== 1) return;
      const ahead = skew > 0;
      const summary = `CLOCK SKEW ${node.name}: its clock is ${span(skew)} ${ahead ? 'ahead of' : 'behind'} the bot's (allowed ${span(limit)}); ${ahead ? 'results stamped in the future are refused until it is right' : 'its results are stamped in the past'}. Check NTP on the PBX (timedatectl).`;
      await this.alerts.open({ nodeId: node.id, kind: 'clock', status: ahead ? 2 : 1, summary, openKey: `clock:${node.id}`, immediate: true });
      this.app.log.warn({ node: node.name, skewMs: skew }, 'node clock is off');
    } else {
      const upd = await this.db.updateTable('mon_nodes').set({ clock_bad: 0, clock_skew: skew }).where('id', '=', node.id).where('clock_bad', '=', 1).executeTakeFirst();
      if (affected(upd) === 1) await this.alerts.resolveNode(node.id, `RESOLVED: the clock of ${node.name} is right again (off by ${span(skew)})`, 'clock');
    }
  }

  /** Enabled nodes not heard from within their freshness limit get a stale alert (once: stale 0 → 1). */
  async checkStale(): Promise<void> {
    const t = now();
    const nodes = await this.db.selectFrom('mon_nodes').select(['id', 'name', 'last_seen']).where('enabled', '=', 1).where('stale', '=', 0).where('token_hash', 'is not', null).execute();
    for (const n of nodes) {
      const row = await this.db
        .selectFrom('mon_node_sensors as ns')
        .innerJoin('mon_sensors as s', 's.id', 'ns.sensor_id')
        .select((eb) => eb.fn.min('s.interval_ms').as('min'))
        .where('ns.node_id', '=', n.id)
        .executeTakeFirst();
      const min = Number(row?.min ?? 0);
      if (!min || !n.last_seen) continue;
      const limit = this.cfg.freshnessMs ?? 3 * min;
      if (t - n.last_seen <= limit) continue;
      const upd = await this.db.updateTable('mon_nodes').set({ stale: 1 }).where('id', '=', n.id).where('stale', '=', 0).executeTakeFirst();
      if (affected(upd) === 1) this.forgetCachedNodes();
      if (affected(upd) === 1)
        await this.alerts.open({
          nodeId: n.id,
          kind: 'stale',
          status: 2,
          summary: `STALE ${n.name}: no report for ${Math.round((t - n.last_seen) / 1000)}s (limit ${Math.round(limit / 1000)}s)`,
          openKey: `stale:${n.id}`,
          immediate: true,
        });
    }
  }

  /**
   * Disable a node (or prepare its removal): its open alerts are resolved, with a message for those posted,
   * and its sensor states are forgotten, so a sensor still failing when the node is enabled again opens a
   * new alert after its `attempts` (a remembered hard CRITICAL would bring no transition).
   */
  async closeNodeAlerts(nodeId: number, why: string): Promise<number> {
    this.alerts.dropPending(nodeId);
    const node = await this.db.selectFrom('mon_nodes').select('name').where('id', '=', nodeId).executeTakeFirst();
    const n = await this.alerts.resolveNode(nodeId, `RESOLVED: node ${node?.name ?? nodeId} ${why}`);
    await this.resetSensorStates(nodeId);
    return n;
  }

  /** Forget a node's sensor states (soft/hard, attempts, flapping): its next results start afresh. */
  async resetSensorStates(nodeId: number): Promise<void> {
    await this.db.deleteFrom('mon_sensor_state').where('node_id', '=', nodeId).execute();
  }

  /** Enable or disable; returns the node and how many open alerts disabling resolved. */
  async setEnabled(name: string, enabled: boolean): Promise<{ name: string; closed: number }> {
    const n = await this.get(name);
    await this.db
      .updateTable('mon_nodes')
      .set({ enabled: enabled ? 1 : 0, stale: 0, clock_bad: 0 })
      .where('id', '=', n.id)
      .execute();
    this.forgetCachedNodes();
    if (enabled) {
      // Its states were forgotten when it was disabled; a node disabled by an older release still has
      // them, and a sensor remembered hard CRITICAL (its alert resolved) would never alert again.
      if (!n.enabled) await this.resetSensorStates(n.id);
      return { name: n.name, closed: 0 };
    }
    // A disabled node sends nothing, so its open alerts could never resolve: close them now.
    return { name: n.name, closed: await this.closeNodeAlerts(n.id, 'disabled') };
  }

  async remove(name: string): Promise<string> {
    const n = await this.get(name);
    await this.closeNodeAlerts(n.id, 'removed');
    await writeTransaction(this.db, async (trx) => {
      for (const t of ['mon_node_sensors', 'mon_records', 'mon_seen', 'mon_sensor_state', 'mon_alerts', 'mon_silences', 'mon_cdr_calls'] as const)
        await trx.deleteFrom(t).where('node_id', '=', n.id).execute();
      await trx.deleteFrom('mon_nodes').where('id', '=', n.id).execute();
    });
    this.sensors.invalidate();
    this.forgetCachedNodes();
    return n.name;
  }

  /** Every node with its worst hard state and sensor count. */
  async overview() {
    const nodes = await this.db.selectFrom('mon_nodes').selectAll().orderBy('name').execute();
    const states = await this.db.selectFrom('mon_sensor_state').select(['node_id', 'hard_status']).execute();
    return nodes.map((n) => {
      const mine = states.filter((s) => s.node_id === n.id);
      const worst = Math.max(0, ...mine.map((s) => (s.hard_status === 3 ? 1.5 : s.hard_status)));
      const state = !n.enabled ? 'disabled' : !n.token_hash ? 'not enrolled' : n.stale ? 'STALE' : worst === 0 ? 'OK' : worst === 1.5 ? 'UNKNOWN' : worst === 1 ? 'WARNING' : 'CRITICAL';
      return { node: n, facts: parseFacts(n.facts), state: n.clock_bad && n.enabled ? `${state}, CLOCK` : state, sensors: mine.length };
    });
  }

  /** One node with its sensors' states. */
  async detail(name: string) {
    const n = await this.get(name);
    const rows = await this.db
      .selectFrom('mon_node_sensors as ns')
      .innerJoin('mon_sensors as s', 's.id', 'ns.sensor_id')
      .leftJoin('mon_sensor_state as st', (j) => j.onRef('st.node_id', '=', 'ns.node_id').onRef('st.sensor_id', '=', 'ns.sensor_id'))
      .select(['s.name', 's.kind', 'st.status', 'st.hard_status', 'st.attempt', 's.attempts', 'st.output', 'st.at', 'st.flapping'])
      .where('ns.node_id', '=', n.id)
      .orderBy('s.name')
      .execute();
    return { node: n, facts: parseFacts(n.facts), sensors: rows };
  }
}

export function parseFacts(f: string | null): Record<string, string> {
  if (!f) return {};
  try {
    const o = JSON.parse(f) as unknown;
    return o && typeof o === 'object' ? (o as Record<string, string>) : {};
  } catch {
    return {};
  }
}
