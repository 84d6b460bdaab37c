// Schedules that run once per period across every process on the store. Each schedule has a lease
// (src/core/leases.ts) that a heartbeat renews every `schedules.renewMs` for all the schedules this process
// runs, with a TTL of `schedules.leaseTtlMs`, so a holder that dies on any host is replaced within
// TTL + one renewal (< 60 s; at once for a dead process on this machine). When a period starts, the holder
// claims the period itself with a row in `schedule_runs` (primary key name + period) before running, so even a
// takeover in mid-period never runs a period twice. Interval periods are aligned to the epoch (every process
// computes the same boundaries); cron periods are the cron slot's time. `schedule_runs` is the record of runs.
import cron from 'node-cron';
import type { DB } from '../store/db.js';
import { isUniqueViolation, now } from '../store/db.js';
import type { Logger } from '../log.js';
import type { Leases } from './leases.js';
import { withConflictRetry } from '../store/conflict-retry.js';
import { isStoreUnavailable, storeErrorReason } from '../store/store-errors.js';

declare module '../store/db.js' {
  interface Tables {
    schedule_runs: { name: string; period: string; owner: string; at: number };
  }
}

export interface SchedulerOptions {
  leaseTtlMs: number;
  renewMs: number;
  keepRunsDays: number;
}

interface Entry {
  name: string;
  fn: () => Promise<void> | void;
  busy: boolean;
  stop(): void;
  /** The latest slot this process fired: a slot fires at most once here (its claim would find its own row). */
  lastSlot?: number;
}

/** The period key of a slot: its start time, readable in `schedule_runs`. */
export const periodOf = (slotMs: number): string => new Date(slotMs).toISOString();

export class Scheduler {
  private entries = new Map<string, Entry>();
  private heartbeat?: NodeJS.Timeout;
  private lastPrune = 0;
  /** The store did not answer the last lease renewal. */
  paused = false;

  constructor(
    private db: DB,
    private leases: Leases,
    private log: Logger,
    private opts: SchedulerOptions,
  ) {}

  /** Run fn every `every` ms (aligned to the epoch) or on a cron expression (5 or 6 fields), once per period cluster-wide. */
  add(name: string, every: string | number, fn: () => Promise<void> | void): void {
    if (this.entries.has(name)) throw new Error(`schedule "${name}" is registered twice`);
    if (name.length > 64) throw new Error(`schedule name "${name}" is longer than 64 characters`);
    const e: Entry = { name, fn, busy: false, stop: () => undefined };
    if (typeof every === 'number') {
      if (!Number.isFinite(every) || every < 100) throw new Error(`schedule "${name}": the interval must be at least 100 ms (got ${every})`);
      let t: NodeJS.Timeout;
      let armed = 0;
      const arm = () => {
        // The next boundary after the one just armed: a timer that fires a millisecond early (Node rounds) must
        // not arm the same slot again.
        const slot = Math.max((Math.floor(Date.now() / every) + 1) * every, armed + every);
        armed = slot;
        t = setTimeout(() => {
          arm();
          void this.fire(e, slot);
        }, slot - Date.now());
        t.unref();
      };
      arm();
      e.stop = () => clearTimeout(t);
    } else {
      if (!cron.validate(every)) throw new Error(`schedule "${name}": "${every}" is not a valid cron expression`);
      const task = cron.schedule(every, (c) => void this.fire(e, c.date.getTime()), { name });
      e.stop = () => void task.stop();
    }
    this.entries.set(name, e);
    void this.renew(name);
    this.startHeartbeat();
  }

  /** Stop every schedule and hand their leases over (a clean stop: another process takes over at once). */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const names = [...this.entries.keys()];
    for (const e of this.entries.values()) e.stop();
    this.entries.clear();
    for (const n of names) await this.leases.release(n).catch((err) => this.log.warn({ err: String(err), schedule: n }, 'could not release a schedule lease'));
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    // Renew well inside the TTL, whatever the configuration says.
    const every = Math.min(this.opts.renewMs, Math.floor(this.opts.leaseTtlMs / 3));
    this.heartbeat = setInterval(() => void this.beat(), every);
    this.heartbeat.unref();
  }

  private async beat(): Promise<void> {
    for (const name of this.entries.keys()) await this.renew(name);
    await this.pruneRuns();
  }

  /** Takes or renews the lease of one schedule; a store error is logged and retried on the next beat. */
  private async renew(name: string): Promise<boolean> {
    try {
      const held = await withConflictRetry(() => this.leases.acquire(name, this.opts.leaseTtlMs));
      if (this.paused) {
        this.paused = false;
        this.log.info('the store answers again; schedules resumed');
      }
      return held;
    } catch (err) {
      // No store host answers: every schedule pauses (periods pass unrun) and resumes on the first beat that
      // reaches the store; said once, not on every beat.
      if (isStoreUnavailable(err)) {
        if (!this.paused) this.log.warn({ reason: storeErrorReason(err) }, 'store unavailable; schedules paused until it answers');
        this.paused = true;
      } else this.log.warn({ err: String(err), schedule: name }, 'could not renew a schedule lease');
      return false;
    }
  }

  private async fire(e: Entry, slot: number): Promise<void> {
    // Fired twice for one slot (an early timer, a cron tick repeated): the second would claim the period again,
    // find this process's own row and run it twice.
    if (e.lastSlot !== undefined && slot <= e.lastSlot) return;
    e.lastSlot = slot;
    if (e.busy) {
      this.log.warn({ schedule: e.name, period: periodOf(slot) }, 'scheduled task still running; this period is skipped');
      return;
    }
    e.busy = true;
    try {
      if (!(await this.renew(e.name))) return;
      if (!(await this.claimPeriod(e.name, slot))) return;
      await e.fn();
    } catch (err) {
      this.log.error({ err, schedule: e.name }, 'scheduled task failed');
    } finally {
      e.busy = false;
    }
  }

  /** True for the one process that records (name, period) first. */
  async claimPeriod(name: string, slot: number): Promise<boolean> {
    // A retried insert whose first attempt did land (its connection lost after the commit) finds its own row.
    return withConflictRetry(async () => {
      try {
        await this.db
          .insertInto('schedule_runs')
          .values({ name, period: periodOf(slot), owner: this.leases.owner, at: now() })
          .execute();
        return true;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const row = await this.db.selectFrom('schedule_runs').select('owner').where('name', '=', name).where('period', '=', periodOf(slot)).executeTakeFirst();
        return row?.owner === this.leases.owner;
      }
    });
  }

  /** The record of runs is kept `keepRunsDays`; pruned at most hourly per process. */
  private async pruneRuns(): Promise<void> {
    const t = now();
    if (t - this.lastPrune < 3600_000) return;
    this.lastPrune = t;
    try {
      await this.db
        .deleteFrom('schedule_runs')
        .where('at', '<', t - this.opts.keepRunsDays * 86_400_000)
        .execute();
    } catch (err) {
      this.log.warn({ err: String(err) }, 'could not prune schedule_runs');
    }
  }
}
