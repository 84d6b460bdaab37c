import type { Kysely } from 'kysely';
import type { Engine } from '../src/store/db.js';
import { col } from '../src/store/db.js';

// Command buttons (src/core/buttons.ts): the command a button runs is kept here, sealed, under an unguessable id
// that is all the platform carries; a press is looked up by id and must come from the platform and channel the
// button was sent to. Rows outlive their expiry by a while, so a late press is answered "expired". Console
// messages keep their buttons (id and label) to draw them.
export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('chat_buttons')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('platform', 'varchar(32)', (c) => c.notNull())
    .addColumn('channel', 'varchar(191)')
    .addColumn('label', 'varchar(200)', (c) => c.notNull())
    .addColumn('command', col.longText(engine), (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('once', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('used_by', 'varchar(191)')
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('chat_buttons_expires').on('chat_buttons').column('expires_at').execute();
  await db.schema.alterTable('console_messages').addColumn('buttons', col.longText(engine)).execute();
}
