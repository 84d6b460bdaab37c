// Rows written behind the request that produced them: buffered, then inserted in batches so a busy HTTP
// path (caller-ID hook, phone config fetches) never waits on the store. The buffer is bounded: when the
// store falls behind, the oldest rows are dropped and counted. flush() before reading what was added.
export class WriteBehind<R> {
  private pending: R[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  dropped = 0;

  constructor(private opts: { write(rows: R[]): Promise<void>; onError(err: unknown, rows: number): void; flushMs?: number; max?: number }) {}

  add(row: R): void {
    if (this.pending.length >= (this.opts.max ?? 50_000)) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push(row);
    this.timer ??= setTimeout(() => void this.flush(), this.opts.flushMs ?? 200);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.running) await this.running;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    this.running = this.opts.write(batch).catch((err) => this.opts.onError(err, batch.length));
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }
}
