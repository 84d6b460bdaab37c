// Ordered migrations from migrations/*.ts (compiled to dist/migrations/*.js). Each file exports
// `up(db, engine)` (and optionally `down`). The file name orders them; numbers are spaced so that
// capabilities can add theirs without renaming others': 0001-0099 core, 0100 dhcp, 0200 monitoring,
// 0300 provisioning, 0400 renewal, 0500 chat.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { KyselyPlugin, Migration, MigrationProvider, Kysely, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { CreateIndexNode, CreateTableNode, Migrator } from './kysely.js';
import type { Engine, Store } from './db.js';
import { withMigrationLock, type MigrationLockOptions } from './migration-lock.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

type MigrationModule = {
  up(db: Kysely<any>, engine: Engine): Promise<void>;
  down?(db: Kysely<any>, engine: Engine): Promise<void>;
};

class DirectoryProvider implements MigrationProvider {
  constructor(
    private dir: string,
    private engine: Engine,
  ) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const files = fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && /^\d{4}_/.test(f))
      .sort();
    const out: Record<string, Migration> = {};
    for (const f of files) {
      const mod = (await import(pathToFileURL(path.join(this.dir, f)).href)) as MigrationModule;
      const name = f.slice(0, -ext.length);
      out[name] = {
        up: (db) => runUp(name, () => mod.up(db, this.engine)),
        down: mod.down ? (db) => mod.down!(db, this.engine) : undefined,
      };
    }
    return out;
  }
}

export interface MigrateReport {
  applied: string[];
  total: number;
}

export interface MigrateOptions extends MigrationLockOptions {
  /** Told when this process waits for migrations run by another. */
  log?: (msg: string) => void;
}

/**
 * Applies pending migrations, holding the store-wide migration lock (a row in `schema_lock`, see
 * migration-lock.ts): processes starting at once run them one after another, and a process that waited finds
 * them applied (the pending list is read only once the lock is held). Bookkeeping stays Kysely's
 * (`schema_migrations`), so stores migrated before keep working.
 */
export async function migrateToLatest(store: Store, opts: MigrateOptions = {}): Promise<MigrateReport> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const lockOpts: MigrationLockOptions = {
    onWait: (holder, exp) => log(`waiting for the store migrations run by ${holder} (its lock lapses at ${new Date(exp).toISOString()} if it is gone)`),
    ...opts,
  };
  return withMigrationLock(store.db as Kysely<any>, () => migrateRetrying(store), lockOpts);
}

async function migrateRetrying(store: Store): Promise<MigrateReport> {
  // Belt and braces on SQLite (a writer that is not a switchboard process can still hold the file busy):
  // a failed run rolled back its transaction, and trying again finds what is applied.
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(store);
    } catch (err) {
      if (store.engine !== 'sqlite' || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

async function migrateOnce(store: Store): Promise<MigrateReport> {
  const migrator = new Migrator({
    db: store.db.withPlugin(new IdempotentDdl()),
    provider: new DirectoryProvider(MIGRATIONS_DIR, store.engine),
    allowUnorderedMigrations: true,
    migrationTableName: 'schema_migrations',
    migrationLockTableName: 'schema_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const msg = error instanceof Error ? error.message : String(error);
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${msg}`);
  }
  const all = await migrator.getMigrations();
  return { applied: (results ?? []).map((r) => r.migrationName), total: all.length };
}

/** MySQL errors saying a migration's object is already there: 1050 table, 1060 column, 1061 key name. */
const ALREADY_EXISTS = new Set([1050, 1060, 1061]);

/**
 * MySQL DDL is not transactional: a migration that died half-way (its process killed, or a peer whose lock
 * lapsed) leaves some of its tables behind. `CREATE TABLE` / `CREATE INDEX` are made `IF NOT EXISTS`
 * (IdempotentDdl) so running it again completes it; what remains (a column or key added by ALTER) is
 * reported with what to do instead of a bare driver error.
 */
async function runUp(name: string, up: () => Promise<void>): Promise<void> {
  try {
    await up();
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === undefined || !ALREADY_EXISTS.has(errno)) throw err;
    throw new Error(`${(err as Error).message} — migration ${name} was partly applied before (a process stopped while running it); complete or undo its remaining changes by hand, then start again`);
  }
}

/** Turns every CREATE TABLE and CREATE INDEX of a migration into its IF NOT EXISTS form (both engines have it). */
class IdempotentDdl implements KyselyPlugin {
  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (CreateTableNode.is(node) && !node.ifNotExists) return CreateTableNode.cloneWith(node, { ifNotExists: true });
    if (CreateIndexNode.is(node) && !node.ifNotExists) return CreateIndexNode.cloneWith(node, { ifNotExists: true });
    return node;
  }
  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

/** Names of the migrations not yet applied to the store (none: it is up to date). Creates nothing. */
export async function pendingMigrations(store: Store): Promise<string[]> {
  const migrator = new Migrator({
    db: store.db,
    provider: new DirectoryProvider(MIGRATIONS_DIR, store.engine),
    allowUnorderedMigrations: true,
    migrationTableName: 'schema_migrations',
    migrationLockTableName: 'schema_migrations_lock',
  });
  return (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
}
