// DHCP/proxy apply for the whole cluster. The files live on one machine, so one process writes them: the holder
// of the `dhcp-apply` lease. Whichever process `dhcp apply` (or its `confirm`) came to queues a request row and
// waits for its result, which it then replies with where the apply was asked. A running server holds the lease
// with a heartbeat and runs the queue; when no live process holds it (no server running, `exec` alone) the
// asking process takes it, runs the queue itself and lets it go. Requests run one at a time, in order, under the
// lease (the cluster-wide apply lock); the "since last apply" snapshot is in `kv`.
//
// Debounced auto-apply (dhcp.autoApply) runs on the holder only: it watches max(dhcp_history.id), moved by
// host changes made by any process, against the history the last apply covered.
import os from 'node:os';
import type { App } from '../app-types.js';
import { Leases } from '../core/leases.js';
import { OWNER as PROCESS_OWNER } from '../core/jobs.js';
import { affected, insertedId, now } from '../store/db.js';
import { APPLIED_HISTORY_KEY, applyOnce, historyHead, type ApplyReport } from './apply.js';
import type { DhcpStore } from './service.js';

declare module '../store/db.js' {
  interface Tables {
    dhcp_apply_requests: {
      id: import('kysely').Generated<number>;
      dry_run: number;
      status: string;
      asked_by: string;
      runner: string | null;
      result: string | null;
      created_at: number;
      finished_at: number | null;
      reply_to: string | null;
    };
  }
}

declare module '../app-types.js' {
  interface Services {
    dhcpApply: ApplyQueue;
  }
}

export const APPLY_LEASE = 'dhcp-apply';
const LEASE_TTL_MS = 15_000;
const RENEW_MS = 5_000;
const TICK_MS = 500;

let seq = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ApplyQueue {
  /** This process (`OWNER/<part>` is this live process to the lease's dead-holder check), one per app instance. */
  readonly owner = `${PROCESS_OWNER}/dhcp${++seq}`;
  /** How long an asker waits for the holder's answer before it gives up. */
  waitMs = 10 * 60_000;
  private leases: Leases;
  private chain: Promise<void> = Promise.resolve();
  /** Drains queued or running here; the heartbeat adds none while one is pending. */
  private drains = 0;
  private resident = false;
  private holding = false;
  private lastRenew = 0;
  private timer?: NodeJS.Timeout;
  private ticking: Promise<void> | null = null;
  private debounce?: NodeJS.Timeout;
  private seenHead = -1;
  private attemptedHead = 0;
  private lastPrune = 0;

  constructor(
    private app: App,
    private svc: DhcpStore,
  ) {
    this.leases = new Leases(app.db, this.owner);
  }

  /** Runs an apply wherever the cluster runs them and returns its report (the caller replies with it). */
  async request(opts: { dryRun?: boolean; replyTo?: { platform: string; channel: string; thread?: string } } = {}): Promise<ApplyReport> {
    const replyTo = opts.replyTo ? JSON.stringify({ platform: opts.replyTo.platform, channel: opts.replyTo.channel, ...(opts.replyTo.thread ? { thread: opts.replyTo.thread } : {}) }) : null;
    const id = insertedId(
      await this.app.db
        .insertInto('dhcp_apply_requests')
        .values({ dry_run: opts.dryRun ? 1 : 0, status: 'queued', asked_by: this.owner, runner: null, result: null, created_at: now(), finished_at: null, reply_to: replyTo })
        .executeTakeFirst(),
    );
    const deadline = Date.now() + this.waitMs;
    const read = () => this.app.db.selectFrom('dhcp_apply_requests').select(['status', 'result', 'runner']).where('id', '=', id).executeTakeFirst();
    for (;;) {
      let row = await read();
      if (row && row.status !== 'done' && (await this.leases.acquire(APPLY_LEASE, LEASE_TTL_MS))) {
        // Nobody else holds the lease: run the queue here (this request included).
        this.holding = true;
        await this.drain();
        row = await read();
      }
      if (!row) return failed('The apply request disappeared from the store before it ran; no live file was changed by it.');
      if (row.status === 'done') return JSON.parse(row.result!) as ApplyReport;
      if (Date.now() > deadline) return this.giveUp(id, row.runner);
      await sleep(200);
    }
  }

  /** Server mode: hold the lease (heartbeat), run queued requests, and auto-apply if configured. */
  start(): void {
    if (this.resident) return;
    this.resident = true;
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    void this.tick();
  }

  /** Hosts changed in this process: look at once rather than at the next tick. */
  poke(): void {
    if (this.resident) void this.tick();
  }

  async stop(): Promise<void> {
    this.resident = false;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    await this.ticking;
    await this.chain;
    await this.release();
  }

  private async release(): Promise<void> {
    this.holding = false;
    await this.leases.release(APPLY_LEASE).catch((err) => this.app.log.warn({ err: String(err) }, 'could not release the dhcp apply lease'));
  }

  private tick(): Promise<void> {
    this.ticking ??= this.tickOnce()
      .catch((err) => this.app.log.warn({ err: String(err) }, 'dhcp apply queue check failed'))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async tickOnce(): Promise<void> {
    if (!this.resident) return;
    const t = Date.now();
    if (t - this.lastRenew >= RENEW_MS) {
      this.lastRenew = t;
      const was = this.holding;
      this.holding = await this.leases.acquire(APPLY_LEASE, LEASE_TTL_MS, t);
      if (this.holding && !was) {
        this.app.log.info({ owner: this.owner }, 'holding the dhcp apply lease: applies run here');
        this.seenHead = -1; // changes made while nobody held the lease are looked at now
      }
    }
    if (!this.holding) {
      clearTimeout(this.debounce);
      return;
    }
    if (!this.drains && (await this.nextRequest())) void this.drain();
    if (this.app.config.dhcp.autoApply) await this.watchHistory();
  }

  /** Re-arms the auto-apply delay when hosts changed (in any process) after what the last apply covered. */
  private async watchHistory(): Promise<void> {
    const head = await historyHead(this.app);
    if (head === this.seenHead) return;
    this.seenHead = head;
    if (head <= (await this.appliedHead())) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.autoApply().catch((err) => this.app.log.error({ err }, 'dhcp auto-apply failed')), this.app.config.dhcp.autoApplyDelayMs);
    this.debounce.unref();
  }

  private async appliedHead(): Promise<number> {
    const row = await this.app.db.selectFrom('kv').select('v').where('k', '=', APPLIED_HISTORY_KEY).executeTakeFirst();
    return Math.max(this.attemptedHead, Number(row?.v ?? 0));
  }

  private async autoApply(): Promise<void> {
    if (!this.resident || !this.holding) return;
    // An apply running here now (e.g. the one a `dhcp add` asked for) may cover the changes: wait for it first.
    await this.chain;
    const head = await historyHead(this.app);
    if (head <= (await this.appliedHead())) return; // a manual apply took the changes already
    this.attemptedHead = head; // a failing apply is tried again only after the next change
    const r = await this.request();
    const targets = this.app.config.dhcp.callerid.targets;
    await this.app.notifier.notify(targets.length ? targets : [], { text: `DHCP auto-apply: ${r.text}` });
  }

  /** The oldest request to run: queued, or left running by a process that no longer holds the lease. */
  private nextRequest() {
    return this.app.db
      .selectFrom('dhcp_apply_requests')
      .select(['id', 'dry_run', 'status', 'runner', 'reply_to'])
      .where((eb) => eb.or([eb('status', '=', 'queued'), eb.and([eb('status', '=', 'running'), eb('runner', '!=', this.owner)])]))
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
  }

  /** Runs queued requests one at a time while this process holds the lease. Never rejects (errors are logged). */
  private drain(): Promise<void> {
    this.drains++;
    this.chain = this.chain
      .then(() => this.drainOnce())
      .catch((err) => this.app.log.error({ err }, 'dhcp apply queue failed'))
      .finally(() => this.drains--);
    return this.chain;
  }

  private async drainOnce(): Promise<void> {
    try {
      for (;;) {
        if (!(await this.leases.acquire(APPLY_LEASE, LEASE_TTL_MS))) return;
        const next = await this.nextRequest();
        if (!next) return;
        const take = await this.app.db
          .updateTable('dhcp_apply_requests')
          .set({ status: 'running', runner: this.owner })
          .where('id', '=', next.id)
          .where('status', '=', next.status)
          .where((eb) => (next.runner === null ? eb('runner', 'is', null) : eb('runner', '=', next.runner)))
          .executeTakeFirst();
        if (!affected(take)) continue;
        const report = await this.runOne(!!next.dry_run, next.id, next.reply_to);
        await this.app.db
          .updateTable('dhcp_apply_requests')
          .set({ status: 'done', result: JSON.stringify(report), finished_at: now() })
          .where('id', '=', next.id)
          .where('runner', '=', this.owner)
          .execute();
      }
    } finally {
      await this.pruneSometimes();
      // Only a running server keeps the lease between applies; an `exec` lets it go at once.
      if (!this.resident) await this.release();
    }
  }

  private async runOne(dryRun: boolean, requestId: number, replyTo: string | null): Promise<ApplyReport> {
    const renew = setInterval(() => void this.leases.acquire(APPLY_LEASE, LEASE_TTL_MS).catch(() => undefined), RENEW_MS);
    try {
      return await applyOnce(this.app, this.svc, { dryRun, requestId, replyTo, stillHolder: () => this.leases.acquire(APPLY_LEASE, LEASE_TTL_MS) });
    } catch (err) {
      // Every step that touches a live file reports itself; anything else failed before the first one.
      this.app.log.error({ err }, 'dhcp apply failed');
      return failed(`Apply failed before any live file was changed: ${(err as Error).message ?? String(err)}`);
    } finally {
      clearInterval(renew);
    }
  }

  private async giveUp(id: number, runner: string | null): Promise<ApplyReport> {
    const lease = await this.app.db.selectFrom('schedule_leases').select('owner').where('name', '=', APPLY_LEASE).executeTakeFirst();
    const holder = describeOwner(runner ?? lease?.owner ?? 'nobody');
    const secs = this.waitMs >= 10_000 ? Math.round(this.waitMs / 1000) : this.waitMs / 1000;
    const r = await this.app.db
      .updateTable('dhcp_apply_requests')
      .set({ status: 'done', result: JSON.stringify(failed('cancelled: no answer')), finished_at: now() })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .executeTakeFirst();
    if (affected(r))
      return failed(
        `No answer within ${secs} s from the process holding the apply lease (${holder}); the request was withdrawn and no file was changed for it. Check that process, or stop it so another takes the lease.`,
      );
    return failed(`The apply is still running on ${holder} after ${secs} s; its result will not be posted here (see the files and \`dhcp apply --dry-run\` later).`);
  }

  private async pruneSometimes(): Promise<void> {
    const t = Date.now();
    if (t - this.lastPrune < 3_600_000) return;
    this.lastPrune = t;
    await this.app.db
      .deleteFrom('dhcp_apply_requests')
      .where('status', '=', 'done')
      .where('finished_at', '<', t - 7 * 86_400_000)
      .execute()
      .catch(() => undefined);
  }
}

const failed = (text: string): ApplyReport => ({ ok: false, text, added: 0, changed: 0, removed: 0 });

/** `host:pid:…/dhcpN` → "process 1234 on host" for messages. */
function describeOwner(owner: string): string {
  const [host, pid] = owner.split('/')[0]!.split(':');
  return pid ? `process ${pid} on ${host === os.hostname() ? 'this machine' : host}` : owner;
}
