import type { Kysely } from 'kysely';
import type { Engine } from '../src/store/db.js';
import { col } from '../src/store/db.js';

// New passwords whose direct message could not be sent, until `renew resend` (24 h): sealed with the store key
// (the password, the message text and the user sheet), so any replica and a restarted bot can resend them.
export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('renew_undelivered')
    .addColumn('request_id', 'integer', (c) => c.primaryKey())
    .addColumn('requester', 'varchar(191)', (c) => c.notNull())
    .addColumn('account', 'varchar(64)', (c) => c.notNull())
    .addColumn('host', 'varchar(64)', (c) => c.notNull())
    .addColumn('sealed', col.longText(engine), (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}
