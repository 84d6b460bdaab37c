// Leases and schedules: replicas on one store run each scheduled task once per period; a holder's lease is
// renewed by a heartbeat and taken over when it stops renewing (or at once when it is a dead local process).
import { afterEach, describe, expect, it } from 'vitest';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { Leases } from '../src/core/leases.js';
import { Scheduler } from '../src/core/scheduler.js';
import { pino } from 'pino';
import { useMigratedScratchStore } from './helpers/mysql.js';
import type { RunningApp } from '../src/app.js';
import { peerApps, type Peers } from './helpers/peers.js';
import { sleep, until } from './helpers/wait.js';

describe.each(['sqlite', 'mysql'] as const)('schedule leases on %s', (engine) => {
  const scratch = useMigratedScratchStore(engine);

  it('gives a lease to one holder, renews it for that holder, and hands it over when it expires', async () => {
    const a = new Leases(scratch.store.db, 'remote-a:1:x');
    const b = new Leases(scratch.store.db, 'remote-b:2:y');
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

  it('release(name) gives up one lease of this holder only', async () => {
    const a = new Leases(scratch.store.db, 'remote-a:1:x');
    const b = new Leases(scratch.store.db, 'remote-b:2:y');
    const t0 = Date.now();
    expect(await a.acquire('discord', 60_000, t0)).toBe(true);
    expect(await a.acquire('telegram', 60_000, t0)).toBe(true);
    await b.release('discord'); // not b's: nothing happens
    expect(await b.acquire('discord', 60_000, t0 + 1)).toBe(false);
    await a.release('discord');
    expect(await b.acquire('discord', 60_000, t0 + 2)).toBe(true);
    expect(await b.acquire('telegram', 60_000, t0 + 2)).toBe(false); // a still holds this one
    expect(await a.holder('telegram')).toBe('remote-a:1:x');
  });

  it('takes over at once from a process on this machine that is gone', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const gone = new Leases(scratch.store.db, `${os.hostname()}:${dead}:z`);
    const me = new Leases(scratch.store.db, `${os.hostname()}:${process.pid}:me`);
    const t0 = Date.now();
    expect(await gone.acquire('tick', 3_600_000, t0)).toBe(true);
    expect(await me.acquire('tick', 60_000, t0 + 1)).toBe(true);
    const row = await scratch.store.db.selectFrom('schedule_leases').selectAll().where('name', '=', 'tick').executeTakeFirstOrThrow();
    expect(row.owner).toBe(`${os.hostname()}:${process.pid}:me`);
  });
});

describe('a scheduled slot fired twice in one process (sqlite)', () => {
  const scratch = useMigratedScratchStore('sqlite');

  it('runs once: an early timer or a repeated cron tick does not run the same period again', async () => {
    const leases = new Leases(scratch.store.db, `${os.hostname()}:${process.pid}:twice`);
    const s = new Scheduler(scratch.store.db, leases, pino({ level: 'silent' }), { leaseTtlMs: 60_000, renewMs: 20_000, keepRunsDays: 1 });
    let runs = 0;
    // The private firing path, as a timer or node-cron calls it.
    const fire = (s as unknown as { fire(e: object, slot: number): Promise<void> }).fire.bind(s);
    const entry = { name: 'twice', fn: () => void runs++, busy: false, stop: () => undefined };
    const slot = Math.floor(Date.now() / 1000) * 1000;
    await fire(entry, slot);
    await fire(entry, slot);
    expect(runs).toBe(1);
    await fire(entry, slot + 1000);
    expect(runs).toBe(2);
    const rows = await scratch.store.db.selectFrom('schedule_runs').select('period').where('name', '=', 'twice').execute();
    expect(rows).toHaveLength(2);
    await s.stop();
  });
});

describe.each(['sqlite', 'mysql'] as const)('app.schedule with replicas on one store (%s)', (engine) => {
  let peers: Peers | undefined;
  afterEach(async () => {
    await peers?.close();
    peers = undefined;
  });
  const fast = { 'schedules.leaseTtlMs': 3000, 'schedules.renewMs': 500 };

  it('runs each period exactly once across two replicas (interval and cron with seconds)', async () => {
    peers = await peerApps(engine, 2, [fast, fast], 'server');
    const ran = { tick: 0, cron: 0 };
    for (const app of peers.apps) {
      app.schedule('tick', 1000, () => void ran.tick++);
      app.schedule('cron', '*/2 * * * * *', () => void ran.cron++);
    }
    const db = peers.apps[0]!.db;
    const runs = (name: string) => db.selectFrom('schedule_runs').selectAll().where('name', '=', name).orderBy('period').execute();
    await until('four cron periods', async () => (await runs('cron')).length >= 4, 30_000);
    // Runs counted before the rows are read cannot outnumber them (each period is recorded before it runs,
    // once); runs counted after reading may miss only the last recorded period, which may not have run yet.
    // (The schedules keep running meanwhile, so a single count read later would race with the next period.)
    const before = { ...ran };
    const ticks = await runs('tick');
    const crons = await runs('cron');
    const after = { ...ran };
    expect(before.tick).toBeLessThanOrEqual(ticks.length);
    expect(after.tick).toBeGreaterThanOrEqual(ticks.length - 1);
    expect(before.cron).toBeLessThanOrEqual(crons.length);
    expect(after.cron).toBeGreaterThanOrEqual(crons.length - 1);
    // Every period, once: consecutive slots, no gap and no repeat.
    const step = (rows: { period: string }[]) => rows.slice(1).map((r, i) => Date.parse(r.period) - Date.parse(rows[i]!.period));
    expect(new Set(step(ticks))).toEqual(new Set([1000]));
    expect(new Set(step(crons))).toEqual(new Set([2000]));
    expect(crons.every((r) => new Date(r.period).getUTCSeconds() % 2 === 0 && r.period.endsWith('.000Z'))).toBe(true);
  });

  it('waits while another host holds the lease, and takes over once it stops renewing', async () => {
    const other = 'other-host:1:replica';
    peers = await peerApps(engine, 1, [fast], 'server');
    const [app] = peers.apps as [RunningApp];
    const leasesOfOther = new Leases(app.db, other);
    const stoppedRenewing = Date.now();
    expect(await leasesOfOther.acquire('count', 3000, stoppedRenewing)).toBe(true);
    let first = 0;
    app.schedule('count', 200, () => void (first ||= Date.now()));
    await sleep(1500);
    expect(first).toBe(0); // the other host holds it
    await until('the takeover', () => first, 20_000);
    expect(first - stoppedRenewing).toBeGreaterThanOrEqual(3000);
    expect(await app.leases.holder('count')).toBe(app.owner);
  });

  it('hands a schedule over at once on a clean stop', async () => {
    peers = await peerApps(engine, 2, [{ 'schedules.leaseTtlMs': 40_000 }, { 'schedules.leaseTtlMs': 40_000 }], 'server');
    const [a, b] = peers.apps as [RunningApp, RunningApp];
    const by: string[] = [];
    a.schedule('count', 200, () => void by.push('a'));
    await until('a to run', () => by.includes('a'));
    b.schedule('count', 200, () => void by.push('b'));
    await a.close();
    await until('b to take over', () => by.includes('b'), 10_000);
  });
});
