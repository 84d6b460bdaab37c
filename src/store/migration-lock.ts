// The lock that serialises migrations across every process on the store, as a ROW in `schema_lock` (primary
// key `name`): a MariaDB Galera cluster replicates rows but not GET_LOCK (each node grants GET_LOCK on its own,
// so Kysely's migrator lock lets every replica run the DDL at once). Taken with an insert, or a conditional
// update when the holder's lease expired (a holder that died); renewed while held; deleted when done.
// A process that finds it held waits (polling) up to a bound, then fails with a message naming the holder.
import crypto from 'node:crypto';
import os from 'node:os';
import type { Kysely } from 'kysely';
import { affected, isUniqueViolation } from './db.js';
import { withConflictRetry } from './conflict-retry.js';

export const SCHEMA_LOCK_TABLE = 'schema_lock';
export const MIGRATION_LOCK_NAME = 'migrations';

export interface MigrationLockOptions {
  /** Lease length; renewed every third of it while held (default 60 s). */
  ttlMs?: number;
  /** How long to wait for another holder before giving up (default 10 min). */
  waitMs?: number;
  /** Poll interval while waiting (default 250 ms: one primary-key read; replicas started together come up sooner). */
  pollMs?: number;
  /** Told once when this process starts waiting for another holder. */
  onWait?: (holder: string, expiresAt: number) => void;
}

export class MigrationLockTimeout extends Error {
  constructor(holder: string, waitedMs: number) {
    super(`the migration lock is still held by ${holder} after waiting ${Math.round(waitedMs / 1000)} s; if that process is gone its lock expires by itself, otherwise let it finish and start again`);
    this.name = 'MigrationLockTimeout';
  }
}

/** Creates the lock table when missing (safe to run by many processes at once). */
export async function ensureLockTable(db: Kysely<any>): Promise<void> {
  await withConflictRetry(() =>
    db.schema
      .createTable(SCHEMA_LOCK_TABLE)
      .ifNotExists()
      .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('owner', 'varchar(191)', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute(),
  );
}

/** Runs `work` holding the migration lock; the lock is released afterwards whatever happens. */
export async function withMigrationLock<T>(db: Kysely<any>, work: () => Promise<T>, opts: MigrationLockOptions = {}): Promise<T> {
  const ttl = opts.ttlMs ?? 60_000;
  const owner = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
  await ensureLockTable(db);
  await acquire(db, owner, ttl, opts);
  const renew = setInterval(
    () => {
      void db
        .updateTable(SCHEMA_LOCK_TABLE)
        .set({ expires_at: Date.now() + ttl })
        .where('name', '=', MIGRATION_LOCK_NAME)
        .where('owner', '=', owner)
        .execute()
        .catch(() => undefined);
    },
    Math.max(50, Math.floor(ttl / 3)),
  );
  renew.unref();
  try {
    return await work();
  } finally {
    clearInterval(renew);
    await withConflictRetry(() => db.deleteFrom(SCHEMA_LOCK_TABLE).where('name', '=', MIGRATION_LOCK_NAME).where('owner', '=', owner).execute()).catch(() => undefined);
  }
}

async function acquire(db: Kysely<any>, owner: string, ttl: number, opts: MigrationLockOptions): Promise<void> {
  const start = Date.now();
  const waitMs = opts.waitMs ?? 10 * 60_000;
  let told = false;
  for (;;) {
    if (await tryTake(db, owner, ttl)) return;
    const row = await db.selectFrom(SCHEMA_LOCK_TABLE).select(['owner', 'expires_at']).where('name', '=', MIGRATION_LOCK_NAME).executeTakeFirst();
    const holder = row ? String(row.owner) : 'another process';
    if (Date.now() - start >= waitMs) throw new MigrationLockTimeout(holder, Date.now() - start);
    if (row && !told) {
      told = true;
      opts.onWait?.(holder, Number(row.expires_at));
    }
    await new Promise((r) => setTimeout(r, (opts.pollMs ?? 250) * (0.75 + Math.random() / 2)));
  }
}

/** One attempt: insert the row, or take it over when its lease expired. */
async function tryTake(db: Kysely<any>, owner: string, ttl: number): Promise<boolean> {
  return withConflictRetry(async () => {
    const at = Date.now();
    try {
      await db
        .insertInto(SCHEMA_LOCK_TABLE)
        .values({ name: MIGRATION_LOCK_NAME, owner, expires_at: at + ttl })
        .execute();
      return true;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    const r = await db
      .updateTable(SCHEMA_LOCK_TABLE)
      .set({ owner, expires_at: at + ttl })
      .where('name', '=', MIGRATION_LOCK_NAME)
      .where('expires_at', '<=', at)
      .executeTakeFirst();
    return affected(r) === 1;
  });
}
