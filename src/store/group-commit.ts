// Group commit: work that arrives while a transaction is being written waits, and the next transaction takes
// all of it at once. Each caller's promise settles only after the transaction holding its item has committed,
// so nothing is acknowledged before it is durable, and a burst of small requests costs one commit instead of
// one each. The queue is bounded (items' weight, and how long the oldest has waited): past the bound `submit`
// throws `QueueFull` at once, which the HTTP layer answers 503 with Retry-After, instead of letting requests
// pile up into 30 s tails.

export interface GroupCommitOptions<T, R> {
  /**
   * Stores a group in one transaction; returns one result per item, in order. With `concurrency` > 1 the
   * next group starts when this one calls `ready()` (once it holds the locks that order it before later
   * groups, e.g. its rows read FOR UPDATE) or when it finishes, whichever comes first.
   */
  write(items: T[], ready: () => void): Promise<R[]>;
  /** Groups written at once (default 1). More overlap the store's commit latency (InnoDB flushes them together). */
  concurrency?: number;
  /** Weight of an item (e.g. its result count). */
  weight(item: T): number;
  /** A group stops growing at this weight (it always takes at least one item). */
  maxGroupWeight: number;
  /** Items waiting (not yet in a write) may weigh at most this; beyond it `submit` throws QueueFull. */
  maxQueuedWeight: number;
  /** An item that has waited longer than this before its write began makes new submits throw QueueFull. */
  maxWaitMs: number;
}

export class QueueFull extends Error {
  readonly statusCode = 503;
  constructor(
    message: string,
    /** Seconds after which a retry is likely to be taken. */
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

interface Waiting<T, R> {
  item: T;
  weight: number;
  at: number;
  resolve(r: R): void;
  reject(err: unknown): void;
}

export class GroupCommit<T, R> {
  private queue: Waiting<T, R>[] = [];
  private queuedWeight = 0;
  private inFlight = 0;
  /** The last group started has not yet said it holds its locks: the next one waits (order). */
  private awaitingReady = false;
  private scheduled = false;
  /** Weight written per second, smoothed: tells a refused caller when to come back. */
  private rate = 0;
  private groups = 0;
  private written = 0;

  constructor(private opts: GroupCommitOptions<T, R>) {}

  /** Queue an item; settles after the transaction that stores it has committed (or failed). */
  submit(item: T): Promise<R> {
    const weight = Math.max(1, this.opts.weight(item));
    const oldest = this.queue[0];
    const waited = oldest ? Date.now() - oldest.at : 0;
    if (this.queue.length && (this.queuedWeight + weight > this.opts.maxQueuedWeight || waited > this.opts.maxWaitMs)) {
      const backlogS = this.rate > 0 ? (this.queuedWeight + weight) / this.rate : 1;
      throw new QueueFull(
        `the bot is busy storing results (${this.queuedWeight} queued${waited > this.opts.maxWaitMs ? `, oldest waiting ${waited} ms` : ''}); retry later`,
        Math.min(30, Math.max(1, Math.ceil(backlogS))),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, weight, at: Date.now(), resolve, reject });
      this.queuedWeight += weight;
      this.kick();
    });
  }

  /** Queued weight, groups written and items written so far (for metrics and tests). */
  get stats(): { queued: number; groups: number; items: number } {
    return { queued: this.queuedWeight, groups: this.groups, items: this.written };
  }

  /** Start groups on the next turn: the requests that arrive in this same turn join the first one. */
  private kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startGroups();
    });
  }

  private startGroups(): void {
    const concurrency = Math.max(1, this.opts.concurrency ?? 1);
    while (this.queue.length && this.inFlight < concurrency && !this.awaitingReady) {
      const group: Waiting<T, R>[] = [];
      let w = 0;
      while (this.queue.length && (group.length === 0 || w + this.queue[0]!.weight <= this.opts.maxGroupWeight)) {
        const next = this.queue.shift()!;
        w += next.weight;
        group.push(next);
      }
      this.queuedWeight -= w;
      this.inFlight++;
      this.awaitingReady = concurrency > 1;
      let readyDone = false;
      const ready = (): void => {
        if (readyDone) return;
        readyDone = true;
        this.awaitingReady = false;
        this.startGroups();
      };
      const t0 = performance.now();
      void this.writeGroup(group, ready).finally(() => {
        const s = Math.max(0.001, (performance.now() - t0) / 1000);
        this.rate = this.rate ? 0.8 * this.rate + 0.2 * ((w * Math.min(concurrency, this.inFlight)) / s) : w / s;
        this.groups++;
        this.written += group.length;
        this.inFlight--;
        if (!readyDone) ready();
        else this.startGroups();
      });
    }
  }

  /** One transaction for the group; if it fails and holds several items, each is written alone so one bad item fails only its own caller. */
  private async writeGroup(group: Waiting<T, R>[], ready: () => void): Promise<void> {
    try {
      const results = await this.opts.write(
        group.map((g) => g.item),
        ready,
      );
      group.forEach((g, i) => g.resolve(results[i]!));
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      for (const g of group) {
        try {
          g.resolve((await this.opts.write([g.item], () => undefined))[0]!);
        } catch (e) {
          g.reject(e);
        }
      }
    }
  }
}
