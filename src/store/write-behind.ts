// Rows written behind the request that produced them: buffered, then inserted in batches so a busy HTTP
// path (caller-ID hook, phone config fetches) never waits on the store. Batches are at most `maxBatch` rows
// and the event loop gets a turn between them, so a burst never stalls serving for one long synchronous
// insert (on SQLite an insert runs on the main thread: 8 000 rows at once held it ~40 ms). The buffer is
// bounded: when the store falls behind, the oldest rows are dropped and counted. flush() before reading
// what was added.
export interface WriteBehindOptions<R> {
  write(rows: R[]): Promise<void>;
  onError(err: unknown, rows: number): void;
  /** How long a row may wait before a write starts (ms). */
  flushMs?: number;
  /** Rows per write; a full batch is written at once instead of waiting for flushMs. */
  maxBatch?: number;
  /** Rows held at most; beyond that the oldest are dropped (counted in `dropped`). */
  max?: number;
}

export class WriteBehind<R> {
  private pending: R[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly maxBatch: number;
  private readonly max: number;
  dropped = 0;

  constructor(private opts: WriteBehindOptions<R>) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 1000);
    this.max = Math.max(this.maxBatch, opts.max ?? 50_000);
  }

  add(row: R): void {
    if (this.pending.length >= this.max) {
      // Drop a slice at once rather than shifting one row at a time (each shift moves the whole array).
      const n = Math.max(1, Math.floor(this.max / 100));
      this.pending.splice(0, n);
      this.dropped += n;
    }
    this.pending.push(row);
    if (this.pending.length >= this.maxBatch && !this.running) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.flush();
    } else {
      this.timer ??= setTimeout(() => void this.flush(), this.opts.flushMs ?? 200);
    }
  }

  /** Writes everything added so far, in order, in batches of at most maxBatch rows. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.running) await this.running;
    if (!this.pending.length) return;
    this.running = this.drain();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
    // Rows that arrived while draining: a full batch goes now, fewer wait for their timer.
    if (this.pending.length >= this.maxBatch) void this.flush();
    else if (this.pending.length && !this.timer) this.timer = setTimeout(() => void this.flush(), this.opts.flushMs ?? 200);
  }

  /** Writes the rows pending now (not those that arrive meanwhile, so a flush ends even under load). */
  private async drain(): Promise<void> {
    const rows = this.pending;
    this.pending = [];
    for (let i = 0; i < rows.length; i += this.maxBatch) {
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
      const batch = rows.length <= this.maxBatch ? rows : rows.slice(i, i + this.maxBatch);
      await this.opts.write(batch).catch((err) => this.opts.onError(err, batch.length));
    }
  }
}
