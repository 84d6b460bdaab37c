// Group commit never acknowledges a result that a crash right after the answer would lose: a real
// `switchboard start` takes concurrent result posts and is SIGKILLed the moment the answers pass a count;
// every result id it acknowledged is in the store afterwards (SQLite and MariaDB). And when more is waiting
// to be stored than the queue bound, or more posts are being handled than maxInFlight, a post is answered 503
// with Retry-After at once, not left waiting.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createConnection } from 'mysql2/promise';
import { openStore, type Store } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { sha256 } from '../../src/monitor/service.js';
import { tmpDir } from '../helpers/env.js';
import { createTestDatabase } from '../helpers/mysql.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { until } from '../helpers/wait.js';
import { sharedKey, startProcess } from '../helpers/start-process.js';

async function seedNode(store: Store, name: string, sensors: number): Promise<{ token: string; sensorIds: number[] }> {
  const token = crypto.randomBytes(32).toString('base64url');
  const t = Date.now();
  await store.db
    .insertInto('mon_nodes')
    .values({ name, token_hash: sha256(token), enroll_hash: null, enroll_expires: null, enabled: 1, last_seen: t, facts: null, stale: 0, created_at: t })
    .execute();
  const nodeId = (await store.db.selectFrom('mon_nodes').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
  const sensorIds: number[] = [];
  for (let i = 0; i < sensors; i++) {
    await store.db
      .insertInto('mon_sensors')
      .values({ name: `${name}-s${i}`, kind: 'disk', args: '{}', interval_ms: 60_000, timeout_ms: 10_000, attempts: 3, retention: 'history:30d', created_at: t })
      .execute();
    const id = (await store.db.selectFrom('mon_sensors').select('id').where('name', '=', `${name}-s${i}`).executeTakeFirstOrThrow()).id;
    await store.db.insertInto('mon_node_sensors').values({ node_id: nodeId, sensor_id: id, overrides: null }).execute();
    sensorIds.push(id);
  }
  return { token, sensorIds };
}

const batch = (sensorIds: number[], n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: crypto.randomUUID(), sensorId: sensorIds[i % sensorIds.length]!, at: Date.now(), status: 0, output: 'OK', perfdata: [] }));

describe.each(['sqlite', 'mysql'] as const)('results acknowledged by the bot survive its SIGKILL right after the answer (%s)', (engine) => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('every acknowledged id is stored', async () => {
    const dir = tmpDir('sb-ingest-kill-');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    let databaseUrl: string | undefined;
    if (engine === 'mysql') {
      const db = await createTestDatabase();
      cleanup.push(() => db.drop());
      databaseUrl = db.url;
    }
    const open = () => openStore({ databaseUrl, sqlitePath: path.join(dir, 'switchboard.sqlite') });
    const seedStore = open();
    await migrateToLatest(seedStore);
    const { token, sensorIds } = await seedNode(seedStore, 'pbx-kill', 10);
    await seedStore.close();

    const bot = startProcess({
      SWITCHBOARD_DATA_DIR: dir,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      SWITCHBOARD_PROVISION_KEY: sharedKey(),
      SWITCHBOARD_HTTP_PORT: '0',
      SWITCHBOARD_ADMIN_PASSWORD: 'kill-test-password',
      SWITCHBOARD_LOG_LEVEL: 'warn',
    });
    cleanup.push(() => void bot.child.kill('SIGKILL'));
    const url = await bot.url;

    const acked = new Set<string>();
    let killed = false;
    const KILL_AFTER = 3000;
    // 12 posters, 50 results a post: many posts share each transaction. The kill comes from inside the
    // handler of the answer that passes the count, so other answers of the same group are still on the way.
    const poster = async (): Promise<void> => {
      while (!killed) {
        const results = batch(sensorIds, 50);
        let res: Response;
        try {
          res = await fetch(`${url}/api/v1/agent/results`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ results }) });
        } catch {
          return; // the bot is gone: this post was not acknowledged
        }
        if (res.status !== 200) continue;
        const body = (await res.json().catch(() => null)) as { stored?: number } | null;
        if (body?.stored !== results.length) continue;
        for (const r of results) acked.add(r.id);
        if (!killed && acked.size >= KILL_AFTER) {
          killed = true;
          bot.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, poster));
    await bot.exited;
    expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER);

    const check = open();
    const stored = new Set<string>();
    for (const r of await check.db.selectFrom('mon_records').select('result_id').execute()) stored.add(r.result_id);
    await check.close();
    const lost = [...acked].filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
    expect(stored.size).toBeGreaterThanOrEqual(acked.size);
  }, 120_000);
});

describe('a full ingest queue answers 503 with Retry-After at once (MariaDB, the store held by a lock)', () => {
  let t: TestApp;
  afterAll(async () => {
    await t?.close();
  });

  it('refuses what does not fit, stores what was queued once the store is free', async () => {
    t = await makeTestApp({ engine: 'mysql', listen: true, overrides: { 'monitor.ingest': { maxGroupResults: 5, maxQueuedResults: 10, maxWaitMs: 60_000, maxAnswerMs: 60_000 } } });
    const { token, sensorIds } = await seedNode(t.app.store, 'pbx-busy', 5);
    const url = t.app.baseUrl();
    const post = (results: unknown[]) =>
      fetch(`${url}/api/v1/agent/results`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ results }) });
    // Another session holds the states table: the bot's first group waits on the lock.
    const u = new URL(t.databaseUrl!);
    const locker = await createConnection({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: u.pathname.slice(1),
    });
    try {
      await locker.query('LOCK TABLES mon_sensor_state WRITE');
      const first = post(batch(sensorIds, 5)); // in the blocked transaction
      await new Promise((r) => setTimeout(r, 300));
      const queued = [post(batch(sensorIds, 5)), post(batch(sensorIds, 5))]; // 10 waiting: the bound
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      const refused = await post(batch(sensorIds, 5));
      expect(Date.now() - t0).toBeLessThan(5000); // answered while the store is still locked
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await refused.json()) as { error: string }).error).toMatch(/busy storing results/);
      await locker.query('UNLOCK TABLES');
      const answers = await Promise.all([first, ...queued]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    } finally {
      await locker.end();
    }
    const n = Number(
      (
        await t.app.db
          .selectFrom('mon_records')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    expect(n).toBe(15);
  }, 60_000);
});

describe('a post is answered within maxAnswerMs whatever store read holds it up (MariaDB, tables held by a lock)', () => {
  let t: TestApp;
  afterAll(async () => {
    await t?.close();
  });

  it('a stalled token lookup or sensor lookup answers 503 with Retry-After while the store is still held; the batch is stored once when it is free', async () => {
    t = await makeTestApp({ engine: 'mysql', listen: true, overrides: { 'monitor.ingest': { maxAnswerMs: 1000 } } });
    const { token, sensorIds } = await seedNode(t.app.store, 'pbx-stalled', 3);
    const url = t.app.baseUrl();
    const post = (results: unknown[]) =>
      fetch(`${url}/api/v1/agent/results`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ results }),
        signal: AbortSignal.timeout(30_000),
      });
    const u = new URL(t.databaseUrl!);
    const locker = await createConnection({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: u.pathname.slice(1),
    });
    const ids: string[] = [];
    try {
      // Which store read a post needs first: the node's token (mon_nodes), then its sensor list (mon_node_sensors).
      for (const table of ['mon_nodes', 'mon_node_sensors']) {
        if (table === 'mon_node_sensors') {
          // The token is known now (a post has been answered 200) and cached for a second, the sensor list for
          // two: a post after that looks both up again; only the sensor list is locked.
          await new Promise((r) => setTimeout(r, 2100));
        }
        await locker.query(`LOCK TABLES ${table} WRITE`);
        const b = batch(sensorIds, 3);
        ids.push(...b.map((x) => x.id));
        // Answered while the lock is still held (it is released only below): the lookup waits on it, the answer does not.
        const answer = await post(b);
        expect(answer.status, `${table}: ${await answer.clone().text()}`).toBe(503);
        expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(((await answer.json()) as { error: string }).error).toMatch(/did not answer within 1000 ms/);
        await locker.query('UNLOCK TABLES');
        // The agent sends the batch again after Retry-After until it is taken: stored, or found stored by the
        // post that went on after its 503.
        await until(
          `the batch sent again after ${table} is free to be taken`,
          async () => {
            const again = await post(b);
            await again.arrayBuffer();
            if (again.status === 503) await new Promise((r) => setTimeout(r, 1000 * Number(again.headers.get('retry-after') ?? 1)));
            else expect(again.status).toBe(200);
            return again.status === 200;
          },
          30_000,
          0,
        );
      }
    } finally {
      await locker.end();
    }
    await new Promise((r) => setTimeout(r, 300));
    const rows = await t.app.db.selectFrom('mon_records').select('result_id').execute();
    expect(rows.map((r) => r.result_id).sort()).toEqual([...ids].sort());
  }, 60_000);
});

describe('posts past monitor.ingest.maxInFlight are answered 503 with Retry-After before their body is read (MariaDB, the store held by a lock)', () => {
  let t: TestApp;
  afterAll(async () => {
    await t?.close();
  });

  it('the third post while two are held gets 503 at once; the two are stored once the store is free', async () => {
    t = await makeTestApp({ engine: 'mysql', listen: true, overrides: { 'monitor.ingest': { maxInFlight: 2, maxAnswerMs: 60_000 } } });
    const { token, sensorIds } = await seedNode(t.app.store, 'pbx-inflight', 2);
    const url = t.app.baseUrl();
    const post = (results: unknown[]) =>
      fetch(`${url}/api/v1/agent/results`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ results }) });
    const u = new URL(t.databaseUrl!);
    const locker = await createConnection({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: u.pathname.slice(1),
    });
    try {
      // A first post caches the token and the sensor list, so the held posts wait on the states table only.
      expect((await post(batch(sensorIds, 2))).status).toBe(200);
      await locker.query('LOCK TABLES mon_sensor_state WRITE');
      const held = [post(batch(sensorIds, 2)), post(batch(sensorIds, 2))];
      await new Promise((r) => setTimeout(r, 500));
      const t0 = Date.now();
      const refused = await post(batch(sensorIds, 2));
      expect(Date.now() - t0).toBeLessThan(5000); // answered while the store is still locked
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { error: string }).error).toMatch(/busy \(2 posts being handled\)/);
      await locker.query('UNLOCK TABLES');
      expect((await Promise.all(held)).map((a) => a.status)).toEqual([200, 200]);
      // The bound counts posts being handled, not posts ever made: the next one is taken.
      expect((await post(batch(sensorIds, 2))).status).toBe(200);
    } finally {
      await locker.end();
    }
    const n = Number(
      (
        await t.app.db
          .selectFrom('mon_records')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    expect(n).toBe(8);
  }, 60_000);
});
