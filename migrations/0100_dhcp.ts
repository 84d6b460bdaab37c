import type { Kysely } from 'kysely';
import { col, type Engine } from '../src/store/db.js';

export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('dhcp_hosts')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('mac', 'varchar(17)', (c) => c.notNull().unique())
    .addColumn('ip', 'varchar(15)', (c) => c.notNull().unique())
    .addColumn('ip_num', 'bigint', (c) => c.notNull())
    .addColumn('hostname', 'varchar(63)', (c) => c.notNull().unique())
    .addColumn('room', 'varchar(255)')
    .addColumn('phones', 'varchar(1024)', (c) => c.notNull())
    .addColumn('owner', 'varchar(255)')
    .addColumn('access', 'integer', (c) => c.notNull())
    .addColumn('comment', 'varchar(1024)')
    .addColumn('boot_server', 'varchar(255)')
    .addColumn('updated_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('dhcp_history')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('mac', 'varchar(17)', (c) => c.notNull())
    .addColumn('action', 'varchar(16)', (c) => c.notNull())
    .addColumn('before', col.longText(engine))
    .addColumn('after', col.longText(engine))
    .addColumn('by', 'varchar(255)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dhcp_history_mac').on('dhcp_history').columns(['mac', 'id']).execute();
  await db.schema
    .createTable('calls')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('number', 'varchar(64)', (c) => c.notNull())
    .addColumn('normalized', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)')
    .addColumn('called', 'varchar(64)')
    .addColumn('source', 'varchar(64)')
    .addColumn('matches', col.longText(engine), (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('calls_at').on('calls').column('at').execute();
}
