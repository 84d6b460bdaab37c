// One SQL store: SQLite (better-sqlite3) by default, MySQL/MariaDB (mysql2) when DATABASE_URL=mysql://…
// Table row types live beside the code that owns them and are merged into `Tables` by declaration
// merging (`declare module '…/store/db.js' { interface Tables { my_table: MyRow } }`).
import fs from 'node:fs';
import path from 'node:path';
import type { RawBuilder } from 'kysely';
import { Kysely, SqliteDialect, MysqlDialect, sql } from './kysely.js';
import SqliteDatabase from 'better-sqlite3';
import { createRequire } from 'node:module';
import type * as Mysql2 from 'mysql2';
import { HostPool, parseMysqlUrl, type HostState, type WriteTo } from './host-pool.js';

// mysql2 is loaded only when the store is MariaDB/MySQL: a SQLite start does not pay for its ~80 modules.
const require = createRequire(import.meta.url);

export type Engine = 'sqlite' | 'mysql';

export interface Tables {
  kv: {
    k: string;
    v: string;
    updated_at: number;
  };
}

export type DB = Kysely<Tables>;

export interface Store {
  db: DB;
  engine: Engine;
  /** Human description without credentials, for logs. */
  describe: string;
  /** The better-sqlite3 handle (SQLite only), for bulk inserts on hot paths; see bulk-insert.ts. */
  sqlite?: InstanceType<typeof SqliteDatabase>;
  /** MySQL: each store host and whether it is usable now (host-pool.ts). */
  hosts?: () => HostState[];
  close(): Promise<void>;
}

export function redactUrl(url: string): string {
  if (/^(mysql|mariadb):\/\//i.test(url) && url.includes(',')) return url.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'mysql://***';
  }
}

export interface OpenStoreOptions {
  databaseUrl?: string;
  sqlitePath?: string;
  poolSize?: number;
  /** Several MySQL hosts: `first` (default) sends everything to the first healthy one; `any` lets replicas write through different nodes (sessions read with wsrep_sync_wait). */
  writeTo?: WriteTo;
  /** Told when a store host goes down or comes back. */
  onHostChange?: (host: string, up: boolean, reason?: string) => void;
}

export function openStore(opts: OpenStoreOptions): Store {
  const url = opts.databaseUrl;
  if (url && /^(mysql|mariadb):\/\//i.test(url)) {
    const target = parseMysqlUrl(url);
    const { createPool } = require('mysql2') as typeof Mysql2;
    const pool = new HostPool(target, {
      connectionLimit: opts.poolSize ?? 10,
      writeTo: opts.writeTo ?? 'first',
      onHostChange: opts.onHostChange,
      createPool,
      poolOptions: {
        supportBigNumbers: true,
        bigNumberStrings: false,
        dateStrings: true,
        charset: 'utf8mb4',
        timezone: 'Z',
        // A host that does not answer (down, cut off) is passed over after 3 s instead of mysql2's 10 s.
        connectTimeout: 3000,
      },
    });
    const db = new Kysely<Tables>({ dialect: new MysqlDialect({ pool }) });
    return { db, engine: 'mysql', describe: redactUrl(url), hosts: () => pool.hosts(), close: () => db.destroy() };
  }
  if (url && !/^sqlite:/i.test(url)) throw new Error(`DATABASE_URL must start with mysql://, mariadb:// or sqlite: (got ${redactUrl(url)})`);
  const file = url ? url.replace(/^sqlite:(\/\/)?/i, '') : opts.sqlitePath;
  if (!file) throw new Error('no SQLite path');
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new SqliteDatabase(file);
  database.pragma('journal_mode = WAL');
  database.pragma('busy_timeout = 10000');
  database.pragma('synchronous = NORMAL');
  // Checkpoint the WAL every ~40 MB instead of every 4 MB: bursts of small transactions (agent results,
  // request logs) then cost half as much; the WAL file is truncated back after each checkpoint.
  database.pragma('wal_autocheckpoint = 10000');
  database.pragma('journal_size_limit = 67108864');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
  return { db, engine: 'sqlite', describe: `sqlite:${file}`, sqlite: database, close: () => db.destroy() };
}

/** Epoch milliseconds; every timestamp column in the store is one. */
export const now = (): number => Date.now();

/** Affected-row count from an update/delete result on either engine. */
export function affected(r: { numUpdatedRows?: bigint; numDeletedRows?: bigint } | undefined): number {
  if (!r) return 0;
  return Number(r.numUpdatedRows ?? r.numDeletedRows ?? 0n);
}

/** The id of a row just inserted (both engines report it without RETURNING). */
export function insertedId(r: { insertId?: bigint }): number {
  if (r.insertId === undefined) throw new Error('insert returned no id');
  return Number(r.insertId);
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === 'ER_DUP_ENTRY' || e?.errno === 1062;
}

/** Column-type helpers for migrations that must run on both engines. */
export const col = {
  /** Long text (MySQL TEXT is 64 KiB; LONGTEXT is used there). */
  longText: (engine: Engine): RawBuilder<unknown> => (engine === 'mysql' ? sql`longtext` : sql`text`),
  blob: (engine: Engine): RawBuilder<unknown> => (engine === 'mysql' ? sql`longblob` : sql`blob`),
};
