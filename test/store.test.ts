// One store suite, run against SQLite and against MariaDB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertedId, affected, isUniqueViolation, type Store } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { openScratchStore } from './helpers/mysql.js';

const engines = ['sqlite', 'mysql'] as const;

describe.each(engines)('store on %s', (engine) => {
  let store: Store;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close } = await openScratchStore(engine));
  });
  afterAll(() => close());

  it('applies every migration, and a second run applies none', async () => {
    const first = await migrateToLatest(store);
    expect(first.applied.length).toBe(first.total);
    expect(first.applied[0]).toBe('0001_core');
    const second = await migrateToLatest(store);
    expect(second.applied).toEqual([]);
    expect(store.engine).toBe(engine);
  });

  it('inserts with ids, updates and counts affected rows', async () => {
    const r = await store.db
      .insertInto('jobs')
      .values({ kind: 'k', args: '{}', status: 'queued', done: 0, total: 3, requested_platform: 'test', requested_user: 'u', cancel_requested: 0, created_at: 1 })
      .executeTakeFirst();
    const id = insertedId(r);
    expect(id).toBeGreaterThan(0);
    const r2 = await store.db
      .insertInto('jobs')
      .values({ kind: 'k', args: '{}', status: 'queued', done: 0, total: 3, requested_platform: 'test', requested_user: 'u', cancel_requested: 0, created_at: 2 })
      .executeTakeFirst();
    expect(insertedId(r2)).toBe(id + 1);
    const up = await store.db.updateTable('jobs').set({ status: 'running' }).where('id', '=', id).where('status', '=', 'queued').executeTakeFirst();
    expect(affected(up)).toBe(1);
    const again = await store.db.updateTable('jobs').set({ status: 'running' }).where('id', '=', id).where('status', '=', 'queued').executeTakeFirst();
    expect(affected(again)).toBe(0);
    const row = await store.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.status).toBe('running');
    expect(typeof row.created_at).toBe('number');
    expect(row.created_at).toBe(1);
  });

  it('stores big epoch-millisecond timestamps exactly', async () => {
    const t = Date.UTC(2026, 10, 22, 12, 0, 0, 123);
    await store.db.insertInto('kv').values({ k: 'time', v: 'x', updated_at: t }).execute();
    const row = await store.db.selectFrom('kv').selectAll().where('k', '=', 'time').executeTakeFirstOrThrow();
    expect(Number(row.updated_at)).toBe(t);
  });

  it('keeps text exactly (unicode, quotes, newlines, long values)', async () => {
    const v = `Conceição "x" 'y' \n ; {} # ${'z'.repeat(100_000)}`;
    await store.db.insertInto('kv').values({ k: 'text', v, updated_at: 1 }).execute();
    const row = await store.db.selectFrom('kv').select('v').where('k', '=', 'text').executeTakeFirstOrThrow();
    expect(row.v).toBe(v);
  });

  it('reports unique violations the same way on both engines', async () => {
    await store.db.insertInto('console_users').values({ username: 'ana', password_hash: 'h', created_at: 1, updated_at: 1 }).execute();
    let err: unknown;
    try {
      await store.db.insertInto('console_users').values({ username: 'ana', password_hash: 'h', created_at: 1, updated_at: 1 }).execute();
    } catch (e) {
      err = e;
    }
    expect(err).toBeDefined();
    expect(isUniqueViolation(err)).toBe(true);
  });

  it('stores and returns binary data', async () => {
    const data = Buffer.from([0, 1, 2, 255, 254, 0, 10]);
    const r = await store.db.insertInto('console_files').values({ name: 'b.bin', mime: 'application/octet-stream', data, created_at: 1 }).executeTakeFirst();
    const row = await store.db.selectFrom('console_files').select('data').where('id', '=', insertedId(r)).executeTakeFirstOrThrow();
    expect(Buffer.compare(Buffer.from(row.data), data)).toBe(0);
  });

  it('uses composite primary keys for identities', async () => {
    await store.db.insertInto('chat_identities').values({ platform: 'slack', user_id: 'U1', role: 'viewer', name: null, granted_by: null, granted_at: 1 }).execute();
    await store.db.insertInto('chat_identities').values({ platform: 'telegram', user_id: 'U1', role: 'admin', name: null, granted_by: null, granted_at: 1 }).execute();
    await expect(store.db.insertInto('chat_identities').values({ platform: 'slack', user_id: 'U1', role: 'admin', name: null, granted_by: null, granted_at: 1 }).execute()).rejects.toSatisfy(
      isUniqueViolation,
    );
  });
});
