// Lookups that arrive in the same turn of the event loop share one query (`where key in (…)`): a thousand
// agents re-checking their tokens cost a few queries a second instead of a thousand.

export class BatchLoader<K, V> {
  private pending = new Map<K, { resolve(v: V | undefined): void; reject(e: unknown): void }[]>();
  private scheduled = false;

  constructor(
    /** Rows for the keys (any order, missing ones left out), keyed by `keyOf`. */
    private fetchMany: (keys: K[]) => Promise<V[]>,
    private keyOf: (v: V) => K,
    private maxKeys = 500,
  ) {}

  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += this.maxKeys) {
      const chunk = keys.slice(i, i + this.maxKeys);
      try {
        const found = new Map((await this.fetchMany(chunk)).map((v) => [this.keyOf(v), v]));
        for (const k of chunk) for (const w of batch.get(k)!) w.resolve(found.get(k));
      } catch (e) {
        for (const k of chunk) for (const w of batch.get(k)!) w.reject(e);
      }
    }
  }
}
