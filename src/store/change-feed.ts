// A change feed in the store: writers add a row (topic, key) in the same transaction as the change; every
// process polls the feed and refreshes what it keeps in memory for that key ('*' = the whole topic). This is
// how a phone provisioned through `exec` or another replica is served here within a second, without a full
// table read per request.
//
// Ids come from one auto-increment, so a row can become visible after a higher id was already read (a slower
// transaction) and ids can be skipped for good (rolled back; Galera's auto_increment_increment). The reader
// therefore keeps a floor below which every id is settled, remembers the ids it delivered above it, and lets
// the floor pass a missing id once that id has been missing for `gapMs`.
import type { DB } from './db.js';

declare module './db.js' {
  interface Tables {
    change_feed: { id: import('kysely').Generated<number>; topic: string; k: string; at: number };
  }
}

type Handler = (keys: string[]) => Promise<void> | void;

/** Writes change rows; pass the transaction that makes the change. '*' means "everything in the topic". */
export async function publishChanges(db: DB, topic: string, keys: Iterable<string>): Promise<void> {
  const list = [...new Set(keys)];
  if (!list.length) return;
  // A big batch is one "reload the topic" row instead of thousands of rows every reader walks.
  const rows = list.length > 200 ? [{ topic, k: '*', at: Date.now() }] : list.map((k) => ({ topic, k, at: Date.now() }));
  for (let i = 0; i < rows.length; i += 200)
    await db
      .insertInto('change_feed')
      .values(rows.slice(i, i + 200))
      .execute();
}

export class ChangeFeed {
  private handlers = new Map<string, Handler[]>();
  private floor = 0;
  private delivered = new Set<number>();
  private gaps = new Map<number, number>();
  private timer?: NodeJS.Timeout;
  private polling: Promise<void> | null = null;
  private started = false;

  constructor(
    private db: DB,
    private opts: { intervalMs?: number; gapMs?: number; onError?: (err: unknown) => void } = {},
  ) {}

  on(topic: string, fn: Handler): void {
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), fn]);
  }

  /** Starts from the feed's current end (callers loaded their state from the tables just before). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const r = await this.db
      .selectFrom('change_feed')
      .select((eb) => eb.fn.max('id').as('m'))
      .executeTakeFirst();
    this.floor = Number(r?.m ?? 0);
    const every = this.opts.intervalMs ?? 500;
    this.timer = setInterval(() => void this.poll(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.started = false;
  }

  /** One read of the feed (the timer calls it; tests and `exec` may call it to catch up at once). */
  poll(): Promise<void> {
    this.polling ??= this.readOnce()
      .catch((err) => this.opts.onError?.(err))
      .finally(() => (this.polling = null));
    return this.polling;
  }

  private async readOnce(): Promise<void> {
    const rows = await this.db.selectFrom('change_feed').select(['id', 'topic', 'k']).where('id', '>', this.floor).orderBy('id').limit(5000).execute();
    const byTopic = new Map<string, { ids: number[]; keys: Set<string> }>();
    for (const r of rows) {
      const id = Number(r.id);
      if (this.delivered.has(id)) continue;
      const t = byTopic.get(r.topic) ?? { ids: [], keys: new Set<string>() };
      t.ids.push(id);
      t.keys.add(r.k);
      byTopic.set(r.topic, t);
    }
    let failure: unknown;
    for (const [topic, { ids, keys }] of byTopic) {
      const list = keys.has('*') ? ['*'] : [...keys];
      try {
        for (const h of this.handlers.get(topic) ?? []) await h(list);
      } catch (err) {
        // Not marked delivered: the next read hands these keys over again (handlers are idempotent re-reads).
        failure ??= err;
        continue;
      }
      for (const id of ids) {
        this.delivered.add(id);
        this.gaps.delete(id);
      }
    }
    this.advanceFloor(rows.length ? Number(rows[rows.length - 1]!.id) : this.floor);
    if (failure !== undefined) throw failure;
  }

  /** Moves the floor over delivered ids and over ids missing for longer than gapMs. */
  private advanceFloor(highest: number): void {
    const t = Date.now();
    const gapMs = this.opts.gapMs ?? 30_000;
    for (let id = this.floor + 1; id <= highest; id++) {
      if (this.delivered.has(id)) continue;
      if (!this.gaps.has(id)) this.gaps.set(id, t);
      if (this.gaps.size > 100_000) break;
    }
    while (this.floor < highest) {
      const next = this.floor + 1;
      if (this.delivered.has(next)) this.delivered.delete(next);
      else if (t - (this.gaps.get(next) ?? t) >= gapMs) this.gaps.delete(next);
      else break;
      this.floor = next;
    }
  }
}

/** Drops feed rows older than `maxAgeMs` (every reader has long read them). */
export async function pruneChangeFeed(db: DB, maxAgeMs = 86_400_000): Promise<void> {
  await db
    .deleteFrom('change_feed')
    .where('at', '<', Date.now() - maxAgeMs)
    .execute();
}
