// The store's sessions on a real Galera node (the cluster of global-setup.ts): with `database.writeTo: any`
// (replicas writing through different nodes) every connection of the pool reads with wsrep_sync_wait = 1, so a
// read-then-write sees what any node committed before it; with the default `first` the sessions keep the
// server's default (0). Read on several sessions held at once, each on its own connection.
import crypto from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { sharedKey } from '../helpers/start-process.js';
import { GaleraCluster } from './galera-cluster.js';

const galera = GaleraCluster.attach();
if (!galera) throw new Error('the Galera suite runs with its global setup: npm run test:galera');

/** CONNECTION_ID, wsrep_on and the session's wsrep_sync_wait of `n` pool connections held at the same time. */
async function sessions(t: TestApp, n: number): Promise<{ id: number; on: number; wait: number }[]> {
  const seen: { id: number; on: number; wait: number }[] = [];
  let release!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  await Promise.all(
    Array.from({ length: n }, () =>
      t.app.db.transaction().execute(async (trx) => {
        const r = (await sql<{ id: number; on: number; wait: number }>`SELECT CONNECTION_ID() AS id, @@wsrep_on AS \`on\`, @@session.wsrep_sync_wait AS wait`.execute(trx)).rows[0]!;
        seen.push({ id: Number(r.id), on: Number(r.on), wait: Number(r.wait) });
        if (seen.length === n) release();
        await hold;
      }),
    ),
  );
  expect(new Set(seen.map((s) => s.id)).size).toBe(n);
  return seen;
}

describe('store sessions on a Galera node', () => {
  const db = `sb_session_${crypto.randomBytes(4).toString('hex')}`;
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const t of apps) await t.close();
    await galera.query(0, `DROP DATABASE IF EXISTS \`${db}\``);
  });

  it('writeTo any sets wsrep_sync_wait = 1 on every connection; writeTo first leaves it at 0', async () => {
    await galera.freshDatabase(db);
    const key = sharedKey();
    const any = await makeTestApp({ databaseUrl: galera.hostListUrl(db, 1), provisionKey: key, overrides: { 'database.writeTo': 'any' } });
    apps.push(any);
    const first = await makeTestApp({ databaseUrl: galera.hostListUrl(db, 1), provisionKey: key });
    apps.push(first);
    expect(first.app.config.database.writeTo).toBe('first');
    expect((await sessions(any, 3)).map((s) => [s.on, s.wait])).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    expect((await sessions(first, 3)).map((s) => [s.on, s.wait])).toEqual([
      [1, 0],
      [1, 0],
      [1, 0],
    ]);
  });
});
