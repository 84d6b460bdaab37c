// The build bundles Kysely's values into dist/src/store/kysely.js (src/build/bundle-kysely.ts), so a start
// does not resolve ~290 modules. The bundle must be what the source module promises: the same names, no
// import of the separate package left, and a working query builder.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import * as source from '../../src/store/kysely.js';
import { bundleKysely } from '../../src/build/bundle-kysely.js';
import { ROOT } from '../helpers/env.js';

describe('Kysely bundle (build step)', () => {
  it('the built module is one file with every value the source re-exports, and it runs queries', async () => {
    const built = path.join(ROOT, 'dist/src/store/kysely.js');
    const text = fs.readFileSync(built, 'utf8');
    expect(text).not.toMatch(/from\s*["']kysely["']/);
    expect(text.length).toBeGreaterThan(100_000); // Kysely's code itself, not a re-export
    const mod = (await import(pathToFileURL(built).href)) as typeof source;
    expect(Object.keys(mod).sort()).toEqual(Object.keys(source).sort());
    const db = new mod.Kysely<{ t: { a: number } }>({ dialect: new mod.SqliteDialect({ database: new Database(':memory:') }) });
    await mod.sql`create table t (a integer)`.execute(db);
    await db
      .insertInto('t')
      .values([{ a: 1 }, { a: 2 }])
      .execute();
    expect(
      await db
        .selectFrom('t')
        .select((eb) => eb.fn.sum<number>('a').as('s'))
        .executeTakeFirst(),
    ).toEqual({ s: 3 });
    await db.destroy();
  });

  it('no module but src/store/kysely.ts imports a value from the kysely package (one would load all ~290 modules at start)', () => {
    const list = (d: string): string[] =>
      fs.readdirSync(path.join(ROOT, d), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? list(path.join(d, e.name)) : e.name.endsWith('.ts') ? [path.join(d, e.name)] : []));
    const offenders = ['src', 'commands', 'drivers', 'migrations']
      .flatMap(list)
      .filter((f) => f !== path.join('src', 'store', 'kysely.ts'))
      .filter((f) => /^\s*(import|export)\s+(?!type\b)[^;]*from\s+['"]kysely['"]/m.test(fs.readFileSync(path.join(ROOT, f), 'utf8').replace(/^\s*(import|export)\s+type\b[^;]*;/gm, '')));
    expect(offenders, 'import values from src/store/kysely.ts instead (types may come from kysely)').toEqual([]);
  });

  it('bundling a re-export file writes a self-contained module in its place', async () => {
    // The file must resolve 'kysely' from the project's node_modules, as dist/src/store does.
    const file = path.join(ROOT, 'dist', `kysely-bundle-test-${process.pid}.js`);
    fs.writeFileSync(file, "export { sql } from 'kysely';\n");
    try {
      expect(await bundleKysely(file)).toBe(true);
      const text = fs.readFileSync(file, 'utf8');
      expect(text).not.toMatch(/from\s*["']kysely["']/);
      expect(typeof ((await import(pathToFileURL(file).href)) as { sql: unknown }).sql).toBe('function');
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
