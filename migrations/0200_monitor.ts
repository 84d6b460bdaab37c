import type { Kysely } from 'kysely';
import { col, type Engine } from '../src/store/db.js';

export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('mon_nodes')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'varchar(128)', (c) => c.notNull().unique())
    .addColumn('token_hash', 'varchar(64)')
    .addColumn('enroll_hash', 'varchar(64)')
    .addColumn('enroll_expires', 'bigint')
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('last_seen', 'bigint')
    .addColumn('facts', 'text')
    .addColumn('stale', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('mon_nodes_token').on('mon_nodes').column('token_hash').execute();

  await db.schema
    .createTable('mon_sensors')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'varchar(128)', (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('args', 'text', (c) => c.notNull())
    .addColumn('interval_ms', 'integer', (c) => c.notNull())
    .addColumn('timeout_ms', 'integer', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('retention', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('mon_node_sensors')
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('sensor_id', 'integer', (c) => c.notNull())
    .addColumn('overrides', 'text')
    .addPrimaryKeyConstraint('mon_node_sensors_pk', ['node_id', 'sensor_id'])
    .execute();

  await db.schema
    .createTable('mon_records')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('sensor_id', 'integer', (c) => c.notNull())
    .addColumn('result_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('output', 'text', (c) => c.notNull())
    .addColumn('perfdata', 'text')
    .execute();
  await db.schema.createIndex('mon_records_uniq').on('mon_records').columns(['node_id', 'result_id']).unique().execute();
  await db.schema.createIndex('mon_records_ns_at').on('mon_records').columns(['node_id', 'sensor_id', 'at']).execute();

  // Result ids already seen for sensors that keep no history (idempotent replays for retention=last).
  await db.schema
    .createTable('mon_seen')
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('result_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mon_seen_pk', ['node_id', 'result_id'])
    .execute();

  await db.schema
    .createTable('mon_sensor_state')
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('sensor_id', 'integer', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('hard_status', 'integer', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('output', 'text', (c) => c.notNull())
    .addColumn('perfdata', 'text')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('changes', 'text')
    .addColumn('flapping', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('mon_sensor_state_pk', ['node_id', 'sensor_id'])
    .execute();

  await db.schema
    .createTable('mon_alerts')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('sensor_id', 'integer')
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('opened_at', 'bigint', (c) => c.notNull())
    .addColumn('resolved_at', 'bigint')
    .addColumn('acked_by', 'varchar(255)')
    .addColumn('ack_comment', 'text')
    .addColumn('last_sent', 'bigint')
    .addColumn('notified', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('mon_alerts_open').on('mon_alerts').columns(['resolved_at', 'node_id']).execute();

  await db.schema
    .createTable('mon_silences')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('sensor_id', 'integer')
    .addColumn('until', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('mon_cdr_calls')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('call_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('src', 'varchar(128)')
    .addColumn('dst', 'varchar(128)', (c) => c.notNull())
    .addColumn('duration', 'integer')
    .addColumn('disposition', 'varchar(32)')
    .addColumn('raw', col.longText(engine))
    .addColumn('flagged', 'varchar(255)')
    .execute();
  await db.schema.createIndex('mon_cdr_uniq').on('mon_cdr_calls').columns(['node_id', 'call_id']).unique().execute();

  await db.schema
    .createTable('mon_fraud_rules')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('prefix', 'varchar(32)', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('note', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}
