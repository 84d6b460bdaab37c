import type { Kysely } from 'kysely';
import { sql } from '../src/store/kysely.js';
import type { Engine } from '../src/store/db.js';

// Overrides: vendor keys set per model, per room of a model or per phone (`provision set`), applied over the
// drivers' output. One row per (model, scope, target, key); `target` is '' for a model, the room in lower case,
// or the phone's MAC. `value` is sealed with the store key when `secret` is 1. Each phone's row carries the
// overrides that apply to it in its `extra` (sealed where secret), so every replica renders it from the row
// alone: on MariaDB `extra` grows from varchar(2048) to MEDIUMTEXT for them (SQLite does not bound it).
export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('provision_overrides')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('model', 'varchar(64)', (c) => c.notNull())
    .addColumn('scope', 'varchar(8)', (c) => c.notNull())
    .addColumn('target', 'varchar(255)', (c) => c.notNull())
    .addColumn('vendor_key', 'varchar(191)', (c) => c.notNull())
    .addColumn('key_lc', 'varchar(191)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('secret', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('forced', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('set_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('set_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('provision_overrides_key').on('provision_overrides').columns(['model', 'scope', 'target', 'key_lc']).unique().execute();
  if (engine === 'mysql')
    await db.schema
      .alterTable('phones')
      .modifyColumn('extra', sql`mediumtext`, (c) => c.notNull())
      .execute();
}
