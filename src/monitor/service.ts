// Monitoring service: nodes and enrolment, sensors, result ingestion (idempotent, one transaction per
// request), the soft/hard state machine, flapping, stale nodes, alerts (grouped, repeated, resolved) to
// chat and e-mail, silences, and toll-fraud checks on CDR records.
import { sqliteRowInserter } from '../store/bulk-insert.js';
import crypto from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import { sql } from 'kysely';
import type { App } from '../app-types.js';
import { now, insertedId, affected, type DB } from '../store/db.js';
import { registerSecret } from '../secrets.js';
import { UserError } from '../core/command.js';
import { STATUS, type MonitorConfig } from './types.js';

export const sha256 = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');

export interface ResultIn {
  id: string;
  sensorId: number;
  at: number;
  status: number;
  output: string;
  perfdata?: unknown[];
}

export interface CallIn {
  callId: string;
  at: number;
  src?: string;
  dst: string;
  duration?: number;
  disposition?: string;
  raw?: string;
}

type Node = DB extends never ? never : { id: number; name: string; enabled: number; stale: number; last_seen: number | null };

interface PendingAlert {
  id: number;
  text: string;
}

export interface RejectedResult {
  index: number;
  id: string;
  sensorId: number;
  reason: string;
}

export interface IngestOutcome {
  stored: number;
  duplicates: number;
  /** Results not stored because their sensor is not assigned to the node (the rest of the batch was stored). */
  rejected?: RejectedResult[];
}

type RecordRow = { node_id: number; sensor_id: number; result_id: string; at: number; status: number; output: string; perfdata: string | null };
type SeenRow = { node_id: number; result_id: string; at: number };
/** A node's assigned sensors (cached for 2 s). */
type SensorList = Map<number, { attempts: number; retention: string; name: string }>;

export class MonitorService {
  private mailer?: Transporter;
  private lastTouch = new Map<number, number>();
  private lastFacts = new Map<number, string>();
  private pending = new Map<number, { items: PendingAlert[]; timer: NodeJS.Timeout }>();
  /** Alert ids being posted right now (between leaving the group buffer and notified=1). */
  private posting = new Set<number>();
  private sensorCache = new Map<number, { at: number; list: SensorList }>();

  /** SQLite: cached prepared inserts run inside the ingest transaction (no 700-placeholder statement compiled per batch). */
  private recordRows: ((rows: RecordRow[]) => void) | null;
  private seenRows: ((rows: SeenRow[]) => void) | null;

  constructor(private app: App, private cfg: MonitorConfig) {
    this.recordRows = sqliteRowInserter<RecordRow>(app.store, 'mon_records', ['node_id', 'sensor_id', 'result_id', 'at', 'status', 'output', 'perfdata']);
    this.seenRows = sqliteRowInserter<SeenRow>(app.store, 'mon_seen', ['node_id', 'result_id', 'at']);
    if (cfg.mail.host) {
      registerSecret(cfg.mail.password);
      this.mailer = nodemailer.createTransport({
        host: cfg.mail.host,
        port: cfg.mail.port,
        secure: cfg.mail.secure,
        auth: cfg.mail.user ? { user: cfg.mail.user, pass: cfg.mail.password ?? '' } : undefined,
        tls: { rejectUnauthorized: cfg.mail.tlsRejectUnauthorized !== false },
      });
    }
  }

  get db(): DB {
    return this.app.db;
  }

  // ---------- nodes ----------
  async node(name: string) {
    const n = await this.db.selectFrom('mon_nodes').selectAll().where('name', '=', name).executeTakeFirst();
    if (!n) throw new UserError(`no node named ${name} (see monitor nodes)`);
    return n;
  }

  async createEnrollment(name: string, existing = false): Promise<{ code: string; nodeId: number; expires: number }> {
    const code = crypto.randomBytes(9).toString('base64url');
    const expires = now() + this.cfg.enrollHours * 3_600_000;
    registerSecret(code);
    if (existing) {
      const n = await this.node(name);
      await this.db.updateTable('mon_nodes').set({ enroll_hash: sha256(code), enroll_expires: expires, token_hash: null }).where('id', '=', n.id).execute();
      this.sensorCache.delete(n.id);
      return { code, nodeId: n.id, expires };
    }
    if (await this.db.selectFrom('mon_nodes').select('id').where('name', '=', name).executeTakeFirst()) throw new UserError(`node ${name} exists; use monitor token rotate ${name} for a new code`);
    const r = await this.db.insertInto('mon_nodes').values({ name, token_hash: null, enroll_hash: sha256(code), enroll_expires: expires, enabled: 1, last_seen: null, facts: null, stale: 0, created_at: now() }).executeTakeFirstOrThrow();
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
    return { nodeId: n.id, node: n.name, token };
  }

  async authenticate(header: string | undefined): Promise<Node | null> {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) return null;
    const n = await this.db.selectFrom('mon_nodes').select(['id', 'name', 'enabled', 'stale', 'last_seen']).where('token_hash', '=', sha256(m[1]!)).executeTakeFirst();
    if (!n || !n.enabled) return null;
    return n;
  }

  async touch(node: Node, facts?: unknown): Promise<void> {
    const t = now();
    // last_seen with 1 s resolution is plenty for staleness; skip the write under heavy ingestion.
    // Facts are written whenever they change.
    const prev = this.lastTouch.get(node.id) ?? 0;
    const f = facts ? JSON.stringify(facts) : undefined;
    const newFacts = f !== undefined && f !== this.lastFacts.get(node.id);
    if (!node.stale && !newFacts && t - prev < 1000) return;
    this.lastTouch.set(node.id, t);
    if (newFacts) this.lastFacts.set(node.id, f);
    await this.db.updateTable('mon_nodes').set(newFacts ? { last_seen: t, facts: f } : { last_seen: t }).where('id', '=', node.id).execute();
    if (node.stale) {
      await this.db.updateTable('mon_nodes').set({ stale: 0 }).where('id', '=', node.id).execute();
      const open = await this.db.selectFrom('mon_alerts').select(['id', 'summary']).where('node_id', '=', node.id).where('kind', '=', 'stale').where('resolved_at', 'is', null).execute();
      for (const a of open) await this.resolve(a.id, `RESOLVED: node ${node.name} is reporting again`);
    }
  }

  // ---------- sensors ----------
  async agentConfig(nodeId: number) {
    const rows = await this.db
      .selectFrom('mon_node_sensors as ns')
      .innerJoin('mon_sensors as s', 's.id', 'ns.sensor_id')
      .select(['s.id', 's.name', 's.kind', 's.args', 's.interval_ms', 's.timeout_ms', 'ns.overrides'])
      .where('ns.node_id', '=', nodeId)
      .orderBy('s.id')
      .execute();
    const sensors = rows.map((r) => ({ id: r.id, name: r.name, kind: r.kind, args: { ...JSON.parse(r.args), ...(r.overrides ? JSON.parse(r.overrides) : {}) }, intervalMs: r.interval_ms, timeoutMs: r.timeout_ms }));
    const body = { sensors, cdr: { enabled: true } };
    return { body, etag: `"${sha256(JSON.stringify(body)).slice(0, 32)}"` };
  }

  private async sensorsOf(nodeId: number): Promise<SensorList> {
    const c = this.sensorCache.get(nodeId);
    if (c && now() - c.at < 2000) return c.list;
    const rows = await this.db.selectFrom('mon_node_sensors as ns').innerJoin('mon_sensors as s', 's.id', 'ns.sensor_id').select(['s.id', 's.attempts', 's.retention', 's.name']).where('ns.node_id', '=', nodeId).execute();
    const list = new Map(rows.map((r) => [r.id, { attempts: r.attempts, retention: r.retention, name: r.name }]));
    this.sensorCache.set(nodeId, { at: now(), list });
    return list;
  }

  invalidate(): void {
    this.sensorCache.clear();
  }

  // ---------- results ----------
  /**
   * Store a batch (one transaction). Returns how many were new, and the results refused because their sensor
   * is not (or no longer) assigned to the node: the others are stored. A batch in which every result is
   * refused throws a 400 naming the first one's field (with the refused list attached).
   */
  async ingest(node: Node, results: ResultIn[]): Promise<IngestOutcome> {
    const sensors = await this.sensorsOf(node.id);
    const rejected: RejectedResult[] = [];
    const valid: ResultIn[] = [];
    results.forEach((r, i) => {
      if (sensors.has(r.sensorId)) valid.push(r);
      else rejected.push({ index: i, id: r.id, sensorId: r.sensorId, reason: `results/${i}/sensorId: sensor ${r.sensorId} is not assigned to this node` });
    });
    if (rejected.length && !valid.length) throw Object.assign(new Error(rejected[0]!.reason), { statusCode: 400, rejected });
    // The checked sensor list is passed down: every result is either stored (or a duplicate) or listed in
    // `rejected`, even if the cache is refreshed meanwhile (an unlisted, unstored result would be acked).
    const r = await this.ingestValid(node, valid, sensors);
    return rejected.length ? { ...r, rejected } : r;
  }

  private async ingestValid(node: Node, results: ResultIn[], sensors: SensorList): Promise<{ stored: number; duplicates: number }> {
    // Concurrent batches of one node can deadlock on InnoDB (state rows, unique index gaps); a batch is
    // idempotent, so it is simply retried.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ingestOnce(node, results, sensors);
      } catch (e) {
        const err = e as { errno?: number; code?: string };
        const retriable = err.errno === 1213 || err.errno === 1205 || err.code === 'SQLITE_BUSY' || (attempt === 1 && (err.errno === 1062 || String(err.code).startsWith('SQLITE_CONSTRAINT')));
        if (!retriable || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
      }
    }
  }

  private async ingestOnce(node: Node, results: ResultIn[], sensors: SensorList): Promise<{ stored: number; duplicates: number }> {
    if (!results.length) return { stored: 0, duplicates: 0 };
    const transitions: { sensorId: number; from: number; to: number; output: string; flapping: boolean }[] = [];
    let stored = 0;
    await this.db.transaction().execute(async (trx) => {
      const ids = results.map((r) => r.id);
      const seen = new Set<string>();
      const kinds = new Set(results.map((r) => (sensors.get(r.sensorId)!.retention.startsWith('history') ? 'mon_records' : 'mon_seen')));
      for (const t of ['mon_records', 'mon_seen'] as const) {
        if (!kinds.has(t)) continue;
        const rows = await trx.selectFrom(t).select('result_id').where('node_id', '=', node.id).where('result_id', 'in', ids).execute();
        for (const r of rows) seen.add(r.result_id);
      }
      const fresh: ResultIn[] = [];
      for (const r of results) if (!seen.has(r.id)) {
        seen.add(r.id);
        fresh.push(r);
      }
      stored = fresh.length;
      if (!fresh.length) return;
      const hist = fresh.filter((r) => sensors.get(r.sensorId)!.retention.startsWith('history'));
      const last = fresh.filter((r) => !sensors.get(r.sensorId)!.retention.startsWith('history'));
      if (hist.length) {
        const rows = hist.map((r) => ({ node_id: node.id, sensor_id: r.sensorId, result_id: r.id, at: r.at, status: r.status, output: r.output, perfdata: r.perfdata?.length ? JSON.stringify(r.perfdata) : null }));
        if (this.recordRows) this.recordRows(rows);
        else await trx.insertInto('mon_records').values(rows).execute();
      }
      if (last.length) {
        const rows = last.map((r) => ({ node_id: node.id, result_id: r.id, at: r.at }));
        if (this.seenRows) this.seenRows(rows);
        else await trx.insertInto('mon_seen').values(rows).execute();
      }
      // State machine, per sensor, in time order.
      const bySensor = new Map<number, ResultIn[]>();
      for (const r of fresh) (bySensor.get(r.sensorId) ?? bySensor.set(r.sensorId, []).get(r.sensorId)!).push(r);
      const states = new Map((await trx.selectFrom('mon_sensor_state').selectAll().where('node_id', '=', node.id).where('sensor_id', 'in', [...bySensor.keys()]).execute()).map((r) => [r.sensor_id, r]));
      const stateRows: { node_id: number; sensor_id: number; status: number; hard_status: number; attempt: number; output: string; perfdata: string | null; at: number; changes: string; flapping: number }[] = [];
      for (const [sensorId, list] of bySensor) {
        list.sort((a, b) => a.at - b.at);
        const st = states.get(sensorId);
        if (st && st.at > list[list.length - 1]!.at) continue; // only older replays: history kept, state is newer
        let status = st?.status ?? 0;
        let hard = st?.hard_status ?? 0;
        let attempt = st?.attempt ?? 0;
        let changes = st?.changes ?? '';
        const attempts = sensors.get(sensorId)!.attempts;
        let lastR = list[0]!;
        for (const r of list) {
          if (st && r.at < st.at) continue;
          lastR = r;
          changes = (changes + String(r.status)).slice(-20);
          if (r.status === 0) attempt = 0;
          else attempt = status !== 0 ? attempt + 1 : 1;
          status = r.status;
          const newHard = status === 0 ? 0 : attempt >= attempts ? status : hard;
          if (newHard !== hard) {
            transitions.push({ sensorId, from: hard, to: newHard, output: r.output, flapping: false });
            hard = newHard;
          }
        }
        let flips = 0;
        for (let i = 1; i < changes.length; i++) if ((changes[i] === '0') !== (changes[i - 1] === '0')) flips++;
        const flapping = changes.length >= 10 && flips >= 6 ? 1 : st?.flapping && flips > 3 ? 1 : 0;
        for (const t of transitions) if (t.sensorId === sensorId) t.flapping = !!flapping;
        // A flap that ends in a problem state opens its alert now (none was opened while it flapped).
        if (st?.flapping && !flapping && hard !== 0 && !transitions.some((t) => t.sensorId === sensorId)) transitions.push({ sensorId, from: hard, to: hard, output: lastR.output, flapping: false });
        stateRows.push({ node_id: node.id, sensor_id: sensorId, status, hard_status: hard, attempt, output: lastR.output, perfdata: lastR.perfdata?.length ? JSON.stringify(lastR.perfdata) : null, at: lastR.at, changes, flapping });
      }
      // Every sensor's new state in one statement (upsert on the (node_id, sensor_id) key).
      if (stateRows.length) {
        const cols = ['status', 'hard_status', 'attempt', 'output', 'perfdata', 'at', 'changes', 'flapping'] as const;
        const ins = trx.insertInto('mon_sensor_state').values(stateRows);
        if (this.app.store.engine === 'mysql') await ins.onDuplicateKeyUpdate(Object.fromEntries(cols.map((c) => [c, sql`values(${sql.ref(c)})`]))).execute();
        else await ins.onConflict((oc) => oc.columns(['node_id', 'sensor_id']).doUpdateSet((eb) => Object.fromEntries(cols.map((c) => [c, eb.ref(`excluded.${c}`)])))).execute();
      }
    });
    for (const t of transitions) await this.onTransition(node, t, sensors.get(t.sensorId)!.name);
    return { stored, duplicates: results.length - stored };
  }

  private async onTransition(node: Node, t: { sensorId: number; from: number; to: number; output: string; flapping: boolean }, sensorName: string): Promise<void> {
    const open = await this.db.selectFrom('mon_alerts').select(['id', 'status']).where('node_id', '=', node.id).where('sensor_id', '=', t.sensorId).where('kind', '=', 'sensor').where('resolved_at', 'is', null).executeTakeFirst();
    if (t.to === 0) {
      // Resolution does not wait for a flap to end: flapping only suppresses new alerts. (The hard state
      // is OK now, so later OK results bring no transition that could resolve it.)
      if (open) await this.resolve(open.id, `RESOLVED: ${node.name}/${sensorName} is OK: ${t.output}`);
      return;
    }
    if (open) {
      if (open.status !== t.to) await this.db.updateTable('mon_alerts').set({ status: t.to, summary: `${STATUS[t.to]}: ${t.output}` }).where('id', '=', open.id).execute();
      return;
    }
    if (t.flapping) return;
    const r = await this.db.insertInto('mon_alerts').values({ node_id: node.id, sensor_id: t.sensorId, kind: 'sensor', status: t.to, summary: `${STATUS[t.to]}: ${t.output}`, opened_at: now(), resolved_at: null, acked_by: null, ack_comment: null, last_sent: null, notified: 0 }).executeTakeFirstOrThrow();
    await this.queue(node.id, { id: insertedId(r), text: `${STATUS[t.to]} ${node.name}/${sensorName}: ${t.output}` });
  }

  // ---------- alerts ----------
  private async queue(nodeId: number, item: PendingAlert): Promise<void> {
    const p = this.pending.get(nodeId);
    if (p) {
      p.items.push(item);
      return;
    }
    const timer = setTimeout(() => {
      this.flush(nodeId).catch((err) => this.app.log.error({ err, nodeId }, 'grouped alert flush failed; the periodic check posts it'));
    }, this.cfg.groupWindowMs);
    timer.unref();
    this.pending.set(nodeId, { items: [item], timer });
  }

  private async flush(nodeId: number): Promise<void> {
    const p = this.pending.get(nodeId);
    this.pending.delete(nodeId);
    if (!p) return;
    await this.post(nodeId, p.items);
  }

  /**
   * Post one node's new alerts as one message (those still open and not silenced). Each alert is claimed
   * first (notified 0 → 1, a conditional UPDATE), so of several replicas, or a group flush and a tick, only
   * one posts it; if the message cannot be sent the claim is released for the next tick. While it runs the
   * alerts are in `posting`, so postUnsent leaves them alone.
   */
  private async post(nodeId: number, items: PendingAlert[]): Promise<void> {
    for (const it of items) this.posting.add(it.id);
    try {
      await this.postClaimed(nodeId, items);
    } finally {
      for (const it of items) this.posting.delete(it.id);
    }
  }

  private async postClaimed(nodeId: number, items: PendingAlert[]): Promise<void> {
    const node = await this.db.selectFrom('mon_nodes').select(['name', 'enabled']).where('id', '=', nodeId).executeTakeFirst();
    if (!node || !node.enabled) return;
    const live: PendingAlert[] = [];
    for (const it of items) {
      const a = await this.db.selectFrom('mon_alerts').selectAll().where('id', '=', it.id).executeTakeFirst();
      if (!a || a.resolved_at || a.notified || (await this.silenced(a.node_id, a.sensor_id))) continue;
      const claim = await this.db.updateTable('mon_alerts').set({ notified: 1 }).where('id', '=', it.id).where('notified', '=', 0).where('resolved_at', 'is', null).executeTakeFirst();
      if (affected(claim) === 1) live.push(it);
    }
    if (!live.length) return;
    const ids = live.map((i) => i.id);
    const subject = live.length === 1 ? `[switchboard] alert #${live[0]!.id} ${live[0]!.text}` : `[switchboard] ${live.length} alerts on ${node.name}`;
    const text = live.length === 1 ? `🚨 alert #${live[0]!.id} ${live[0]!.text}` : `🚨 ${live.length} alerts on ${node.name}:\n${live.map((i) => `• #${i.id} ${i.text}`).join('\n')}`;
    try {
      await this.send(subject, text);
    } catch (e) {
      await this.db
        .updateTable('mon_alerts')
        .set({ notified: 0 })
        .where('id', 'in', ids)
        .execute()
        .catch((err: unknown) => this.app.log.error({ err, alerts: ids }, 'alert claim could not be released; these alerts stay unsent until notified is reset'));
      throw e;
    }
    await this.db.updateTable('mon_alerts').set({ last_sent: now() }).where('id', 'in', ids).execute();
  }

  /**
   * Open alerts never posted (notified=0) older than the group window and not waiting in this process's
   * group buffer: their buffer died with an earlier process (stopped inside the window) or its flush
   * failed. Posted grouped per node, as the buffer would have. Run at start and by every tick.
   */
  async postUnsent(): Promise<number> {
    const rows = await this.db
      .selectFrom('mon_alerts as a')
      .innerJoin('mon_nodes as n', 'n.id', 'a.node_id')
      .leftJoin('mon_sensors as s', 's.id', 'a.sensor_id')
      .select(['a.id', 'a.node_id', 'a.kind', 'a.status', 'a.summary', 'n.name as node', 's.name as sensor'])
      .where('a.resolved_at', 'is', null)
      .where('a.notified', '=', 0)
      .where('a.acked_by', 'is', null)
      .where('a.opened_at', '<=', now() - this.cfg.groupWindowMs)
      .where('n.enabled', '=', 1)
      .orderBy('a.id')
      .execute();
    const waiting = new Set([...this.pending.values()].flatMap((p) => p.items.map((i) => i.id)));
    const byNode = new Map<number, PendingAlert[]>();
    for (const a of rows) {
      if (waiting.has(a.id) || this.posting.has(a.id)) continue;
      const st = STATUS[a.status] ?? 'UNKNOWN';
      const text = a.kind === 'sensor' && a.sensor ? `${st} ${a.node}/${a.sensor}: ${a.summary.startsWith(`${st}: `) ? a.summary.slice(st.length + 2) : a.summary}` : a.summary;
      (byNode.get(a.node_id) ?? byNode.set(a.node_id, []).get(a.node_id)!).push({ id: a.id, text });
    }
    let n = 0;
    for (const [nodeId, items] of byNode) {
      await this.post(nodeId, items);
      n += items.length;
    }
    return n;
  }

  /** Server start: post alerts an earlier process opened but never sent. */
  async start(): Promise<void> {
    const n = await this.postUnsent();
    if (n) this.app.log.info({ alerts: n }, 'posted alerts left unsent by an earlier run');
  }

  /** Stop: drop the group timers (their alerts stay notified=0 and are posted by the next start). */
  stop(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  /**
   * Disable a node (or prepare its removal): its open alerts are resolved, with a message for those posted,
   * and its sensor states are forgotten, so a sensor still failing when the node is enabled again opens a
   * new alert after its `attempts` (a remembered hard CRITICAL would bring no transition).
   */
  async closeNodeAlerts(nodeId: number, why: string): Promise<number> {
    const p = this.pending.get(nodeId);
    if (p) {
      clearTimeout(p.timer);
      this.pending.delete(nodeId);
    }
    const node = await this.db.selectFrom('mon_nodes').select('name').where('id', '=', nodeId).executeTakeFirst();
    const open = await this.db.selectFrom('mon_alerts').select('id').where('node_id', '=', nodeId).where('resolved_at', 'is', null).execute();
    for (const a of open) await this.resolve(a.id, `RESOLVED: node ${node?.name ?? nodeId} ${why}`);
    await this.resetSensorStates(nodeId);
    return open.length;
  }

  /** Forget a node's sensor states (soft/hard, attempts, flapping): its next results start afresh. */
  async resetSensorStates(nodeId: number): Promise<void> {
    await this.db.deleteFrom('mon_sensor_state').where('node_id', '=', nodeId).execute();
  }

  async send(subject: string, text: string): Promise<void> {
    await this.app.notifier.notify(this.cfg.alertTargets, { text });
    if (this.mailer && this.cfg.mail.to.length) {
      try {
        await this.mailer.sendMail({ from: this.cfg.mail.from, to: this.cfg.mail.to, subject: subject.slice(0, 200), text });
      } catch (err) {
        this.app.log.error({ err: String(err) }, 'alert e-mail failed');
      }
    }
  }

  async open(nodeId: number, kind: string, status: number, summary: string, immediate = false): Promise<number> {
    const r = await this.db.insertInto('mon_alerts').values({ node_id: nodeId, sensor_id: null, kind, status, summary, opened_at: now(), resolved_at: null, acked_by: null, ack_comment: null, last_sent: null, notified: 0 }).executeTakeFirstOrThrow();
    const id = insertedId(r);
    if (immediate) {
      if (!(await this.silenced(nodeId, null))) {
        await this.send(`[switchboard] alert #${id} ${summary}`, `🚨 alert #${id} ${summary}`);
        await this.db.updateTable('mon_alerts').set({ last_sent: now(), notified: 1 }).where('id', '=', id).execute();
      }
    } else await this.queue(nodeId, { id, text: summary });
    return id;
  }

  async resolve(id: number, text: string): Promise<void> {
    const a = await this.db.selectFrom('mon_alerts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!a || a.resolved_at) return;
    await this.db.updateTable('mon_alerts').set({ resolved_at: now() }).where('id', '=', id).execute();
    if (a.notified && !(await this.silenced(a.node_id, a.sensor_id))) await this.send(`[switchboard] alert #${id} ${text}`, `✅ alert #${id} ${text}`);
  }

  async silenced(nodeId: number, sensorId: number | null): Promise<boolean> {
    const rows = await this.db.selectFrom('mon_silences').select(['sensor_id']).where('node_id', '=', nodeId).where('until', '>', now()).execute();
    return rows.some((r) => r.sensor_id === null || r.sensor_id === sensorId);
  }

  /** Stale nodes and repeats; run by a schedule every staleCheckMs. */
  async tick(): Promise<void> {
    const t = now();
    const nodes = await this.db.selectFrom('mon_nodes').select(['id', 'name', 'last_seen', 'stale', 'enabled']).where('enabled', '=', 1).where('stale', '=', 0).where('token_hash', 'is not', null).execute();
    for (const n of nodes) {
      const row = await this.db.selectFrom('mon_node_sensors as ns').innerJoin('mon_sensors as s', 's.id', 'ns.sensor_id').select((eb) => eb.fn.min('s.interval_ms').as('min')).where('ns.node_id', '=', n.id).executeTakeFirst();
      const min = Number(row?.min ?? 0);
      if (!min || !n.last_seen) continue;
      const limit = this.cfg.freshnessMs ?? 3 * min;
      if (t - n.last_seen > limit) {
        const upd = await this.db.updateTable('mon_nodes').set({ stale: 1 }).where('id', '=', n.id).where('stale', '=', 0).executeTakeFirst();
        if (affected(upd) === 1) await this.open(n.id, 'stale', 2, `STALE ${n.name}: no report for ${Math.round((t - n.last_seen) / 1000)}s (limit ${Math.round(limit / 1000)}s)`, true);
      }
    }
    await this.postUnsent();
    const due = await this.db.selectFrom('mon_alerts as a').innerJoin('mon_nodes as n', 'n.id', 'a.node_id').select(['a.id', 'a.summary', 'a.node_id', 'a.sensor_id', 'a.last_sent', 'n.name']).where('n.enabled', '=', 1).where('a.resolved_at', 'is', null).where('a.acked_by', 'is', null).where('a.notified', '=', 1).where('a.last_sent', '<', t - this.cfg.repeatMs).execute();
    for (const a of due) {
      if (await this.silenced(a.node_id, a.sensor_id)) continue;
      // Claimed like a first post: of several replicas' ticks only one repeats it.
      const claim = await this.db.updateTable('mon_alerts').set({ last_sent: t }).where('id', '=', a.id).where('last_sent', '<', t - this.cfg.repeatMs).executeTakeFirst();
      if (affected(claim) !== 1) continue;
      try {
        await this.send(`[switchboard] still open: alert #${a.id} ${a.name}`, `🔁 still open: alert #${a.id} ${a.name}: ${a.summary}`);
      } catch (e) {
        await this.db.updateTable('mon_alerts').set({ last_sent: a.last_sent }).where('id', '=', a.id).where('last_sent', '=', t).execute();
        throw e;
      }
    }
  }

  async prune(): Promise<number> {
    let n = 0;
    const sensors = await this.db.selectFrom('mon_sensors').select(['id', 'retention']).execute();
    for (const s of sensors) {
      const m = /^history:(\d+)d$/.exec(s.retention);
      const cut = now() - (m ? Number(m[1]) : 0) * 86_400_000;
      const r = await this.db.deleteFrom('mon_records').where('sensor_id', '=', s.id).where('at', '<', cut).executeTakeFirst();
      n += Number(r.numDeletedRows);
    }
    await this.db.deleteFrom('mon_seen').where('at', '<', now() - 7 * 86_400_000).execute();
    return n;
  }

  // ---------- toll fraud ----------
  async ingestCdr(node: Node, calls: CallIn[]): Promise<{ stored: number; flagged: number }> {
    const rules = await this.db.selectFrom('mon_fraud_rules').selectAll().execute();
    rules.sort((a, b) => b.prefix.length - a.prefix.length);
    let stored = 0;
    let flagged = 0;
    for (const c of calls) {
      const dst = c.dst.replace(/^\+/, '00');
      const rule = rules.find((r) => dst.startsWith(r.prefix));
      const reasons: string[] = [];
      if (rule) reasons.push(`${rule.kind} prefix ${rule.prefix}${rule.note ? ` (${rule.note})` : ''}`);
      // Out of business hours: any call to an outside number (a rule match, or a number of 7+ digits).
      if ((rule || /^\d{7,}$/.test(dst)) && !this.businessHours(c.at)) reasons.push('outside business hours');
      try {
        await this.db.insertInto('mon_cdr_calls').values({ node_id: node.id, call_id: c.callId, at: c.at, src: c.src ?? null, dst: c.dst, duration: c.duration ?? null, disposition: c.disposition ?? null, raw: c.raw ?? null, flagged: reasons.length ? reasons.join('; ') : null }).execute();
      } catch (e) {
        if ((e as { code?: string }).code?.includes('CONSTRAINT') || (e as { errno?: number }).errno === 1062) continue;
        throw e;
      }
      stored++;
      if (!reasons.length) continue;
      flagged++;
      await this.open(node.id, 'fraud', 2, `TOLL FRAUD? ${node.name}: call from ${c.src ?? '?'} to ${c.dst} at ${new Date(c.at).toISOString()} — ${reasons.join('; ')}`, true);
      const hourAgo = now() - 3_600_000;
      const cnt = await this.db.selectFrom('mon_cdr_calls').select((eb) => eb.fn.countAll<number>().as('n')).where('node_id', '=', node.id).where('flagged', 'is not', null).where('at', '>', Math.min(hourAgo, c.at - 3_600_000)).executeTakeFirst();
      const n = Number(cnt?.n ?? 0);
      if (n === this.cfg.fraud.burstPerHour + 1) await this.open(node.id, 'fraud', 2, `TOLL FRAUD BURST ${node.name}: ${n} suspicious calls within an hour (limit ${this.cfg.fraud.burstPerHour})`, true);
    }
    return { stored, flagged };
  }

  businessHours(at: number): boolean {
    const d = new Date(at);
    const bh = this.cfg.fraud.businessHours;
    if (!bh.days.includes(d.getDay())) return false;
    const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    return hm >= bh.start && hm < bh.end;
  }
}

export { sql };
