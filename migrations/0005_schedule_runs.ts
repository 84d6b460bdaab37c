import type { Kysely } from 'kysely';

// One row per period a schedule ran in: the process that inserts (name, period) first runs it, so a lease
// taken over in mid-period never runs that period a second time. Doubles as a record of runs for operators
// and tests; rows older than a few days are pruned.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('schedule_runs')
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('period', 'varchar(32)', (c) => c.notNull())
    .addColumn('owner', 'varchar(128)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('schedule_runs_pk', ['name', 'period'])
    .execute();
  await db.schema.createIndex('schedule_runs_at').on('schedule_runs').column('at').execute();
}
