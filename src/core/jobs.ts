// Durable jobs: a row in `jobs` per piece of long work (queued → running → succeeded|failed|cancelled),
// with progress (done/total/note) and a result. One chat message per job is edited in place as progress
// moves (at most one edit per jobs.editIntervalMs) and ends with the result. While a process runs jobs (in any
// mode, `exec` too) it heartbeats them; every progress and final write is made only while this process still
// owns the running job, so a job another process settled (its owner looked dead, e.g. paused past its
// heartbeat) is stopped here without another word. A job records the result of its stored work with
// `ctx.committed`; recovery (src/core/job-recovery.ts) reports such a job as succeeded, never "interrupted".
import type { Kysely, Updateable } from 'kysely';
import type { Tables } from '../store/db.js';
import { now, insertedId, affected } from '../store/db.js';
import { retryWhileUnavailable, withConflictRetry } from '../store/conflict-retry.js';
import { isStoreUnavailable, storeErrorReason } from '../store/store-errors.js';
import { scrub } from '../secrets.js';
import { codeOf, withCode } from './command.js';
import { errorRef, SbError } from '../util/errors.js';
import type { MessageRef, Target } from './types.js';
import { JobCancelled, JobLost, type JobContext, type JobKind, type JobResult, type JobRow, type JobStatus } from './job-types.js';
import { OWNER } from './owner.js';
import { filesCaption, renderJob, resultJson, withNote } from './job-render.js';
import './job-table.js';
import { recoverJobs } from './job-recovery.js';
import type { EnqueueOptions, JobRunnerPorts } from './ports.js';

export { OWNER, ownerIsDeadLocalProcess } from './owner.js';
export { filesCaption, renderJob } from './job-render.js';

export * from './job-types.js';

interface Live {
  abort: AbortController;
  done: Promise<JobRow>;
  /** Claimed by this process (running here); before that the heartbeat leaves it alone. */
  claimed: boolean;
  /** Settled by another process: no more writes or chat edits from here. */
  lost: boolean;
}

/** `A` is the app: the runner uses its ports and hands the whole of it to jobs as `ctx.app`. */
export class JobRunner<A extends JobRunnerPorts<A>> {
  private live = new Map<number, Live>();
  private heartbeat?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;

  constructor(
    private app: A,
    readonly owner: string = OWNER,
  ) {}

  private get db() {
    return this.app.db;
  }

  private kind(kind: string): JobKind<A> {
    const k = this.app.registry.jobKinds.get(kind);
    if (!k) throw new Error(`unknown job kind "${kind}"`);
    return k;
  }

  /** Server mode: recover what a crash left behind, then sweep for dead owners every staleAfterMs/2. */
  async startBackground(): Promise<void> {
    const cfg = this.app.config.jobs;
    await this.recover();
    this.sweeper = setInterval(() => void this.recover().catch((e) => this.app.log.warn({ err: String(e) }, 'job sweep failed')), Math.max(cfg.staleAfterMs / 2, 1000));
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    for (const l of this.live.values()) l.abort.abort();
    await Promise.allSettled([...this.live.values()].map((l) => l.done));
    this.stopBeating();
  }

  /** The heartbeat runs while this process has live jobs, in every mode. */
  private startBeating(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => void this.beat().catch((e) => this.app.log.warn({ err: String(e) }, 'job heartbeat failed')), this.app.config.jobs.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopBeating(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private async beat(): Promise<void> {
    const ids = [...this.live].filter(([, l]) => l.claimed && !l.lost).map(([id]) => id);
    if (ids.length === 0) return;
    await this.db.updateTable('jobs').set({ heartbeat_at: now() }).where('id', 'in', ids).where('owner', '=', this.owner).where('status', '=', 'running').execute();
    const rows = await this.db.selectFrom('jobs').select(['id', 'status', 'owner', 'cancel_requested']).where('id', 'in', ids).execute();
    for (const r of rows) {
      if (r.status !== 'running' || r.owner !== this.owner) this.lose(r.id, r.status);
      else if (r.cancel_requested) this.live.get(r.id)?.abort.abort(); // cancelled from another process
    }
  }

  /** Another process settled this job while it ran here: stop it, and write or edit nothing more. */
  private lose(id: number, status?: string): void {
    const l = this.live.get(id);
    if (!l || l.lost) return;
    l.lost = true;
    l.abort.abort();
    this.app.log.warn({ job: id, status }, 'another process settled this job (this one looked dead); stopping it here without reporting');
  }

  /** Settle jobs whose owner died (a dead local pid, or a heartbeat older than staleAfterMs); see job-recovery.ts. */
  recover(): Promise<number> {
    return recoverJobs({
      db: this.db,
      log: this.app.log,
      owner: this.owner,
      staleAfterMs: this.app.config.jobs.staleAfterMs,
      kinds: this.app.registry.jobKinds,
      resume: this.app.mode === 'server',
      run: (id) => void this.run(id),
      edit: (row) => this.editMessage(row),
    });
  }

  /** Create a job and start it in this process. */
  async enqueue(kind: string, args: unknown, opts: EnqueueOptions): Promise<number> {
    const def = this.kind(kind);
    const r = await this.db
      .insertInto('jobs')
      .values({
        kind,
        args: JSON.stringify(args ?? {}),
        status: 'queued',
        done: 0,
        total: opts.total ?? 0,
        note: opts.note ?? null,
        requested_platform: opts.platform,
        requested_user: opts.userId,
        target: opts.target ? JSON.stringify(opts.target) : null,
        cancel_requested: 0,
        created_at: now(),
      })
      .executeTakeFirst();
    const id = insertedId(r);
    this.app.metrics.jobs.inc({ kind, status: 'queued' });
    if (opts.target) {
      try {
        const ref = await this.app.notifier.send(opts.target, {
          text: renderJob({ id, kind, status: 'queued', done: 0, total: opts.total ?? 0, note: null, result: null, error: null }, def.title?.(args)),
        });
        await this.db
          .updateTable('jobs')
          .set({ message_ref: JSON.stringify(ref) })
          .where('id', '=', id)
          .execute();
      } catch (err) {
        this.app.log.warn({ err: String(err), job: id }, 'could not post job message');
      }
    }
    void this.run(id);
    return id;
  }

  /** Resolves when the job reaches a final state (for `exec`, which waits). */
  async wait(id: number): Promise<JobRow> {
    const l = this.live.get(id);
    if (l) return l.done;
    for (;;) {
      const row = (await this.get(id))!;
      if (!row || ['succeeded', 'failed', 'cancelled'].includes(row.status)) return row;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The newest jobs, newest first; `activeOnly`: just those queued or running. */
  async recent(opts: { limit: number; activeOnly?: boolean }): Promise<JobRow[]> {
    let q = this.db.selectFrom('jobs').selectAll().orderBy('id', 'desc').limit(opts.limit);
    if (opts.activeOnly) q = q.where('status', 'in', ['queued', 'running']);
    return (await q.execute()) as JobRow[];
  }

  async get(id: number): Promise<JobRow | undefined> {
    return (await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst()) as JobRow | undefined;
  }

  async cancel(id: number): Promise<'cancelling' | 'cancelled' | 'finished' | 'unknown'> {
    const row = await this.get(id);
    if (!row) return 'unknown';
    if (['succeeded', 'failed', 'cancelled'].includes(row.status)) return 'finished';
    if (row.status === 'queued') {
      const r = await this.db.updateTable('jobs').set({ status: 'cancelled', finished_at: now() }).where('id', '=', id).where('status', '=', 'queued').executeTakeFirst();
      if (affected(r)) {
        await this.editMessage({ ...row, status: 'cancelled' });
        return 'cancelled';
      }
    }
    await this.db.updateTable('jobs').set({ cancel_requested: 1 }).where('id', '=', id).execute();
    this.live.get(id)?.abort.abort();
    return 'cancelling';
  }

  private async editMessage(row: JobRow): Promise<void> {
    if (!row.message_ref) return;
    try {
      const ref = JSON.parse(row.message_ref) as MessageRef;
      const def = this.app.registry.jobKinds.get(row.kind);
      await this.app.notifier.update(ref, { text: renderJob(row, def?.title?.(JSON.parse(row.args))) });
    } catch (err) {
      this.app.log.warn({ err: String(err), job: row.id }, 'could not edit job message');
    }
  }

  private run(id: number): Promise<JobRow> {
    const abort = new AbortController();
    let resolveDone!: (r: JobRow) => void;
    let rejectDone!: (err: unknown) => void;
    const done = new Promise<JobRow>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
    done.catch(() => undefined); // nobody may be waiting (a chat command's job): the failure is logged above
    const live: Live = { abort, done, claimed: false, lost: false };
    this.live.set(id, live);
    this.startBeating();
    const finish = (row: JobRow) => {
      this.live.delete(id);
      if (this.live.size === 0) this.stopBeating();
      resolveDone(row);
    };
    void this.execute(id, live).then(finish, async (err: unknown) => {
      // The store may be what failed (no host answers): then the row cannot be read either, and the job's end
      // is reported to whoever waits as that error (exec prints it and exits 1), never as an unhandled rejection.
      if (isStoreUnavailable(err)) this.app.log.warn({ job: id, reason: storeErrorReason(err) }, 'job stopped: the store is unavailable');
      else this.app.log.error({ err, job: id }, 'job runner failed');
      const row = await this.get(id).catch(() => undefined);
      if (row) return finish(row);
      this.live.delete(id);
      if (this.live.size === 0) this.stopBeating();
      rejectDone(err);
    });
    return done;
  }

  /** A write to this job's row, made only while this process owns it and it runs; false (and the job stops) otherwise. */
  private async ownWrite(id: number, set: Updateable<Tables['jobs']>, db: Kysely<Tables> = this.db): Promise<boolean> {
    // Inside a caller's transaction a conflict aborts that transaction: only a standalone write is retried here.
    const write = () => db.updateTable('jobs').set(set).where('id', '=', id).where('owner', '=', this.owner).where('status', '=', 'running').executeTakeFirst();
    const r = db === this.db ? await withConflictRetry(write) : await write();
    if (affected(r)) return true;
    this.lose(id);
    return false;
  }

  private async execute(id: number, live: Live): Promise<JobRow> {
    const { abort } = live;
    const t0 = now();
    const claim = await withConflictRetry(() =>
      this.db.updateTable('jobs').set({ status: 'running', owner: this.owner, started_at: t0, heartbeat_at: t0 }).where('id', '=', id).where('status', '=', 'queued').executeTakeFirst(),
    );
    let row = (await this.get(id))!;
    if (!affected(claim)) return row;
    live.claimed = true;
    const def = this.kind(row.kind);
    const args = JSON.parse(row.args);
    const title = def.title?.(args);
    const target = row.target ? (JSON.parse(row.target) as Target) : null;
    const log = this.app.log.child({ job: id, kind: row.kind });
    const state = { done: 0, total: row.total, note: row.note as string | null };
    let lastEdit = 0;
    let editTimer: NodeJS.Timeout | undefined;
    let lastDbWrite = 0;
    let dbTimer: NodeJS.Timeout | undefined;
    let editing: Promise<void> = Promise.resolve();
    const interval = this.app.config.jobs.editIntervalMs;

    const writeProgress = async (): Promise<boolean> => {
      lastDbWrite = Date.now();
      if (live.lost) return false;
      return this.ownWrite(id, { done: state.done, total: state.total, note: state.note?.slice(0, 1000) ?? null, heartbeat_at: now() });
    };
    // An edit follows a write that proves this process still owns the job, so a settled job's message stays settled.
    const doEdit = () => {
      lastEdit = Date.now();
      editTimer = undefined;
      editing = editing.then(async () => {
        if (!(await writeProgress().catch(() => false))) return;
        await this.editMessage({ ...row, status: 'running', done: state.done, total: state.total, note: state.note });
        // Paused between the write and the edit, another process may have settled the job and edited the
        // message meanwhile: then this late "running" edit must not be the last word.
        const now = await this.get(id).catch(() => undefined);
        if (now && (now.status !== 'running' || now.owner !== this.owner)) {
          this.lose(id);
          await this.editMessage(now);
        }
      });
    };
    const ctx: JobContext<A> = {
      id,
      args,
      app: this.app,
      log,
      signal: abort.signal,
      requester: { platform: row.requested_platform, userId: row.requested_user },
      target,
      progress: (d, total, note) => {
        state.done = d;
        if (total !== undefined) state.total = total;
        if (note !== undefined) state.note = note;
        if (live.lost) return;
        const since = Date.now() - lastDbWrite;
        if (since >= 250) void writeProgress().catch(() => undefined);
        else if (!dbTimer)
          dbTimer = setTimeout(() => {
            dbTimer = undefined;
            void writeProgress().catch(() => undefined);
          }, 250 - since);
        if (!row.message_ref || editTimer) return;
        const wait = interval - (Date.now() - lastEdit);
        if (wait <= 0) doEdit();
        else editTimer = setTimeout(doEdit, wait);
      },
      committed: async (r, tx) => {
        if (live.lost || !(await this.ownWrite(id, { committed: resultJson(typeof r === 'string' ? { text: r } : r) }, tx))) throw new JobLost(id);
      },
      dm: async (msg, opts) => {
        await this.app.notifier.dm(row.requested_platform, row.requested_user, typeof msg === 'string' ? { text: msg } : msg, opts);
      },
      post: async (msg) => {
        if (target) await this.app.notifier.send(target, typeof msg === 'string' ? { text: msg } : msg);
      },
      throwIfCancelled: () => {
        if (abort.signal.aborted) throw live.lost ? new JobLost(id) : new JobCancelled();
      },
    };

    let status: JobStatus = 'succeeded';
    let result: JobResult | null = null;
    let error: string | null = null;
    try {
      const r = await def.run(ctx);
      result = typeof r === 'string' ? { text: r } : r;
      if (abort.signal.aborted) status = 'cancelled';
    } catch (err) {
      if (abort.signal.aborted || err instanceof JobCancelled) status = 'cancelled';
      else {
        status = 'failed';
        // A job kind's family is its first word ('provision-notify' → provision), as for commands.
        if (err instanceof SbError) {
          const code = codeOf(err, row.kind.split('-')[0]!);
          log.info({ code }, 'job refused');
          error = withCode(err.message, code);
        } else {
          const ref = errorRef();
          log.error({ err, ref, code: 'SB_INTERNAL' }, 'job failed');
          error = `internal error (ref ${ref}; details in the bot's log) (SB_INTERNAL)`;
        }
      }
    } finally {
      clearTimeout(editTimer);
      clearTimeout(dbTimer);
    }
    await editing;
    // Settled by another process while this one was away: its verdict stands, and nothing more is said here.
    if (live.lost) return (await this.get(id))!;
    let resultText = result ? resultJson(result) : null;
    if (status !== 'succeeded') {
      // The work was stored before the failure or the cancel came: that is what the job did.
      const committed = (await this.get(id))?.committed;
      if (committed) {
        resultText = withNote(committed, status === 'cancelled' ? '⚠ The cancel came after this work was stored.' : `⚠ After this work was stored: ${scrub(error ?? 'failed')}`);
        status = 'succeeded';
        error = null;
      }
    }
    // The final word waits for the store when no host answers (a cluster losing a node, a restart): a server
    // keeps trying for minutes, exec for a few seconds; the conditional write keeps it once-only either way.
    const final = { status, done: state.done, total: state.total, note: state.note, result: resultText, error: error ? scrub(error) : null, finished_at: now() };
    const written = await retryWhileUnavailable(() => this.ownWrite(id, final), {
      maxMs: this.app.mode === 'server' ? 300_000 : 10_000,
      onWait: (err) => log.warn({ reason: storeErrorReason(err) }, 'store unavailable; the job result waits for it'),
    });
    if (!written) return (await this.get(id))!;
    this.app.metrics.jobs.inc({ kind: row.kind, status });
    row = (await this.get(id))!;
    await this.editMessage(row);
    if (result?.files?.length && target) {
      try {
        await this.app.notifier.send(target, { text: filesCaption(id, title ?? row.kind, result.files), files: result.files });
      } catch (err) {
        log.warn({ err: String(err) }, 'could not upload job files');
      }
    }
    return row;
  }
}
