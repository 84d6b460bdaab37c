// Many processes on one store at once, the way a Galera cluster shows it: migrations serialised by a lock ROW
// (GET_LOCK is not replicated there), a process that finds it held waits and then finds the work done, a
// half-applied migration completes when run again, and write transactions retried on conflicts (1213/1047).
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { InsertQueryNode, sql, type KyselyPlugin } from 'kysely';
import { Claims } from '../src/store/claims.js';
import { openStore, type Store } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { withConflictRetry } from '../src/store/conflict-retry.js';
import { MigrationLockTimeout, withMigrationLock } from '../src/store/migration-lock.js';
import { spawnCli } from './helpers/cli.js';
import { until } from './helpers/wait.js';
import { tmpDir } from './helpers/env.js';
import { createTestDatabase, openScratchStore } from './helpers/mysql.js';
import { sharedKey } from './helpers/start-process.js';

const engines = ['sqlite', 'mysql'] as const;
const MIGRATION_FILES = fs.readdirSync(path.resolve(__dirname, '../migrations')).filter((f) => /^\d{4}_.*\.ts$/.test(f)).length;

describe.each(engines)('store shared by many processes on %s', (engine) => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** An empty store reachable by child processes: their env, and a handle for the test. */
  async function emptyStore(): Promise<{ env: NodeJS.ProcessEnv; store: Store }> {
    const dir = tmpDir();
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_PROVISION_KEY: sharedKey(), DATABASE_URL: '' };
    let store: Store;
    if (engine === 'mysql') {
      const db = await createTestDatabase();
      cleanup.push(() => db.drop());
      env.DATABASE_URL = db.url;
      store = openStore({ databaseUrl: db.url });
    } else {
      store = openStore({ sqlitePath: path.join(dir, 'switchboard.sqlite') });
    }
    cleanup.push(() => store.close());
    return { env, store };
  }

  it('three `migrate` processes started at once wait for a lock row held by a dead process, then apply every migration once', async () => {
    const { env, store } = await emptyStore();
    // A process that died while migrating left its lock row; GET_LOCK knows nothing of it (as on Galera).
    await sql`create table if not exists schema_lock (name varchar(64) primary key, owner varchar(191) not null, expires_at bigint not null)`.execute(store.db);
    await sql`insert into schema_lock (name, owner, expires_at) values ('migrations', 'dead-host:4242', ${Date.now() + 600_000})`.execute(store.db);
    const procs = [1, 2, 3].map(() => {
      const child = spawnCli(['migrate'], env);
      const p = { stdout: '', stderr: '', code: -1, endedAt: 0 };
      child.stdout!.on('data', (d: Buffer) => (p.stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (p.stderr += d.toString()));
      const ended = new Promise<typeof p>((resolve) => child.once('close', (code) => resolve(Object.assign(p, { code: code ?? -1, endedAt: Date.now() }))));
      return { p, ended };
    });
    // The dead holder's lease lapses only once a process waits for it (however slowly the three start on a busy machine).
    await until('a migrate process to wait for the dead holder', () => procs.some((x) => x.p.stderr.includes('waiting for the store migrations run by dead-host:4242')), 60_000, 50);
    const expiresAt = Date.now() + 1000;
    await sql`update schema_lock set expires_at = ${expiresAt} where owner = 'dead-host:4242'`.execute(store.db);
    const runs = await Promise.all(procs.map((x) => x.ended));
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.endedAt).toBeGreaterThanOrEqual(expiresAt); // none ran before the dead holder's lease lapsed
    }
    expect(runs.some((r) => r.stderr.includes('waiting for the store migrations run by dead-host:4242'))).toBe(true);
    const applied = runs.map((r) => r.stdout).filter((o) => o.startsWith('applied'));
    expect(applied).toEqual([`applied ${MIGRATION_FILES} migration(s): ${(await names(store)).join(', ')}\n`]);
    expect(runs.filter((r) => r.stdout.startsWith('store is up to date'))).toHaveLength(2);
    expect(await names(store)).toHaveLength(MIGRATION_FILES);
    // Kysely's bookkeeping stamps each migration when applied: none before the dead holder's lease lapsed.
    const stamps = (await sql<{ timestamp: string }>`select timestamp from schema_migrations`.execute(store.db)).rows.map((r) => Date.parse(r.timestamp));
    expect(Math.min(...stamps)).toBeGreaterThanOrEqual(expiresAt);
    expect((await sql<{ n: number }>`select count(*) as n from schema_lock`.execute(store.db)).rows.map((r) => Number(r.n))).toEqual([0]);
  });

  it('a migration that was partly applied (its tables there, its bookkeeping row not) completes when run again', async () => {
    const { store } = await emptyStore();
    await migrateToLatest(store, { log: () => undefined });
    await sql`delete from schema_migrations where name = '0003_shared_state'`.execute(store.db);
    await sql`drop table store_secrets`.execute(store.db);
    const r = await migrateToLatest(store, { log: () => undefined });
    expect(r.applied).toEqual(['0003_shared_state']);
    await sql`insert into store_secrets (name, sealed, created_at) values ('x', 'y', 1)`.execute(store.db);
  });

  it('a process finding the migration lock held waits, and says who holds it when its bound passes', async () => {
    const { store } = await emptyStore();
    let release!: () => void;
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    const first = withMigrationLock(store.db, () => (holding(), new Promise<void>((r) => (release = r))));
    await held;
    const waits: string[] = [];
    const err = await withMigrationLock(store.db, async () => 'ran', { waitMs: 300, pollMs: 50, onWait: (h) => waits.push(h) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationLockTimeout);
    expect(String((err as Error).message)).toMatch(/still held by \S+:\d+:/);
    expect(waits).toHaveLength(1);
    release();
    await first;
    expect(await withMigrationLock(store.db, async () => 'ran', { waitMs: 300, pollMs: 50 })).toBe('ran');
  });

  it('a write transaction failing with a deadlock / certification failure (1213) is run again, its first attempt rolled back', async () => {
    const { store, close } = await openScratchStore(engine);
    cleanup.push(close);
    await migrateToLatest(store, { log: () => undefined });
    let attempts = 0;
    await withConflictRetry(() =>
      store.db.transaction().execute(async (tx) => {
        attempts++;
        await tx
          .insertInto('claims')
          .values({ k: 'once', owner: `attempt-${attempts}`, expires_at: 1 })
          .execute();
        if (attempts === 1) throw Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), { errno: 1213 });
      }),
    );
    expect(attempts).toBe(2);
    expect(await store.db.selectFrom('claims').select(['k', 'owner']).execute()).toEqual([{ k: 'once', owner: 'attempt-2' }]);
  });

  it('a claim whose insert fails with a certification failure (1213) is taken on the next attempt', async () => {
    const { store, close } = await openScratchStore(engine);
    cleanup.push(close);
    await migrateToLatest(store, { log: () => undefined });
    let failed = 0;
    // Fails the first INSERT INTO claims the way Galera reports a lost certification.
    const flaky: KyselyPlugin = {
      transformQuery({ node }) {
        if (InsertQueryNode.is(node) && !failed) {
          failed++;
          throw Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), { errno: 1213 });
        }
        return node;
      },
      transformResult: async ({ result }) => result,
    };
    const claims = new Claims(store.db.withPlugin(flaky), 'replica-1');
    expect(await claims.claim('caller:100', 60_000)).toBe(true);
    expect(failed).toBe(1);
    expect(await new Claims(store.db, 'replica-2').claim('caller:100', 60_000)).toBe(false);
  });
});

describe('withConflictRetry', () => {
  it('gives up after the bound with the original error', async () => {
    const original = Object.assign(new Error('WSREP has not yet prepared node for application use'), { errno: 1047 });
    let attempts = 0;
    const err = await withConflictRetry(
      async () => {
        attempts++;
        throw original;
      },
      { tries: 5, baseDelayMs: 1 },
    ).catch((e: unknown) => e);
    expect(err).toBe(original);
    expect(attempts).toBe(5);
  });

  it('does not retry other errors', async () => {
    let attempts = 0;
    const err = await withConflictRetry(async () => {
      attempts++;
      throw Object.assign(new Error('syntax'), { errno: 1064 });
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('syntax');
    expect(attempts).toBe(1);
  });
});

async function names(store: Store): Promise<string[]> {
  return (await sql<{ name: string }>`select name from schema_migrations order by name`.execute(store.db)).rows.map((r) => r.name);
}
