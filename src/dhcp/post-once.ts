// Caller ID: one post per number per de-duplication window across every process on the store. Ring groups and
// retries hit the hook once per leg, possibly on different replicas; the first process to claim
// `callerid:<digits>` in the store posts, the others do not. The decision is taken after the hook has
// answered (the dialplan never waits for the store) and every hit is still a `calls` row (the caller's job).
import type { App } from '../app-types.js';

export class PostOnce {
  private pending = new Set<Promise<void>>();
  /** Numbers this process won, by time: inside their window nobody else can win, so the store is not asked. */
  private won = new Map<string, number>();

  constructor(
    private app: App,
    private windowMs: number,
    private post: (text: string) => Promise<unknown>,
  ) {}

  /** Posts `text` unless `digits` was posted by any process within the window. Returns at once. */
  offer(digits: string, text: string): void {
    if (this.postedHere(digits, Date.now())) return; // the common case in a burst: no store, no promise
    const p: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.decide(digits, text))
      .catch((err: unknown) => this.app.log.error({ err: String(err) }, 'could not post a caller-ID message'))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Resolves once every offered post is decided and sent (tests, `calls`). */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private postedHere(digits: string, t: number): boolean {
    return t - (this.won.get(digits) ?? -Infinity) < this.windowMs;
  }

  private async decide(digits: string, text: string): Promise<void> {
    const t = Date.now();
    if (this.postedHere(digits, t)) return;
    let first: boolean;
    try {
      first = await this.app.claims.claim(`callerid:${digits.slice(0, 64)}`, this.windowMs, t);
    } catch (err) {
      // The store cannot decide: a second post is better than a call nobody is told about.
      this.app.log.warn({ err: String(err) }, 'caller-ID de-duplication claim failed; posting anyway');
      first = true;
    }
    if (!first) return;
    this.won.set(digits, t);
    if (this.won.size > 10_000) for (const [k, v] of this.won) if (t - v >= this.windowMs) this.won.delete(k);
    await this.post(text);
  }
}
