import type { Kysely } from 'kysely';
import type { Engine } from '../src/store/db.js';
import { col } from '../src/store/db.js';

// Console messages keep their structure (tables, code, images, files) as JSON next to the plain text, so the
// web console renders real tables on every replica; older rows (parts NULL) render from their text.
export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema.alterTable('console_messages').addColumn('parts', col.longText(engine)).execute();
}
