// Durable jobs: a row in `jobs` per piece of long work (queued → running → succeeded|failed|cancelled),
// with progress (done/total/note) and a result. One chat message per job is edited in place as progress
// moves (at most one edit per jobs.editIntervalMs) and ends with the result. A heartbeat marks the owner
// alive; after a crash the next start (or any live process's sweeper) fails what was interrupted, or
// re-runs it when its kind is resumable, so no job stays "running" forever.
import os from 'node:os';
import type { App } from '../app-types.js';
import type { Logger } from '../log.js';
import { now, insertedId, affected } from '../store/db.js';
import { scrub } from '../secrets.js';
import { UserError } from './command.js';
import type { MessageRef, OutFile, OutMessage, Target } from './types.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobResult {
  text: string;
  files?: OutFile[];
  /** Structured result kept in the store (no secrets). */
  data?: unknown;
}

export interface JobContext {
  id: number;
  args: any;
  app: App;
  log: Logger;
  /** Aborted when someone runs `cancel <id>`. */
  signal: AbortSignal;
  requester: { platform: string; userId: string };
  target: Target | null;
  /** Report progress; cheap to call often (store writes and chat edits are throttled). */
  progress(done: number, total?: number, note?: string): void;
  /** Direct message to whoever started the job. */
  dm(msg: OutMessage | string, opts?: { secret?: boolean }): Promise<void>;
  /** A separate message in the job's channel (e.g. a file). */
  post(msg: OutMessage | string): Promise<void>;
  throwIfCancelled(): void;
}

export interface JobKind {
  title?(args: any): string;
  run(ctx: JobContext): Promise<JobResult | string>;
  /** After a crash, run again from the start instead of failing as interrupted. */
  resumable?: boolean;
}

export interface JobRow {
  id: number;
  kind: string;
  args: string;
  status: string;
  done: number;
  total: number;
  note: string | null;
  result: string | null;
  error: string | null;
  requested_platform: string;
  requested_user: string;
  target: string | null;
  message_ref: string | null;
  owner: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  heartbeat_at: number | null;
}

export class JobCancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

/** This process, as named in job and lease rows: host, pid and start time. */
export const OWNER = `${os.hostname()}:${process.pid}:${Date.now().toString(36)}`;

function bar(done: number, total: number): string {
  if (total <= 0) return '';
  const w = 20;
  const f = Math.max(0, Math.min(w, Math.round((done / total) * w)));
  return `[${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total}`;
}

export function renderJob(row: Pick<JobRow, 'id' | 'kind' | 'status' | 'done' | 'total' | 'note' | 'result' | 'error'>, title?: string): string {
  const head = `Job #${row.id} ${title ?? row.kind}`;
  switch (row.status) {
    case 'queued':
      return `⏳ ${head}: queued`;
    case 'running':
      return `⏳ ${head}: running ${bar(row.done, row.total)}${row.note ? ` — ${row.note}` : ''}`.trimEnd();
    case 'succeeded': {
      const text = row.result ? (JSON.parse(row.result) as { text?: string }).text ?? '' : '';
      return `✅ ${head}: done${text ? `\n${text}` : ''}`;
    }
    case 'cancelled':
      return `🚫 ${head}: cancelled${row.done || row.total ? ` after ${row.done}/${row.total}` : ''}`;
    default:
      return `❌ ${head}: failed — ${row.error ?? 'unknown error'}`;
  }
}

interface Live {
  abort: AbortController;
  done: Promise<JobRow>;
}

export class JobRunner {
  private live = new Map<number, Live>();
  private heartbeat?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  readonly owner = OWNER;

  constructor(private app: App) {}

  private get db() {
    return this.app.db;
  }

  private kind(kind: string): JobKind {
    const k = this.app.registry.jobKinds.get(kind);
    if (!k) throw new Error(`unknown job kind "${kind}"`);
    return k;
  }

  /** Begin heartbeats and the sweeper; recover what a crash left behind. */
  async startBackground(): Promise<void> {
    const cfg = this.app.config.jobs;
    await this.recover();
    this.heartbeat = setInterval(() => void this.beat().catch((e) => this.app.log.warn({ err: String(e) }, 'job heartbeat failed')), cfg.heartbeatMs);
    this.heartbeat.unref();
    this.sweeper = setInterval(() => void this.recover().catch((e) => this.app.log.warn({ err: String(e) }, 'job sweep failed')), Math.max(cfg.staleAfterMs / 2, 1000));
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
    for (const l of this.live.values()) l.abort.abort();
    await Promise.allSettled([...this.live.values()].map((l) => l.done));
  }

  private async beat(): Promise<void> {
    if (this.live.size === 0) return;
    const ids = [...this.live.keys()];
    await this.db.updateTable('jobs').set({ heartbeat_at: now() }).where('id', 'in', ids).where('status', '=', 'running').execute();
    // Cancellation requested from another process.
    const cancelled = await this.db.selectFrom('jobs').select('id').where('id', 'in', ids).where('cancel_requested', '=', 1).execute();
    for (const c of cancelled) this.live.get(c.id)?.abort.abort();
  }

  /** Fail (or re-run, if resumable) jobs whose owner died: a dead local pid, or a heartbeat older than staleAfterMs. */
  async recover(): Promise<number> {
    const rows = (await this.db.selectFrom('jobs').selectAll().where('status', '=', 'running').execute()) as JobRow[];
    let n = 0;
    const t = now();
    for (const row of rows) {
      if (row.owner === OWNER) continue;
      const deadLocal = ownerIsDeadLocalProcess(row.owner);
      const stale = (row.heartbeat_at ?? row.started_at ?? 0) < t - this.app.config.jobs.staleAfterMs;
      if (!deadLocal && !stale) continue;
      const kind = this.app.registry.jobKinds.get(row.kind);
      if (kind?.resumable && this.app.mode === 'server') {
        const r = await this.db.updateTable('jobs').set({ status: 'queued', owner: null, done: 0, note: 'resumed after interruption' }).where('id', '=', row.id).where('status', '=', 'running').where('owner', '=', row.owner).executeTakeFirst();
        if (affected(r)) {
          n++;
          void this.run(row.id);
        }
        continue;
      }
      const reason = `interrupted: the process running it (${row.owner ?? 'unknown'}) stopped before it finished`;
      const r = await this.db
        .updateTable('jobs')
        .set({ status: 'failed', error: reason, finished_at: t })
        .where('id', '=', row.id)
        .where('status', '=', 'running')
        .where((eb) => (row.owner === null ? eb('owner', 'is', null) : eb('owner', '=', row.owner)))
        .executeTakeFirst();
      if (affected(r)) {
        n++;
        this.app.log.warn({ job: row.id, kind: row.kind }, reason);
        await this.editMessage({ ...row, status: 'failed', error: reason });
      }
    }
    return n;
  }

  /** Create a job and start it in this process. */
  async enqueue(kind: string, args: unknown, opts: { platform: string; userId: string; target: Target | null; total?: number; note?: string }): Promise<number> {
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
        const ref = await this.app.notifier.send(opts.target, { text: renderJob({ id, kind, status: 'queued', done: 0, total: opts.total ?? 0, note: null, result: null, error: null }, def.title?.(args)) });
        await this.db.updateTable('jobs').set({ message_ref: JSON.stringify(ref) }).where('id', '=', id).execute();
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
    const done = new Promise<JobRow>((r) => (resolveDone = r));
    this.live.set(id, { abort, done });
    void this.execute(id, abort).then(
      (row) => {
        this.live.delete(id);
        resolveDone(row);
      },
      async (err) => {
        this.app.log.error({ err, job: id }, 'job runner failed');
        this.live.delete(id);
        resolveDone((await this.get(id))!);
      },
    );
    return done;
  }

  private async execute(id: number, abort: AbortController): Promise<JobRow> {
    const t0 = now();
    const claim = await this.db.updateTable('jobs').set({ status: 'running', owner: OWNER, started_at: t0, heartbeat_at: t0 }).where('id', '=', id).where('status', '=', 'queued').executeTakeFirst();
    let row = (await this.get(id))!;
    if (!affected(claim)) return row;
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

    const writeProgress = async () => {
      lastDbWrite = Date.now();
      await this.db.updateTable('jobs').set({ done: state.done, total: state.total, note: state.note?.slice(0, 1000) ?? null, heartbeat_at: now() }).where('id', '=', id).execute();
    };
    const doEdit = () => {
      lastEdit = Date.now();
      editTimer = undefined;
      editing = editing.then(() => this.editMessage({ ...row, status: 'running', done: state.done, total: state.total, note: state.note }));
    };
    const ctx: JobContext = {
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
        const since = Date.now() - lastDbWrite;
        if (since >= 250) void writeProgress().catch(() => undefined);
        else if (!dbTimer) dbTimer = setTimeout(() => { dbTimer = undefined; void writeProgress().catch(() => undefined); }, 250 - since);
        if (!row.message_ref || editTimer) return;
        const wait = interval - (Date.now() - lastEdit);
        if (wait <= 0) doEdit();
        else editTimer = setTimeout(doEdit, wait);
      },
      dm: async (msg, opts) => {
        await this.app.notifier.dm(row.requested_platform, row.requested_user, typeof msg === 'string' ? { text: msg } : msg, opts);
      },
      post: async (msg) => {
        if (target) await this.app.notifier.send(target, typeof msg === 'string' ? { text: msg } : msg);
      },
      throwIfCancelled: () => {
        if (abort.signal.aborted) throw new JobCancelled();
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
        if (err instanceof UserError) error = err.message;
        else {
          const ref = Math.random().toString(36).slice(2, 8);
          log.error({ err, ref }, 'job failed');
          error = `internal error (ref ${ref}; details in the bot's log)`;
        }
      }
    } finally {
      clearTimeout(editTimer);
      clearTimeout(dbTimer);
    }
    await editing;
    const resultJson = result ? JSON.stringify({ text: scrub(result.text), data: result.data, files: result.files?.map((f) => f.name) }) : null;
    await this.db
      .updateTable('jobs')
      .set({ status, done: state.done, total: state.total, note: state.note, result: resultJson, error: error ? scrub(error) : null, finished_at: now() })
      .where('id', '=', id)
      .execute();
    this.app.metrics.jobs.inc({ kind: row.kind, status });
    row = (await this.get(id))!;
    await this.editMessage(row);
    if (result?.files?.length && target) {
      try {
        await this.app.notifier.send(target, { text: `Job #${id} ${title ?? row.kind}: files`, files: result.files });
      } catch (err) {
        log.warn({ err: String(err) }, 'could not upload job files');
      }
    }
    return row;
  }
}

/** True when `owner` names a process on this machine that is gone (so what it held can be taken over). */
export function ownerIsDeadLocalProcess(owner: string | null): boolean {
  if (!owner) return true;
  const [host, pidStr] = owner.split(':');
  if (host !== os.hostname()) return false;
  const pid = Number(pidStr);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return owner !== OWNER;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
