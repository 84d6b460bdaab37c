// Alerts: opening (one open alert per `open_key`, whichever replica opens it), grouping of a node's new
// alerts into one message, posting to chat and e-mail, editing a posted message in place, repeats until
// acknowledged, resolving, silences, and the queries behind `alerts`, `ack`, `silence(s)`, `unsilence`.
//
// Every "post this" decision is a conditional UPDATE in the store (notified 0 → 1, last_sent older than the
// repeat interval, sent_count below the new count, resolved_at still null), so several replicas post each
// message once. The in-memory group buffer only delays a post; an alert it loses (process stopped inside the
// window) is found by postUnsent (notified = 0) at the next start or tick.
import { createRequire } from 'node:module';
import type { Transporter } from 'nodemailer';
import type Nodemailer from 'nodemailer';
import type { App } from '../app-types.js';
import type { MessageRef } from '../core/types.js';
import { UserError } from '../core/command.js';
import { registerSecret } from '../secrets.js';
import { now, insertedId, affected, isUniqueViolation, type DB } from '../store/db.js';
import { STATUS, type MonitorConfig } from './types.js';

interface PendingAlert {
  id: number;
  text: string;
}

export interface OpenAlert {
  nodeId: number;
  sensorId?: number | null;
  kind: string;
  status: number;
  summary: string;
  /** Unique while open: a second open with the same key returns the existing alert. */
  openKey?: string;
  /** Post now (stale, clock, fraud) instead of waiting for the node's group window. */
  immediate?: boolean;
  /** Text of the first message when it differs from the summary (a fraud group lists its calls). */
  text?: string;
  calls?: number;
  /** Neither post nor queue: the caller posts it (postOne) once it is complete. */
  defer?: boolean;
}

export class Alerts {
  private mailer?: Transporter;
  private pending = new Map<number, { items: PendingAlert[]; timer: NodeJS.Timeout }>();
  /** Alert ids being posted right now (between leaving the group buffer and notified=1). */
  private posting = new Set<number>();

  constructor(
    private app: App,
    private cfg: MonitorConfig,
  ) {
    if (cfg.mail.host) {
      registerSecret(cfg.mail.password);
      // nodemailer is loaded only when mail is configured (start-up time).
      const nodemailer = createRequire(import.meta.url)('nodemailer') as typeof Nodemailer;
      this.mailer = nodemailer.createTransport({
        host: cfg.mail.host,
        port: cfg.mail.port,
        secure: cfg.mail.secure,
        auth: cfg.mail.user ? { user: cfg.mail.user, pass: cfg.mail.password ?? '' } : undefined,
        tls: { rejectUnauthorized: cfg.mail.tlsRejectUnauthorized !== false },
      });
    }
  }

  private get db(): DB {
    return this.app.db;
  }

  /** Chat (every alert target) and, unless `mail` is false, e-mail. Returns the chat messages' refs. */
  async send(subject: string, text: string, opts: { mail?: boolean } = {}): Promise<MessageRef[]> {
    const refs = await this.app.notifier.notify(this.cfg.alertTargets, { text });
    if (opts.mail !== false && this.mailer && this.cfg.mail.to.length) {
      try {
        await this.mailer.sendMail({ from: this.cfg.mail.from, to: this.cfg.mail.to, subject: subject.slice(0, 200), text });
      } catch (err) {
        this.app.log.error({ err: String(err) }, 'alert e-mail failed');
      }
    }
    return refs;
  }

  /**
   * Open an alert. With an `openKey` already held by an open alert (another replica, or an earlier post),
   * nothing is opened and `created` is false with that alert's id.
   */
  async open(a: OpenAlert): Promise<{ id: number; created: boolean }> {
    const t = now();
    let id: number;
    try {
      const r = await this.db
        .insertInto('mon_alerts')
        .values({
          node_id: a.nodeId,
          sensor_id: a.sensorId ?? null,
          kind: a.kind,
          status: a.status,
          summary: a.summary,
          opened_at: t,
          resolved_at: null,
          acked_by: null,
          ack_comment: null,
          last_sent: null,
          notified: 0,
          open_key: a.openKey ?? null,
          calls: a.calls ?? 0,
          updated_at: t,
          refs: null,
          sent_count: a.calls ?? 0,
        })
        .executeTakeFirstOrThrow();
      id = insertedId(r);
    } catch (e) {
      if (!a.openKey || !isUniqueViolation(e)) throw e;
      const existing = await this.db.selectFrom('mon_alerts').select('id').where('open_key', '=', a.openKey).executeTakeFirst();
      if (!existing) throw e; // resolved in between: the caller may try again
      return { id: existing.id, created: false };
    }
    if (a.defer) return { id, created: true };
    if (a.immediate) await this.postOne(id, a.text ?? a.summary);
    else await this.queue(a.nodeId, { id, text: a.text ?? a.summary });
    return { id, created: true };
  }

  /** The open alert holding `openKey`, if any. */
  async byKey(openKey: string) {
    return this.db.selectFrom('mon_alerts').selectAll().where('open_key', '=', openKey).executeTakeFirst();
  }

  /** Post one alert now (claimed), keeping the message refs so it can be edited later. */
  async postOne(id: number, text: string): Promise<void> {
    const a = await this.db.selectFrom('mon_alerts').select(['node_id', 'sensor_id']).where('id', '=', id).executeTakeFirst();
    if (!a) return;
    await this.post(a.node_id, [{ id, text }]);
  }

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
   * first (notified 0 → 1), so of several replicas, or a group flush and a tick, only one posts it; if the
   * message cannot be sent the claim is released for the next tick. While it runs the alerts are in
   * `posting`, so postUnsent leaves them alone.
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
    if (!node?.enabled) return;
    const live: PendingAlert[] = [];
    for (const it of items) {
      const a = await this.db.selectFrom('mon_alerts').selectAll().where('id', '=', it.id).executeTakeFirst();
      if (!a || a.resolved_at || a.notified || (await this.silenced(a.node_id, a.sensor_id))) continue;
      const claim = await this.db.updateTable('mon_alerts').set({ notified: 1 }).where('id', '=', it.id).where('notified', '=', 0).where('resolved_at', 'is', null).executeTakeFirst();
      if (affected(claim) === 1) live.push(it);
    }
    if (!live.length) return;
    const ids = live.map((i) => i.id);
    const subject = live.length === 1 ? `[switchboard] alert #${live[0]!.id} ${live[0]!.text.split('\n')[0]}` : `[switchboard] ${live.length} alerts on ${node.name}`;
    const text = live.length === 1 ? `🚨 alert #${live[0]!.id} ${live[0]!.text}` : `🚨 ${live.length} alerts on ${node.name}:\n${live.map((i) => `• #${i.id} ${i.text}`).join('\n')}`;
    let refs: MessageRef[];
    try {
      refs = await this.send(subject, text);
    } catch (e) {
      await this.db
        .updateTable('mon_alerts')
        .set({ notified: 0 })
        .where('id', 'in', ids)
        .execute()
        .catch((err: unknown) => this.app.log.error({ err, alerts: ids }, 'alert claim could not be released; these alerts stay unsent until notified is reset'));
      throw e;
    }
    // One write: a refresh waits for last_sent, and then finds the refs to edit.
    await this.db
      .updateTable('mon_alerts')
      .set(live.length === 1 && refs.length ? { last_sent: now(), refs: JSON.stringify(refs) } : { last_sent: now() })
      .where('id', 'in', ids)
      .execute();
  }

  /**
   * A posted alert changed (a fraud group has more calls): edit its message in place where the platform
   * allows, else post a short update. Claimed by raising `sent_count` to `count` (a conditional UPDATE), so
   * of several replicas one edits for each count, and a smaller count never overwrites a larger one.
   */
  async refresh(id: number, count: number, text: string, short: string): Promise<boolean> {
    // last_sent is set when the first message has gone out (with its refs): until then the tick retries.
    const claim = await this.db
      .updateTable('mon_alerts')
      .set({ sent_count: count })
      .where('id', '=', id)
      .where('sent_count', '<', count)
      .where('notified', '=', 1)
      .where('last_sent', 'is not', null)
      .where('resolved_at', 'is', null)
      .executeTakeFirst();
    if (affected(claim) !== 1) return false;
    const a = await this.db.selectFrom('mon_alerts').select(['node_id', 'sensor_id', 'refs']).where('id', '=', id).executeTakeFirstOrThrow();
    const refs = (a.refs ? JSON.parse(a.refs) : []) as MessageRef[];
    let edited = refs.length > 0;
    for (const ref of refs) {
      if (!this.app.notifier.adapter(ref.platform)) {
        edited = false;
        continue;
      }
      try {
        await this.app.notifier.update(ref, { text: `🚨 alert #${id} ${text}` });
      } catch (err) {
        edited = false;
        this.app.log.warn({ err: String(err), alert: id }, 'alert message could not be edited; posting an update instead');
      }
    }
    if (!edited && !(await this.silenced(a.node_id, a.sensor_id))) await this.send('', `🔺 alert #${id} ${short}`, { mail: false });
    return true;
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

  /** Stop: drop the group timers (their alerts stay notified=0 and are posted by the next start). */
  stop(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  /** Forget a node's buffered alerts (it is being disabled or removed). */
  dropPending(nodeId: number): void {
    const p = this.pending.get(nodeId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(nodeId);
  }

  /** Resolve once (a conditional UPDATE: of several replicas only one sends the message). */
  async resolve(id: number, text: string): Promise<boolean> {
    const upd = await this.db.updateTable('mon_alerts').set({ resolved_at: now(), open_key: null }).where('id', '=', id).where('resolved_at', 'is', null).executeTakeFirst();
    if (affected(upd) !== 1) return false;
    const a = await this.db.selectFrom('mon_alerts').select(['node_id', 'sensor_id', 'notified']).where('id', '=', id).executeTakeFirstOrThrow();
    if (a.notified && !(await this.silenced(a.node_id, a.sensor_id))) await this.send(`[switchboard] alert #${id} ${text.split('\n')[0]}`, `✅ alert #${id} ${text}`);
    return true;
  }

  /** Resolve the open alerts of a node, optionally of one kind. */
  async resolveNode(nodeId: number, text: string, kind?: string): Promise<number> {
    let q = this.db.selectFrom('mon_alerts').select('id').where('node_id', '=', nodeId).where('resolved_at', 'is', null);
    if (kind) q = q.where('kind', '=', kind);
    let n = 0;
    for (const a of await q.execute()) if (await this.resolve(a.id, text)) n++;
    return n;
  }

  async silenced(nodeId: number, sensorId: number | null): Promise<boolean> {
    const rows = await this.db.selectFrom('mon_silences').select(['sensor_id']).where('node_id', '=', nodeId).where('until', '>', now()).execute();
    return rows.some((r) => r.sensor_id === null || r.sensor_id === sensorId);
  }

  /** Repeat open, posted, unacknowledged alerts every repeatMs (each repeat claimed). */
  async repeat(): Promise<void> {
    const t = now();
    const due = await this.db
      .selectFrom('mon_alerts as a')
      .innerJoin('mon_nodes as n', 'n.id', 'a.node_id')
      .select(['a.id', 'a.summary', 'a.node_id', 'a.sensor_id', 'a.last_sent', 'n.name'])
      .where('n.enabled', '=', 1)
      .where('a.resolved_at', 'is', null)
      .where('a.acked_by', 'is', null)
      .where('a.notified', '=', 1)
      .where('a.last_sent', '<', t - this.cfg.repeatMs)
      .execute();
    for (const a of due) {
      if (await this.silenced(a.node_id, a.sensor_id)) continue;
      const claim = await this.db
        .updateTable('mon_alerts')
        .set({ last_sent: t })
        .where('id', '=', a.id)
        .where('last_sent', '<', t - this.cfg.repeatMs)
        .executeTakeFirst();
      if (affected(claim) !== 1) continue;
      try {
        await this.send(`[switchboard] still open: alert #${a.id} ${a.name}`, `🔁 still open: alert #${a.id} ${a.name}: ${a.summary}`);
      } catch (e) {
        await this.db.updateTable('mon_alerts').set({ last_sent: a.last_sent }).where('id', '=', a.id).where('last_sent', '=', t).execute();
        throw e;
      }
    }
  }

  // ---------- queries for the chat commands ----------
  async list(all: boolean) {
    let q = this.db
      .selectFrom('mon_alerts as a')
      .innerJoin('mon_nodes as n', 'n.id', 'a.node_id')
      .leftJoin('mon_sensors as s', 's.id', 'a.sensor_id')
      .select(['a.id', 'a.kind', 'a.summary', 'a.opened_at', 'a.resolved_at', 'a.acked_by', 'a.calls', 'n.name as node', 's.name as sensor'])
      .orderBy('a.id', 'desc')
      .limit(50);
    if (!all) q = q.where('a.resolved_at', 'is', null);
    return q.execute();
  }

  /** Acknowledge open alerts (ids, or every open unacknowledged one). Returns those acked and those not open. */
  async ack(ids: number[] | 'all', who: string, comment: string | null): Promise<{ acked: number[]; missing: number[] }> {
    let q = this.db.selectFrom('mon_alerts').select('id').where('resolved_at', 'is', null);
    q = ids === 'all' ? q.where('acked_by', 'is', null) : q.where('id', 'in', ids.length ? ids : [0]);
    const open = (await q.execute()).map((r) => r.id);
    const acked: number[] = [];
    for (const id of open) {
      const r = await this.db.updateTable('mon_alerts').set({ acked_by: who, ack_comment: comment }).where('id', '=', id).where('resolved_at', 'is', null).executeTakeFirst();
      if (affected(r) === 1) acked.push(id);
    }
    return { acked, missing: ids === 'all' ? [] : ids.filter((id) => !acked.includes(id)) };
  }

  async silence(nodeId: number, sensorId: number | null, ms: number, reason: string | null, by: string): Promise<number> {
    const until = now() + ms;
    await this.db.insertInto('mon_silences').values({ node_id: nodeId, sensor_id: sensorId, until, reason, created_by: by, created_at: now() }).execute();
    return until;
  }

  async silences() {
    return this.db
      .selectFrom('mon_silences as x')
      .innerJoin('mon_nodes as n', 'n.id', 'x.node_id')
      .leftJoin('mon_sensors as s', 's.id', 'x.sensor_id')
      .select(['x.id', 'n.name as node', 's.name as sensor', 'x.until', 'x.reason', 'x.created_by'])
      .where('x.until', '>', now())
      .orderBy('x.id')
      .execute();
  }

  async unsilence(id: number): Promise<void> {
    const r = await this.db.updateTable('mon_silences').set({ until: now() }).where('id', '=', id).where('until', '>', now()).executeTakeFirst();
    if (!affected(r)) throw new UserError(`no active silence #${id}`, 'SB_NOT_FOUND');
  }
}
