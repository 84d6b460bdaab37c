import type { Kysely } from 'kysely';
import type { Engine } from '../src/store/db.js';
import { col } from '../src/store/db.js';

// The result that stands once a job's work is stored (`ctx.committed(result)`), written by the job itself
// (in the same transaction as its work where it can). A job whose process died after that point is recovered
// as succeeded with this result, not failed as interrupted.
export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('committed', col.longText(engine)).execute();
}
