// A throw-away MariaDB database per test file: created on the test server, dropped afterwards.
import crypto from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openStore, type Engine, type Store } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { mysqlUrl, tmpDir } from './env.js';

export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(mysqlUrl());
  const name = `sb_test_${crypto.randomBytes(5).toString('hex')}`;
  const conn = await createConnection({ host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) });
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await conn.end();
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = await createConnection({ host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) });
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}

/** A fresh, empty store on either engine (a temp SQLite file, or a throw-away MariaDB database) and its cleanup. */
export async function openScratchStore(engine: Engine): Promise<{ store: Store; close(): Promise<void> }> {
  if (engine === 'mysql') {
    const db = await createTestDatabase();
    const store = openStore({ databaseUrl: db.url });
    return { store, close: async () => (await store.close(), await db.drop()) };
  }
  const store = openStore({ sqlitePath: path.join(tmpDir(), 'scratch.sqlite') });
  return { store, close: () => store.close() };
}

/**
 * Inside a `describe`: a fresh, migrated store on `engine` for the block's tests (opened before them, closed
 * after). Read `.store` inside the tests.
 */
export function useMigratedScratchStore(engine: Engine): { readonly store: Store } {
  let opened: { store: Store; close(): Promise<void> } | undefined;
  beforeAll(async () => {
    opened = await openScratchStore(engine);
    await migrateToLatest(opened.store);
  });
  afterAll(async () => {
    await opened?.close();
  });
  return {
    get store(): Store {
      if (!opened) throw new Error('the scratch store is opened in beforeAll; read it inside a test');
      return opened.store;
    },
  };
}
