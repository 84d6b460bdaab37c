import type { Kysely } from 'kysely';
import type { Engine } from '../src/store/db.js';
import { col } from '../src/store/db.js';

// Firmware images (stored once per SHA-256, served at /provision/fw/<sha256>/<name> and over TFTP) and the
// waves that put a model's firmware URL into some phones' configs.
export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('provision_firmware')
    .addColumn('sha256', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('model', 'varchar(64)', (c) => c.notNull())
    .addColumn('version', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('data', col.blob(engine), (c) => c.notNull())
    .addColumn('added_by', 'varchar(191)', (c) => c.notNull())
    .addColumn('added_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('provision_firmware_model').on('provision_firmware').columns(['model', 'version']).unique().execute();
  await db.schema
    .createTable('provision_waves')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('model', 'varchar(64)', (c) => c.notNull())
    .addColumn('version', 'varchar(64)', (c) => c.notNull())
    .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
    .addColumn('macs', col.longText(engine), (c) => c.notNull())
    .addColumn('scope', 'varchar(255)', (c) => c.notNull())
    .addColumn('started_by', 'varchar(191)', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('halted_at', 'bigint')
    .execute();
}
