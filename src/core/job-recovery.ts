// After a crash (or while another process is paused past its heartbeat): running jobs whose owner is a dead
// local process or whose heartbeat is stale are settled by whoever notices. A job that had recorded the result
// of its stored work (`ctx.committed`) succeeded with that result; a resumable kind runs again; anything else
// failed as interrupted. Every write is conditional on the owner seen, so two recoverers never both settle it,
// and the late owner's own writes (which check that it still owns a running job) find it settled and stop.
import type { DB } from '../store/db.js';
import { affected, now } from '../store/db.js';
import type { Logger } from '../log.js';
import type { JobKind, JobRow } from './job-types.js';
import { ownerIsDeadLocalProcess } from './owner.js';
import { withNote } from './job-render.js';

export interface RecoveryHost {
  db: DB;
  log: Logger;
  /** This process: its own running jobs are never recovered here. */
  owner: string;
  staleAfterMs: number;
  kinds: ReadonlyMap<string, Pick<JobKind, 'resumable'>>;
  /** Server mode: resumable kinds are queued again and started here. */
  resume: boolean;
  run(id: number): void;
  edit(row: JobRow): Promise<void>;
}

export const stoppedBeforeReport = (owner: string | null) => `⚠ The process running this job (${owner ?? 'unknown'}) stopped before its final report; the result above is what it had stored.`;

export const interrupted = (owner: string | null) => `interrupted: the process running it (${owner ?? 'unknown'}) stopped before it finished`;

export async function recoverJobs(h: RecoveryHost): Promise<number> {
  const rows = (await h.db.selectFrom('jobs').selectAll().where('status', '=', 'running').execute()) as JobRow[];
  let n = 0;
  const t = now();
  for (const row of rows) {
    if (row.owner === h.owner) continue;
    const deadLocal = ownerIsDeadLocalProcess(row.owner);
    const stale = (row.heartbeat_at ?? row.started_at ?? 0) < t - h.staleAfterMs;
    if (!deadLocal && !stale) continue;
    const sameOwner = h.db
      .updateTable('jobs')
      .where('id', '=', row.id)
      .where('status', '=', 'running')
      .where((eb) => (row.owner === null ? eb('owner', 'is', null) : eb('owner', '=', row.owner)));
    if (row.committed) {
      const result = withNote(row.committed, stoppedBeforeReport(row.owner));
      if (affected(await sameOwner.set({ status: 'succeeded', result, finished_at: t }).executeTakeFirst())) {
        n++;
        h.log.warn({ job: row.id, kind: row.kind, owner: row.owner }, 'job stopped after its work was stored; recorded as succeeded with its stored result');
        await h.edit({ ...row, status: 'succeeded', result, finished_at: t });
      }
      continue;
    }
    if (h.kinds.get(row.kind)?.resumable && h.resume) {
      if (affected(await sameOwner.set({ status: 'queued', owner: null, done: 0, note: 'resumed after interruption' }).executeTakeFirst())) {
        n++;
        h.run(row.id);
      }
      continue;
    }
    const reason = interrupted(row.owner);
    if (affected(await sameOwner.set({ status: 'failed', error: reason, finished_at: t }).executeTakeFirst())) {
      n++;
      h.log.warn({ job: row.id, kind: row.kind }, reason);
      await h.edit({ ...row, status: 'failed', error: reason, finished_at: t });
    }
  }
  return n;
}
