import type { Kysely } from 'kysely';
import type { Engine } from '../src/store/db.js';

// A node's role: `monitor` (a PBX agent: sensors and CDRs) or `apply` (an agent on a DHCP/proxy server that
// applies the backends named in apply_targets, comma-separated; see src/dhcp/apply-agents.ts).
export async function up(db: Kysely<any>, _engine: Engine): Promise<void> {
  await db.schema
    .alterTable('mon_nodes')
    .addColumn('role', 'varchar(16)', (c) => c.notNull().defaultTo('monitor'))
    .execute();
  await db.schema.alterTable('mon_nodes').addColumn('apply_targets', 'varchar(255)').execute();
}
