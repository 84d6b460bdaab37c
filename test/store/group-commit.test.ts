// Group commit: concurrent submits share one write, every caller is answered after the write holding its item
// has finished, a full queue refuses at once with a retry hint, and one bad item fails only its own caller.
import { describe, expect, it } from 'vitest';
import { GroupCommit, QueueFull } from '../../src/store/group-commit.js';

function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('GroupCommit', () => {
  it('writes concurrent submits in a few groups and answers each after its group is written', async () => {
    const groups: number[][] = [];
    const committed = new Set<number>();
    const q = new GroupCommit<number, string>({
      write: async (items) => {
        groups.push(items);
        await new Promise((r) => setTimeout(r, 5));
        for (const i of items) committed.add(i);
        return items.map((i) => `ok ${i}`);
      },
      weight: () => 1,
      maxGroupWeight: 1000,
      maxQueuedWeight: 1000,
      maxWaitMs: 10_000,
    });
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        q.submit(i).then((r) => {
          expect(committed.has(i)).toBe(true); // never answered before its write finished
          return r;
        }),
      ),
    );
    expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => `ok ${i}`));
    expect(groups.length).toBeLessThan(5);
    expect(groups.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(q.stats).toMatchObject({ queued: 0, items: 200 });
  });

  it('keeps a group within maxGroupWeight (but always takes one item)', async () => {
    const sizes: number[] = [];
    const q = new GroupCommit<number, number>({
      write: async (items) => (sizes.push(items.reduce((a, b) => a + b, 0)), items),
      weight: (n) => n,
      maxGroupWeight: 10,
      maxQueuedWeight: 1000,
      maxWaitMs: 10_000,
    });
    await Promise.all([4, 4, 4, 25, 3].map((n) => q.submit(n)));
    expect(sizes).toEqual([8, 4, 25, 3]);
  });

  it('refuses with QueueFull (503, Retry-After) when the queued weight would pass the bound, and takes work again once drained', async () => {
    const g = gate();
    const q = new GroupCommit<number, number>({
      write: async (items) => (await g.wait, items),
      weight: (n) => n,
      maxGroupWeight: 5,
      maxQueuedWeight: 10,
      maxWaitMs: 60_000,
    });
    const first = q.submit(5); // taken into the (blocked) write
    await new Promise((r) => setTimeout(r, 10));
    const queued = [q.submit(5), q.submit(5)]; // 10 waiting: the bound
    let refused: unknown;
    try {
      void q.submit(1);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(QueueFull);
    expect((refused as QueueFull).statusCode).toBe(503);
    expect((refused as QueueFull).retryAfterS).toBeGreaterThanOrEqual(1);
    expect((refused as QueueFull).message).toMatch(/busy storing results \(10 queued\)/);
    g.open();
    expect(await Promise.all([first, ...queued])).toEqual([5, 5, 5]);
    expect(await q.submit(1)).toBe(1);
  });

  it('refuses when the oldest waiting item has waited longer than maxWaitMs', async () => {
    const g = gate();
    const q = new GroupCommit<number, number>({ write: async (items) => (await g.wait, items), weight: () => 1, maxGroupWeight: 1, maxQueuedWeight: 1000, maxWaitMs: 20 });
    const a = q.submit(1);
    await new Promise((r) => setTimeout(r, 5));
    const b = q.submit(2); // waits behind the blocked write
    await new Promise((r) => setTimeout(r, 40));
    expect(() => q.submit(3)).toThrow(/oldest waiting \d+ ms/);
    g.open();
    expect(await Promise.all([a, b])).toEqual([1, 2]);
  });

  it('fails only the caller whose item the write refuses; the others in its group are written', async () => {
    const q = new GroupCommit<number, number>({
      write: async (items) => {
        if (items.includes(13)) throw new Error('item 13 is bad');
        return items.map((i) => i * 2);
      },
      weight: () => 1,
      maxGroupWeight: 100,
      maxQueuedWeight: 100,
      maxWaitMs: 10_000,
    });
    const out = await Promise.allSettled([1, 13, 3].map((i) => q.submit(i)));
    expect(out.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([2, 'item 13 is bad', 6]);
  });
});

describe('GroupCommit with concurrency', () => {
  it('overlaps writes, and starts each group only after the one before it is ready', async () => {
    const events: string[] = [];
    let live = 0;
    let maxLive = 0;
    const q = new GroupCommit<number, number>({
      write: async (items, ready) => {
        live++;
        maxLive = Math.max(maxLive, live);
        events.push(`start ${items.join(',')}`);
        await new Promise((r) => setTimeout(r, 5));
        events.push(`ready ${items.join(',')}`);
        ready();
        await new Promise((r) => setTimeout(r, 30));
        live--;
        return items;
      },
      weight: () => 1,
      maxGroupWeight: 2,
      maxQueuedWeight: 100,
      maxWaitMs: 10_000,
      concurrency: 3,
    });
    const out = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => q.submit(i)));
    expect(out).toEqual([1, 2, 3, 4, 5, 6]);
    expect(maxLive).toBe(3); // three groups of two written at once
    // Each group starts after the previous one said it was ready, in order.
    expect(events.filter((e) => e.startsWith('start'))).toEqual(['start 1,2', 'start 3,4', 'start 5,6']);
    for (const g of ['3,4', '5,6']) {
      const prev = g === '3,4' ? '1,2' : '3,4';
      expect(events.indexOf(`start ${g}`)).toBeGreaterThan(events.indexOf(`ready ${prev}`));
    }
  });
});
