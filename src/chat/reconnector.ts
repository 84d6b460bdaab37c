// Keeping a platform connection alive: exponential back-off with jitter, and the Reconnector that retries.
import type { Logger } from '../log.js';

/** Delay of reconnect attempt n (0-based): base * 2^n, capped, with ±20 % jitter. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(d * (0.8 + Math.random() * 0.4));
}

/**
 * Keeps a connection alive: runs `connect` and, when it fails or reports a drop (`lost`), retries with
 * exponential back-off until stopped. The back-off starts over only once the connection has proven healthy:
 * `healthy()` was called (e.g. an update arrived) or it stayed up for `healthyAfterMs` after connecting.
 */
export class Reconnector {
  private attempt = 0;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private inflight?: Promise<void>;
  constructor(
    private name: string,
    private connect: () => Promise<void>,
    private log: Logger,
    private baseMs: number,
    private maxMs: number,
    private healthyAfterMs = 30_000,
    /** The delay of retry n (tests record what is scheduled through it). */
    private delayOf: (attempt: number, baseMs: number, maxMs: number) => number = backoff,
  ) {}

  /** First attempt; never throws (failures are retried in the background). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.tryOnce();
  }

  /** Failed attempts since the connection was last healthy. */
  get failures(): number {
    return this.attempt;
  }

  private tryOnce(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const p = this.attemptOnce().finally(() => {
      if (this.inflight === p) this.inflight = undefined;
    });
    this.inflight = p;
    return p;
  }

  private async attemptOnce(): Promise<void> {
    try {
      await this.connect();
      // stop() ran while connecting: nothing more to schedule (the adapter closes what connect opened).
      if (this.stopped) return;
      clearTimeout(this.healthTimer);
      this.healthTimer = setTimeout(() => this.healthy(), this.healthyAfterMs);
      this.healthTimer.unref();
    } catch (err) {
      this.schedule(err);
    }
  }

  /**
   * Resolves once no connection attempt is in flight (or after `maxWaitMs`): an adapter's stop() waits for it,
   * so a connection that completes during stop() is closed by stop() itself.
   */
  async idle(maxWaitMs = 10_000): Promise<void> {
    const p = this.inflight;
    if (!p) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, maxWaitMs)))]);
    clearTimeout(t);
  }

  /** The connection works (it delivered something): the next drop retries from the shortest delay. */
  healthy(): void {
    clearTimeout(this.healthTimer);
    this.healthTimer = undefined;
    this.attempt = 0;
  }

  /** Called when an established connection is lost for good (the SDK gave up). */
  lost(err: unknown, hint?: string): void {
    if (this.stopped) return;
    clearTimeout(this.healthTimer);
    this.healthTimer = undefined;
    this.schedule(err, hint);
  }

  private schedule(err: unknown, hint?: string): void {
    if (this.stopped || this.timer) return;
    const ms = this.delayOf(this.attempt++, this.baseMs, this.maxMs);
    this.log.warn({ platform: this.name, err: String((err as Error)?.message ?? err), retryInMs: ms, attempt: this.attempt }, hint ?? 'chat platform connection failed; retrying');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tryOnce();
    }, ms);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.healthTimer);
    this.timer = undefined;
    this.healthTimer = undefined;
  }
}
