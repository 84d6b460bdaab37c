import type { Kysely } from 'kysely';
import type { Engine } from '../src/store/db.js';

// Monitoring you can trust (issue 13, server side):
// - mon_nodes: the node's clock (last measured skew, and whether a "clock skew" alert is open: flipped by
//   conditional UPDATEs so replicas open/resolve it once) and its own business hours for fraud checks.
// - mon_alerts: `open_key` is set while an alert is open and unique, so one (node, kind, subject) has at most
//   one open alert whichever replica opens it; fraud groups count their calls (`calls`), remember when the
//   last one joined (`updated_at`, for the quiet window), the chat messages to edit (`refs`) and the count
//   those show (`sent_count`).
// - mon_cdr_calls: direction, the outside number (`peer`), the fraud group and its alert.
// - mon_fraud_rules: per-prefix thresholds in the spirit of OpenSIPS fraud_detection.
export async function up(db: Kysely<any>, _engine: Engine): Promise<void> {
  const add = async (table: string, column: string, type: 'integer' | 'bigint' | 'text' | `varchar(${number})`, notNullDefault?: number) => {
    await db.schema
      .alterTable(table)
      .addColumn(column, type, (c) => (notNullDefault === undefined ? c : c.notNull().defaultTo(notNullDefault)))
      .execute();
  };
  await add('mon_nodes', 'clock_skew', 'bigint');
  await add('mon_nodes', 'clock_bad', 'integer', 0);
  await add('mon_nodes', 'business_hours', 'varchar(255)');

  await add('mon_alerts', 'open_key', 'varchar(191)');
  await add('mon_alerts', 'calls', 'integer', 0);
  await add('mon_alerts', 'updated_at', 'bigint');
  await add('mon_alerts', 'refs', 'text');
  await add('mon_alerts', 'sent_count', 'integer', 0);
  await db.schema.createIndex('mon_alerts_open_key').on('mon_alerts').column('open_key').unique().execute();

  await add('mon_cdr_calls', 'direction', 'varchar(8)');
  await add('mon_cdr_calls', 'peer', 'varchar(128)');
  await add('mon_cdr_calls', 'fraud_group', 'varchar(64)');
  await add('mon_cdr_calls', 'alert_id', 'integer');
  await db.schema.createIndex('mon_cdr_node_at').on('mon_cdr_calls').columns(['node_id', 'at']).execute();
  await db.schema.createIndex('mon_cdr_alert').on('mon_cdr_calls').column('alert_id').execute();

  await add('mon_fraud_rules', 'cpm', 'integer');
  await add('mon_fraud_rules', 'concurrent', 'integer');
  await add('mon_fraud_rules', 'total_seconds', 'integer');
  await add('mon_fraud_rules', 'sequential', 'integer');
}
