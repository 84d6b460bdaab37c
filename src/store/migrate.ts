// Ordered migrations from migrations/*.ts (compiled to dist/migrations/*.js). Each file exports
// `up(db, engine)` (and optionally `down`). The file name orders them; numbers are spaced so that
// capabilities can add theirs without renaming others': 0001-0099 core, 0100 dhcp, 0200 monitoring,
// 0300 provisioning, 0400 renewal, 0500 chat.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Migrator, type Migration, type MigrationProvider, type Kysely } from 'kysely';
import type { Engine, Store } from './db.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

type MigrationModule = {
  up(db: Kysely<any>, engine: Engine): Promise<void>;
  down?(db: Kysely<any>, engine: Engine): Promise<void>;
};

class DirectoryProvider implements MigrationProvider {
  constructor(private dir: string, private engine: Engine) {}
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
        up: (db) => mod.up(db, this.engine),
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

export async function migrateToLatest(store: Store): Promise<MigrateReport> {
  const migrator = new Migrator({
    db: store.db,
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
