// The store's pool over several MariaDB hosts, against the real test server: two TCP forwarders on loopback
// stand for two nodes (both lead to the test server), so a test can make one refuse connections and come back.
// Then the whole app on a host list with the default `database.writeTo` (first): a host that is down from the
// start (a closed loopback port) is passed over and every write lands on the next one; while the first answers,
// the second is never used. And on a MariaDB that is not a Galera node the pool leaves wsrep_sync_wait alone.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openStore, redactUrl, type Store } from '../../src/store/db.js';
import { parseMysqlUrl } from '../../src/store/host-pool.js';
import { isStoreUnavailable, StoreUnavailableError } from '../../src/store/store-errors.js';
import { createTestDatabase } from '../helpers/mysql.js';
import { mysqlUrl } from '../helpers/env.js';
import { freePort } from '../replicas/harness.js';
import { Forwarder } from '../helpers/forwarder.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { sharedKey } from '../helpers/start-process.js';

describe('parseMysqlUrl', () => {
  it('reads one host or a comma-separated list, in order, with default ports', () => {
    expect(parseMysqlUrl('mysql://root@127.0.0.1:3307/db')).toEqual({ hosts: [{ host: '127.0.0.1', port: 3307 }], user: 'root', password: '', database: 'db' });
    expect(parseMysqlUrl('mariadb://bot:p%40ss%3Aw@db1,db2:3307,[::1]:3308/switchboard')).toEqual({
      hosts: [
        { host: 'db1', port: 3306 },
        { host: 'db2', port: 3307 },
        { host: '::1', port: 3308 },
      ],
      user: 'bot',
      password: 'p@ss:w',
      database: 'switchboard',
    });
  });

  it('says which host of the list is wrong', () => {
    expect(() => parseMysqlUrl('mysql://root@db1:3306,db2:99999/x')).toThrow('DATABASE_URL host 2 ("db2:99999") is not host or host:port');
    expect(() => parseMysqlUrl('mysql://root@/x')).toThrow(/names no host/);
  });

  it('a host list is redacted like a single URL', () => {
    expect(redactUrl('mysql://bot:secret@db1:3306,db2:3306/x')).toBe('mysql://bot:***@db1:3306,db2:3306/x');
  });
});

describe('a store on several hosts', () => {
  const base = new URL(mysqlUrl());
  const target = { host: base.hostname, port: Number(base.port || 3306) };
  const cleanup: (() => Promise<unknown>)[] = [];
  let dbName = '';
  let drop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });
  afterAll(async () => drop?.());

  async function setup(): Promise<{ a: Forwarder; b: Forwarder; store: Store; url: string }> {
    if (!drop) {
      const db = await createTestDatabase();
      drop = db.drop;
      dbName = new URL(db.url).pathname.slice(1);
    }
    const a = await new Forwarder(await freePort(), target).open();
    const b = await new Forwarder(await freePort(), target).open();
    const auth = base.username ? `${base.username}${base.password ? `:${base.password}` : ''}@` : '';
    const url = `mysql://${auth}127.0.0.1:${a.port},127.0.0.1:${b.port}/${dbName}`;
    const store = openStore({ databaseUrl: url });
    cleanup.push(
      () => store.close(),
      () => a.shut(),
      () => b.shut(),
    );
    return { a, b, store, url };
  }

  const one = async (store: Store) => (await sql<{ v: number }>`select 1 as v`.execute(store.db)).rows[0]?.v;

  it('uses the first host while it answers', async () => {
    const { a, b, store } = await setup();
    expect(await one(store)).toBe(1);
    expect(a.connections).toBe(1);
    expect(b.connections).toBe(0);
    expect(store.hosts?.()).toEqual([
      { host: `127.0.0.1:${a.port}`, up: true },
      { host: `127.0.0.1:${b.port}`, up: true },
    ]);
  });

  it('fails over to the next host when the first refuses, and goes back once it answers again', async () => {
    const { a, b, store } = await setup();
    expect(await one(store)).toBe(1);
    await a.shut();
    // The connection the first host had is gone with it: the next query may meet that (a host failure,
    // retried by the callers' conflict retry); the one after runs on the second host.
    await one(store).catch((e: unknown) => expect(isStoreUnavailable(e)).toBe(true));
    expect(await one(store)).toBe(1);
    expect(b.connections).toBeGreaterThan(0);
    const down = store.hosts?.()[0];
    expect(down?.up).toBe(false);
    expect(down?.reason).toMatch(/ECONNREFUSED|ECONNRESET|closed state|PROTOCOL_CONNECTION_LOST/);
    await a.open();
    await new Promise((r) => setTimeout(r, 1100)); // the down mark lapses: the first host is tried first again
    const before = a.connections;
    // Several at once so the pool has to open a new connection rather than reuse an idle one on b.
    await Promise.all([1, 2, 3].map(() => one(store)));
    expect(a.connections).toBeGreaterThan(before);
    expect(store.hosts?.().every((h) => h.up)).toBe(true);
  });

  it('with no host answering, fails with a StoreUnavailableError naming each host', async () => {
    const { a, b, store } = await setup();
    await a.shut();
    await b.shut();
    const err = await one(store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(isStoreUnavailable(err)).toBe(true);
    expect((err as Error).message).toContain(`127.0.0.1:${a.port}: ECONNREFUSED`);
    expect((err as Error).message).toContain(`127.0.0.1:${b.port}: ECONNREFUSED`);
  });
});

describe('the app on a host list, writeTo first (the default)', () => {
  const base = new URL(mysqlUrl());
  const server = { host: base.hostname, port: Number(base.port || 3306) };
  const auth = base.username ? `${base.username}${base.password ? `:${base.password}` : ''}@` : '';
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  /** A scratch database, a counting forwarder to the test server, a loopback port nothing listens on. */
  async function hosts(): Promise<{ db: string; fwd: Forwarder; closed: number }> {
    const scratch = await createTestDatabase();
    cleanup.push(() => scratch.drop());
    const fwd = await new Forwarder(await freePort(), server).open();
    cleanup.push(() => fwd.shut());
    return { db: new URL(scratch.url).pathname.slice(1), fwd, closed: await freePort() };
  }

  async function app(hostList: string, db: string): Promise<TestApp> {
    const t = await makeTestApp({ databaseUrl: `mysql://${auth}${hostList}/${db}`, provisionKey: sharedKey() });
    cleanup.push(() => t.close());
    expect(t.app.config.database.writeTo).toBe('first');
    return t;
  }

  /** A write through a command (a row in mon_sensors), read back straight from the test server. */
  async function writeAndRead(t: TestApp, db: string, name: string): Promise<string[]> {
    const r = await t.run(`monitor sensor add ${name} kind=nagios command="/usr/lib/nagios/plugins/check_dummy 0" interval=60s retention=history:7d`);
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    const { createConnection } = await import('mysql2/promise');
    const conn = await createConnection({ ...server, user: decodeURIComponent(base.username), password: decodeURIComponent(base.password), database: db });
    try {
      const [rows] = await conn.query('SELECT name FROM mon_sensors ORDER BY name');
      return (rows as { name: string }[]).map((x) => x.name);
    } finally {
      await conn.end();
    }
  }

  it('the first host down from the start (a closed port): migrations and writes go to the second', async () => {
    const { db, fwd, closed } = await hosts();
    const t = await app(`127.0.0.1:${closed},127.0.0.1:${fwd.port}`, db);
    expect(await writeAndRead(t, db, 'ping-second')).toEqual(['ping-second']);
    expect(fwd.connections).toBeGreaterThan(0);
    // A down mark lapses after 1 s and the host is tried first again: read the marks right after a query.
    await sql`select 1`.execute(t.app.db);
    const [first, second] = t.app.store.hosts!();
    expect(first).toMatchObject({ host: `127.0.0.1:${closed}`, up: false, reason: expect.stringContaining('ECONNREFUSED') });
    expect(second).toEqual({ host: `127.0.0.1:${fwd.port}`, up: true });
    const down = t.logs.filter((l) => l.includes('store host down; using the next one'));
    expect(down.length).toBeGreaterThan(0);
    for (const l of down) expect(JSON.parse(l)).toMatchObject({ host: `127.0.0.1:${closed}`, reason: expect.stringContaining('ECONNREFUSED') });
  });

  it('the first host up: migrations and writes go to it, the second is never connected to', async () => {
    const { db, fwd } = await hosts();
    const t = await app(`${server.host}:${server.port},127.0.0.1:${fwd.port}`, db);
    expect(await writeAndRead(t, db, 'ping-first')).toEqual(['ping-first']);
    expect(fwd.connections).toBe(0);
    expect(t.app.store.hosts!().every((h) => h.up)).toBe(true);
    expect(t.logs.join('')).not.toMatch(/store host down/);
  });

  it('on a MariaDB that is not a Galera node, writeTo any leaves wsrep_sync_wait at the server default on every connection', async () => {
    const { db } = await hosts();
    const store = openStore({ databaseUrl: `mysql://${auth}${server.host}:${server.port}/${db}`, writeTo: 'any' });
    cleanup.push(() => store.close());
    // Three transactions held open at once: three sessions of the pool, each read on itself.
    const seen: { id: number; wait: number; on: number }[] = [];
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const tx = [1, 2, 3].map(() =>
      store.db.transaction().execute(async (trx) => {
        const r = (await sql<{ id: number; wait: number; on: number }>`SELECT CONNECTION_ID() AS id, @@session.wsrep_sync_wait AS wait, @@wsrep_on AS \`on\``.execute(trx)).rows[0]!;
        seen.push({ id: Number(r.id), wait: Number(r.wait), on: Number(r.on) });
        if (seen.length === 3) release();
        await hold;
      }),
    );
    await Promise.all(tx);
    expect(new Set(seen.map((s) => s.id)).size).toBe(3);
    // wsrep off: not a cluster node, so nothing to make causal (the Galera suite asserts 1 on a real node).
    expect(seen.map((s) => [s.on, s.wait])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
  });
});
