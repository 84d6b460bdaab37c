import type { Kysely } from 'kysely';
import { col, type Engine } from '../src/store/db.js';

// DHCP/proxy applies asked on any process and run by the one holding the apply lease (src/dhcp/apply-queue.ts):
// status queued → running (runner = the holder) → done (result = the report as JSON, read by the asker).
export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('dhcp_apply_requests')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('dry_run', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('asked_by', 'varchar(191)', (c) => c.notNull())
    .addColumn('runner', 'varchar(191)')
    .addColumn('result', col.longText(engine))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema.createIndex('dhcp_apply_requests_status').on('dhcp_apply_requests').columns(['status', 'id']).execute();
}
