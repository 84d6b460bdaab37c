import type { Kysely } from 'kysely';
import { col, type Engine } from '../src/store/db.js';

export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('phones')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('mac', 'varchar(12)', (c) => c.notNull().unique())
    .addColumn('model', 'varchar(64)', (c) => c.notNull())
    .addColumn('extension', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('auth_user', 'varchar(64)', (c) => c.notNull())
    .addColumn('server', 'varchar(255)', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('line', 'integer', (c) => c.notNull())
    .addColumn('room', 'varchar(255)')
    .addColumn('ip', 'varchar(15)')
    .addColumn('extra', 'varchar(2048)', (c) => c.notNull())
    .addColumn('password_sealed', 'varchar(512)', (c) => c.notNull())
    .addColumn('token', 'varchar(64)', (c) => c.notNull())
    .addColumn('files', 'varchar(1024)', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('digest', 'varchar(64)', (c) => c.notNull())
    .addColumn('target', 'varchar(255)')
    .addColumn('generated_at', 'bigint', (c) => c.notNull())
    .addColumn('announced_version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_fetch_at', 'bigint')
    .addColumn('last_fetch_ip', 'varchar(45)')
    .addColumn('last_fetch_ua', 'varchar(255)')
    .addColumn('updated_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('phones_extension').on('phones').column('extension').execute();
  await db.schema
    .createTable('provision_requests')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('ip', 'varchar(45)', (c) => c.notNull())
    .addColumn('user_agent', 'varchar(255)')
    .addColumn('path', 'varchar(512)', (c) => c.notNull())
    .addColumn('file', 'varchar(255)')
    .addColumn('mac', 'varchar(12)')
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('decision', 'varchar(16)', (c) => c.notNull())
    .addColumn('reason', 'varchar(512)')
    .execute();
  await db.schema.createIndex('provision_requests_mac').on('provision_requests').columns(['mac', 'id']).execute();
  await db.schema.createIndex('provision_requests_at').on('provision_requests').column('at').execute();
  // Validated rows (passwords sealed) handed from the command to its job; deleted when the job ends.
  await db.schema
    .createTable('provision_batches')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('data', col.longText(engine), (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}
