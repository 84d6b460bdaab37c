// /healthz answers 503 until the store is migrated and whenever the store cannot be reached.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { registerHealthRoutes } from '../src/http/health.js';
import { openStore } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { tmpDir } from './helpers/env.js';

describe('health', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(() => t.close());

  it('is 503 before migration, 200 after, and 503 once the store is gone', async () => {
    const store = openStore({ sqlitePath: `${tmpDir()}/h.sqlite` });
    const http = Fastify();
    const state = { migrated: false };
    registerHealthRoutes({ ...t.app, http, db: store.db } as unknown as Parameters<typeof registerHealthRoutes>[0], state);
    const before = await http.inject({ url: '/healthz' });
    expect(before.statusCode).toBe(503);
    expect(before.json()).toEqual({ status: 'starting', code: 'SB_STARTING', message: 'store not migrated yet', reason: 'store not migrated yet' });
    await migrateToLatest(store);
    state.migrated = true;
    const ok = await http.inject({ url: '/healthz' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ status: 'ok' });
    await store.close();
    const gone = await http.inject({ url: '/healthz' });
    expect(gone.statusCode).toBe(503);
    expect(gone.json()).toMatchObject({ status: 'unavailable' });
    await http.close();
  });
});
