// Schedule leases: replicas on one store run each scheduled task once; a dead holder's lease is taken over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import type { Store } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { Leases } from '../src/core/leases.js';
import { openScratchStore } from './helpers/mysql.js';
import { makeTestApp } from './helpers/app.js';

describe.each(['sqlite', 'mysql'] as const)('schedule leases on %s', (engine) => {
  let store: Store;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ store, close } = await openScratchStore(engine));
    await migrateToLatest(store);
  });
  afterAll(() => close());

  it('gives a lease to one holder, renews it for that holder, and hands it over when it expires', async () => {
    const a = new Leases(store.db, 'remote-a:1:x');
    const b = new Leases(store.db, 'remote-b:2:y');
    const t0 = 1_800_000_000_000;
    expect(await a.acquire('prune', 60_000, t0)).toBe(true);
    expect(await b.acquire('prune', 60_000, t0 + 1)).toBe(false);
    expect(await a.acquire('prune', 60_000, t0 + 30_000)).toBe(true); // renewed to t0 + 90 s
    expect(await b.acquire('prune', 60_000, t0 + 80_000)).toBe(false);
    expect(await b.acquire('prune', 60_000, t0 + 90_001)).toBe(true);
    expect(await a.acquire('prune', 60_000, t0 + 90_002)).toBe(false);
    expect(await a.acquire('other', 60_000, t0)).toBe(true); // names are independent
    await b.releaseAll();
    expect(await a.acquire('prune', 60_000, t0 + 90_003)).toBe(true);
  });

  it('takes over at once from a process on this machine that is gone', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const gone = new Leases(store.db, `${os.hostname()}:${dead}:z`);
    const me = new Leases(store.db, `${os.hostname()}:${process.pid}:me`);
    const t0 = Date.now();
    expect(await gone.acquire('tick', 3_600_000, t0)).toBe(true);
    expect(await me.acquire('tick', 60_000, t0 + 1)).toBe(true);
    const row = await store.db.selectFrom('schedule_leases').selectAll().where('name', '=', 'tick').executeTakeFirstOrThrow();
    expect(row.owner).toBe(`${os.hostname()}:${process.pid}:me`);
  });
});

describe('app.schedule with two replicas on one store', () => {
  it('runs an interval task on one replica only', async () => {
    const first = await makeTestApp({ listen: true });
    try {
      // A second replica: same SQLite store, its own process identity.
      const leasesOfOther = new Leases(first.app.db, 'other-host:1:replica');
      expect(await leasesOfOther.acquire('count', 60_000)).toBe(true);
      let ran = 0;
      first.app.schedule('count', 50, () => {
        ran++;
      });
      await new Promise((r) => setTimeout(r, 400));
      expect(ran).toBe(0); // the other replica holds the lease
      await leasesOfOther.releaseAll();
      await new Promise((r) => setTimeout(r, 400));
      expect(ran).toBeGreaterThan(2);
    } finally {
      await first.close();
    }
  });
});
