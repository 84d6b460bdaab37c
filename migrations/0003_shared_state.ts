import type { Kysely } from 'kysely';
import type { Engine } from '../src/store/db.js';
import { col } from '../src/store/db.js';

// State that several processes on one store must agree on:
// - claims: "do this once" decisions (a caller-ID post, an inbound chat event, a fetch announcement), one row
//   per key, taken with an insert and re-taken only after it expires;
// - change_feed: one row per change of a shared object (topic + key), read by every process to refresh what it
//   serves from memory (phones, DHCP hosts);
// - store_secrets: secrets every replica needs (the phones' admin password, the renewal SSH key), sealed with
//   the store key from the environment or the data dir; `store-key-check` proves a process holds that key.
export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('claims')
    .addColumn('k', 'varchar(191)', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(128)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('claims_expires').on('claims').column('expires_at').execute();
  await db.schema
    .createTable('change_feed')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('topic', 'varchar(32)', (c) => c.notNull())
    .addColumn('k', 'varchar(191)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('change_feed_topic').on('change_feed').columns(['topic', 'id']).execute();
  await db.schema
    .createTable('store_secrets')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('sealed', col.longText(engine), (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}
