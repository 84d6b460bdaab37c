// Coalescing the edits of one message (job progress), so a burst becomes one edit with the newest text.

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Coalesces edits of one message: at most one edit in flight per key; while one runs, newer texts replace
 * older pending ones, so a burst of progress updates becomes one edit with the latest text. Edits of one
 * message are at least `minIntervalMs` apart (also across bursts), and the newest text always goes out last.
 * The promise of each call resolves when its text or a newer one has been applied.
 */
type EditState<T> = { running: boolean; lastAt: number; pending?: { value: T; waiters: { resolve(): void; reject(e: unknown): void }[] } };
export class EditCoalescer<T> {
  private state = new Map<string, EditState<T>>();
  constructor(
    private apply: (key: string, value: T) => Promise<void>,
    private minIntervalMs = 0,
  ) {}

  edit(key: string, value: T): Promise<void> {
    let s = this.state.get(key);
    if (!s) this.state.set(key, (s = { running: false, lastAt: 0 }));
    const p = new Promise<void>((resolve, reject) => {
      if (s.pending) {
        s.pending.value = value;
        s.pending.waiters.push({ resolve, reject });
      } else s.pending = { value, waiters: [{ resolve, reject }] };
    });
    if (!s.running) void this.drain(key, s);
    return p;
  }

  private async drain(key: string, s: EditState<T>): Promise<void> {
    s.running = true;
    while (s.pending) {
      const wait = s.lastAt + this.minIntervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      const job = s.pending;
      s.pending = undefined;
      try {
        await this.apply(key, job.value);
        job.waiters.forEach((w) => w.resolve());
      } catch (e) {
        job.waiters.forEach((w) => w.reject(e));
      }
      s.lastAt = Date.now();
    }
    s.running = false;
    // Remember the last edit's time for one interval, so the next burst is paced too.
    if (!this.minIntervalMs) this.state.delete(key);
    else
      setTimeout(() => {
        if (this.state.get(key) === s && !s.running && !s.pending) this.state.delete(key);
      }, this.minIntervalMs).unref();
  }
}
