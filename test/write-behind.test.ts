// WriteBehind: rows written in order, in bounded batches, with the event loop free between batches; a
// bounded buffer that drops (and counts) the oldest rows when the store cannot keep up.
import { describe, expect, it } from 'vitest';
import { WriteBehind } from '../src/store/write-behind.js';

describe('WriteBehind', () => {
  it('writes every row once, in order, in batches of at most maxBatch, yielding between batches', async () => {
    const batches: number[][] = [];
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const seenTicks: number[] = [];
    const w = new WriteBehind<number>({
      flushMs: 10_000,
      maxBatch: 100,
      write: async (rows) => {
        seenTicks.push(ticks);
        batches.push([...rows]);
        const until = Date.now() + 3; // a synchronous insert holding the thread, as SQLite's does
        while (Date.now() < until);
      },
      onError: () => {},
    });
    for (let i = 0; i < 1050; i++) w.add(i);
    await w.flush();
    clearInterval(ticker);
    const all = batches.flat();
    expect(all).toEqual(Array.from({ length: 1050 }, (_, i) => i));
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(100);
    expect(batches.length).toBeGreaterThanOrEqual(11);
    // Timers ran between batches: the loop was not held for the whole burst.
    expect(seenTicks.at(-1)! - seenTicks[0]!).toBeGreaterThan(0);
  });

  it('a full batch is written without waiting for the timer; a few rows wait for flushMs', async () => {
    const written: number[] = [];
    const w = new WriteBehind<number>({ flushMs: 60_000, maxBatch: 5, write: async (rows) => void written.push(...rows), onError: () => {} });
    for (let i = 0; i < 3; i++) w.add(i);
    await new Promise((r) => setTimeout(r, 20));
    expect(written).toEqual([]);
    w.add(3);
    w.add(4);
    await new Promise((r) => setTimeout(r, 20));
    expect(written).toEqual([0, 1, 2, 3, 4]);
    w.add(5);
    await w.flush();
    expect(written).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('rows added during a write are kept and written by the next flush', async () => {
    const written: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const w = new WriteBehind<number>({
      flushMs: 60_000,
      maxBatch: 1000,
      write: async (rows) => {
        if (calls++ === 0) await gate;
        written.push(...rows);
      },
      onError: () => {},
    });
    w.add(1);
    const first = w.flush();
    w.add(2);
    w.add(3);
    release();
    await first;
    await w.flush();
    expect(written).toEqual([1, 2, 3]);
  });

  it('a failed write is reported with its row count and later rows still go', async () => {
    const errors: [string, number][] = [];
    const written: number[] = [];
    let fail = true;
    const w = new WriteBehind<number>({
      flushMs: 60_000,
      write: async (rows) => {
        if (fail) throw new Error('disk full');
        written.push(...rows);
      },
      onError: (err, n) => errors.push([(err as Error).message, n]),
    });
    w.add(1);
    w.add(2);
    await w.flush();
    fail = false;
    w.add(3);
    await w.flush();
    expect(errors).toEqual([['disk full', 2]]);
    expect(written).toEqual([3]);
  });

  it('bounds the buffer while the store is stuck: oldest rows dropped and counted, newest kept', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const written: number[] = [];
    const w = new WriteBehind<number>({
      flushMs: 60_000,
      maxBatch: 10,
      max: 1000,
      write: async (rows) => {
        await gate;
        written.push(...rows);
      },
      onError: () => {},
    });
    for (let i = 0; i < 5000; i++) w.add(i); // the first 10 are in flight, stuck
    expect(w.dropped).toBeGreaterThanOrEqual(3990);
    release();
    await w.flush();
    expect(written.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(written.at(-1)).toBe(4999);
    expect(written.length + w.dropped).toBe(5000);
    for (let i = 1; i < written.length; i++) expect(written[i]!).toBeGreaterThan(written[i - 1]!);
  });
});
