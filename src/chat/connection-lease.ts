// One connection for the whole cluster: the Discord gateway and Telegram long polling deliver every event to
// every connection (Discord) or refuse a second poller (Telegram, 409), so only the replica holding the
// connection's lease in the store connects. The holder renews the lease every few seconds and disconnects
// when a renewal fails (another replica took it, or the store cannot confirm it any more); the others retry
// every few seconds and connect once the lease is theirs: on a clean stop the holder releases it at once,
// after a crash it expires (ttlMs). Replicas without the connection still send through the platform's Web API.
import type { Logger } from '../log.js';

export interface LeaseStore {
  acquire(name: string, ttlMs: number): Promise<boolean>;
  release(name: string): Promise<void>;
}

export interface LeaseTiming {
  /** How long a lease lasts after its last renewal: a dead holder's connection is taken over after this. */
  ttlMs: number;
  /** How often the holder renews. */
  renewMs: number;
  /** How often the others try to take it. */
  retryMs: number;
}

/** A dead holder is replaced within ttlMs + retryMs (20 s); a holder that cannot renew stops well before expiry. */
export const CHAT_LEASE_TIMING: LeaseTiming = { ttlMs: 15_000, renewMs: 5_000, retryMs: 5_000 };

export interface LeasedConnection {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

export class ConnectionLease {
  private held = false;
  /** The lease is ours until then (counted from before the renewal that confirmed it). */
  private heldUntil = 0;
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private ticking?: Promise<void>;
  /** connect/disconnect run one after the other, never overlapping. */
  private transitions: Promise<void> = Promise.resolve();
  /** Lease attempts so far (tests wait for the replicas to have competed a few times). */
  attempts = 0;

  constructor(
    private leases: LeaseStore,
    readonly name: string,
    private conn: LeasedConnection,
    private log: Logger,
    private timing: LeaseTiming = CHAT_LEASE_TIMING,
  ) {}

  /** Whether this replica holds the connection now. */
  get holding(): boolean {
    return this.held;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.ticking = this.tick();
  }

  private async tick(): Promise<void> {
    const before = Date.now();
    let ours: boolean | undefined;
    try {
      ours = await this.leases.acquire(this.name, this.timing.ttlMs);
      this.attempts++;
    } catch (err) {
      this.log.warn({ lease: this.name, err: String((err as Error)?.message ?? err) }, 'chat connection lease: the store did not answer');
    }
    if (this.stopped) return;
    if (ours) {
      this.heldUntil = before + this.timing.ttlMs;
      if (!this.held) {
        this.held = true;
        this.log.info({ lease: this.name }, 'chat connection lease taken: this replica holds the connection');
        this.transition(() => this.conn.connect());
      }
    } else if (this.held && (ours === false || Date.now() + this.timing.renewMs >= this.heldUntil)) {
      // Another replica has it, or it may expire before the next renewal: let go before anyone takes over.
      this.held = false;
      this.log.warn({ lease: this.name }, 'chat connection lease lost: disconnecting; another replica holds the connection');
      this.transition(() => this.conn.disconnect());
    }
    this.timer = setTimeout(() => (this.ticking = this.tick()), this.held ? this.timing.renewMs : this.timing.retryMs);
    this.timer.unref();
  }

  private transition(fn: () => Promise<void>): void {
    this.transitions = this.transitions.then(fn).catch((err) => this.log.error({ lease: this.name, err: String(err) }, 'chat connection lease: connect/disconnect failed'));
  }

  /**
   * Stops competing, disconnects and (unless `release: false`) gives the lease up so another replica connects
   * at once. `release: false` leaves the lease row as a process that dies does: it is taken over on expiry.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
    const wasHeld = this.held;
    this.held = false;
    if (wasHeld) this.transition(() => this.conn.disconnect());
    await this.transitions;
    // Released even when not known as held: a renewal may have taken it while stop() waited (only our own row goes).
    if (opts.release !== false) await this.leases.release(this.name).catch((err) => this.log.warn({ lease: this.name, err: String(err) }, 'chat connection lease: could not release'));
  }
}
