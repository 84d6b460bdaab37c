// The shapes of jobs: what a job kind implements, what its run gets (JobContext), and the stored row.
// `A` is what the job gets as `ctx.app` (App, bound in src/app-types.ts); the core never looks into it.
import type { Transaction } from 'kysely';
import type { Logger } from '../log.js';
import type { Tables } from '../store/db.js';
import type { OutFile, OutMessage, Target } from './types.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobResult {
  text: string;
  files?: OutFile[];
  /** Structured result kept in the store (no secrets). */
  data?: unknown;
}

export interface JobContext<A = unknown> {
  id: number;
  // biome-ignore lint/suspicious/noExplicitAny: each job kind reads its own arguments' shape
  args: any;
  app: A;
  log: Logger;
  /** Aborted when someone runs `cancel <id>`, or when another process settled this job (see `lost`). */
  signal: AbortSignal;
  requester: { platform: string; userId: string };
  target: Target | null;
  /** Report progress; cheap to call often (store writes and chat edits are throttled). */
  progress(done: number, total?: number, note?: string): void;
  /**
   * Record the result that stands once the job's work is stored. Pass the transaction that stores the work
   * (call it last inside it) so the two commit together. If the process dies before the final report, the
   * job is recovered as succeeded with this result. Throws JobLost (rolling the transaction back) when this
   * process no longer owns the job.
   */
  committed(result: JobResult | string, tx?: Transaction<Tables>): Promise<void>;
  /** Direct message to whoever started the job. */
  dm(msg: OutMessage | string, opts?: { secret?: boolean }): Promise<void>;
  /** A separate message in the job's channel (e.g. a file). */
  post(msg: OutMessage | string): Promise<void>;
  throwIfCancelled(): void;
}

export interface JobKind<A = unknown> {
  // biome-ignore lint/suspicious/noExplicitAny: each job kind reads its own arguments' shape
  title?(args: any): string;
  run(ctx: JobContext<A>): Promise<JobResult | string>;
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
  committed: string | null;
}

export class JobCancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

/** This process no longer owns the job: another one settled it (it looked dead) and its verdict stands. */
export class JobLost extends JobCancelled {
  constructor(readonly jobId: number) {
    super();
    this.message = `job #${jobId} was settled by another process`;
  }
}
