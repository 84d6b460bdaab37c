import type { Kysely } from 'kysely';

// One row per named schedule: which process may run it until when, so replicas sharing a store run each
// scheduled task once (prune, stale-node checks and alert repeats would otherwise post once per replica).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('schedule_leases')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(128)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}
