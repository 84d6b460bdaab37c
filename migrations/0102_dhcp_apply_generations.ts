import type { Kysely } from 'kysely';
import { col, type Engine } from '../src/store/db.js';

// Applies run by an apply agent on the DHCP/proxy server (src/dhcp/apply-agents.ts):
// - dhcp_apply_requests.reply_to: the chat target the apply was asked in (JSON {platform, channel, thread}),
//   where the agent's outcome is posted.
// - dhcp_apply_generations: one row per apply handed to one node: the rendered files of its backends, the
//   summary, status pending → done (or superseded by a newer generation), the agent's outcome, and whether
//   that outcome was posted.
export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema.alterTable('dhcp_apply_requests').addColumn('reply_to', 'varchar(512)').execute();
  await db.schema
    .createTable('dhcp_apply_generations')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('request_id', 'integer')
    .addColumn('dry_run', 'integer', (c) => c.notNull())
    .addColumn('backends', 'varchar(255)', (c) => c.notNull())
    .addColumn('payload', col.longText(engine), (c) => c.notNull())
    .addColumn('etag', 'varchar(64)', (c) => c.notNull())
    .addColumn('reply_to', 'varchar(512)')
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('ok', 'integer')
    .addColumn('outcome', col.longText(engine))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('taken_at', 'bigint')
    .addColumn('finished_at', 'bigint')
    .addColumn('posted', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('dhcp_apply_generations_node').on('dhcp_apply_generations').columns(['node_id', 'status', 'id']).execute();
}
