// Renewal: PCs keyed by MAC, account history, pinned SSH host keys, renewal requests and their step logs.
import type { Kysely } from 'kysely';
import { col, type Engine } from '../src/store/db.js';

export async function up(db: Kysely<any>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('pcs')
    .addColumn('mac', 'varchar(17)', (c) => c.primaryKey())
    .addColumn('hostname', 'varchar(255)')
    .addColumn('ip', 'varchar(45)')
    .addColumn('port', 'integer')
    .addColumn('facts', col.longText(engine))
    .addColumn('account', 'varchar(64)')
    .addColumn('last_renewal_at', 'bigint')
    .addColumn('host_key_fp', 'varchar(128)')
    .addColumn('key_ok', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('pcs_ip').on('pcs').column('ip').execute();
  await db.schema.createIndex('pcs_hostname').on('pcs').column('hostname').execute();

  await db.schema
    .createTable('pc_accounts')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('mac', 'varchar(17)', (c) => c.notNull())
    .addColumn('account', 'varchar(64)', (c) => c.notNull())
    .addColumn('request_id', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('removed_at', 'bigint')
    .execute();
  await db.schema.createIndex('pc_accounts_mac').on('pc_accounts').columns(['mac', 'created_at']).execute();

  await db.schema
    .createTable('known_hosts')
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('key_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('fingerprint', 'varchar(128)', (c) => c.notNull())
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('known_hosts_pk', ['host', 'port'])
    .execute();

  await db.schema
    .createTable('renew_requests')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('job_id', 'integer')
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull()) // running | ok | failed | refused | dry-run
    .addColumn('mac', 'varchar(17)')
    .addColumn('account', 'varchar(64)')
    .addColumn('requested_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('detail', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema.createIndex('renew_requests_job').on('renew_requests').column('job_id').execute();

  await db.schema
    .createTable('renew_log')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('request_id', 'integer', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('level', 'varchar(8)', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('renew_log_request').on('renew_log').columns(['request_id', 'id']).execute();
}
