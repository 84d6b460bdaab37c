// The validated rows of a sheet between the `provision` command and its job: stored (passwords sealed) when
// the command queues the job, read by the job, and deleted in the transaction that stores the phones, when the
// job ends, or by the daily prune when a crash left them behind.
import type { Kysely } from 'kysely';
import type { App } from '../app-types.js';
import type { Tables } from '../store/db.js';
import { affected, insertedId } from '../store/db.js';

declare module '../store/db.js' {
  interface Tables {
    provision_batches: { id: import('kysely').Generated<number>; data: string; created_at: number };
  }
}

export class PendingBatches {
  constructor(private app: Pick<App, 'db'>) {}

  private get db(): Kysely<Tables> {
    return this.app.db;
  }

  /** Stores a batch (JSON); its id goes into the job's arguments. */
  async save(batch: unknown): Promise<number> {
    return insertedId(
      await this.db
        .insertInto('provision_batches')
        .values({ data: JSON.stringify(batch), created_at: Date.now() })
        .executeTakeFirst(),
    );
  }

  /** The batch, or undefined when it is gone (its job was interrupted and the rows pruned or dropped). */
  async load<T>(id: number): Promise<T | undefined> {
    const row = await this.db.selectFrom('provision_batches').select('data').where('id', '=', id).executeTakeFirst();
    return row ? (JSON.parse(row.data) as T) : undefined;
  }

  /** Deletes a batch; `db` is the transaction to do it in (the one that stores its phones), else the store. */
  async drop(id: number, db: Kysely<Tables> = this.db): Promise<void> {
    await db.deleteFrom('provision_batches').where('id', '=', id).execute();
  }

  /** Deletes batches older than `ms` (left by a job that never ran to its end); how many. */
  async prune(ms: number): Promise<number> {
    const r = await this.db
      .deleteFrom('provision_batches')
      .where('created_at', '<', Date.now() - ms)
      .executeTakeFirst();
    return affected(r);
  }
}
