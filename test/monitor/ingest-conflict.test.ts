// One batch of results reaching two replicas at once (Galera): the ingest transaction loses certification
// (1213), and on its next attempt the other replica's copy of a result commits between its read and its insert
// (duplicate key). Every attempt must treat a duplicate as "already stored": the batch is acknowledged and each
// result is stored once. (MariaDB only: SQLite has one writer at a time, no concurrent copy can slip in.)
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsertQueryNode, SelectQueryNode, type KyselyPlugin } from 'kysely';
import { makeTestApp, type TestApp } from '../helpers/app.js';

describe('monitoring ingest racing another replica on mysql', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ engine: 'mysql' });
    await t.app.services.monitor.createEnrollment('pbx7');
    expect((await t.run('monitor sensor add s-h kind=load warn=5 crit=10 retention=history:30d')).exitCode).toBe(0);
    await t.run('monitor assign s-h pbx7');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a certification failure, then a duplicate committed by the other replica: stored once, no error', async () => {
    const db = t.app.db;
    const sensorId = (await db.selectFrom('mon_sensors').select('id').where('name', '=', 's-h').executeTakeFirstOrThrow()).id;
    const node = await db.selectFrom('mon_nodes').select(['id', 'name', 'enabled', 'stale', 'last_seen']).where('name', '=', 'pbx7').executeTakeFirstOrThrow();
    const result = { id: crypto.randomUUID(), sensorId, at: Date.now() - 1000, status: 0, output: 'ok', perfdata: [] };
    let inserts = 0;
    let raced = false;
    const racedReads = new Set<unknown>();
    const other: KyselyPlugin = {
      transformQuery({ node: q, queryId }) {
        const onRecords = JSON.stringify(q).includes('"mon_records"');
        if (onRecords && InsertQueryNode.is(q) && ++inserts === 1) throw Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), { errno: 1213 });
        if (onRecords && SelectQueryNode.is(q) && inserts === 1 && !raced) racedReads.add(queryId);
        return q;
      },
      async transformResult({ result: r, queryId }) {
        if (racedReads.has(queryId) && !raced) {
          raced = true; // the second attempt has read "not stored"; the other replica commits it now
          await db.insertInto('mon_records').values({ node_id: node.id, sensor_id: sensorId, result_id: result.id, at: result.at, status: 0, output: 'ok', perfdata: null }).execute();
        }
        return r;
      },
    };
    t.app.db = db.withPlugin(other);
    try {
      await t.app.services.monitor.ingest(node, [result]);
    } finally {
      t.app.db = db;
    }
    expect(raced).toBe(true);
    expect(inserts).toBe(2);
    expect(await db.selectFrom('mon_records').select('result_id').where('result_id', '=', result.id).execute()).toHaveLength(1);
  });
});
