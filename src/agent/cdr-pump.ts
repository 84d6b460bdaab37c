// Moves calls from a CDR source (the cdr-csv file or FreePBX's CDR database) to the bot: posts that fit the
// bot's limits, the source's position committed after every delivered post, skipped records counted once
// when the position passes them, exponential back-off on anything worth retrying.
import type { CdrTail, CdrCall } from './cdr.js';
import type { CdrDbRead } from './cdr-db.js';

/** Per CDR post: well inside the bot's limits (5000 calls, `monitor.bodyLimitBytes`, 4 MiB by default). */
export const CDR_CHUNK_CALLS = 1000;
export const CDR_CHUNK_BYTES = 1024 * 1024;
export const BACKOFF_START_MS = 500;

/** Exponential back-off: doubles, capped. */
export function nextBackoff(prevMs: number, maxMs: number): number {
  return Math.min(prevMs * 2, maxMs);
}

/** One read of a source: its calls, where skipped records lie, and how to commit the position. */
export type CdrRead = CdrDbRead;

export interface CdrSource {
  read(): Promise<CdrRead | null>;
  close(): Promise<void>;
}

/** The CSV tail as a source: a skipped line lies after the calls whose lines end before it. */
export function csvSource(tail: CdrTail): CdrSource {
  return {
    async read() {
      const got = tail.read();
      if (!got) return null;
      const skipped = got.skippedEnds.map((end) => got.ends.filter((e) => e < end).length);
      return {
        calls: got.calls,
        skipped,
        more: got.more,
        commit: (n) => tail.commit(n >= got.calls.length ? got.next : tail.positionAt(got.ino, got.ends[n - 1]!)),
      };
    },
    async close() {},
  };
}

export type CdrLog = (level: string, msg: string, extra?: Record<string, unknown>) => void;

export class CdrPump {
  private busy = false;
  private backoff = BACKOFF_START_MS;
  private retryAt = 0;
  private chunkBytes = CDR_CHUNK_BYTES;
  /** Records given up on: unparsable or unreadable start time, longer than the read window, or refused by the bot even alone. */
  skipped = 0;

  constructor(
    private source: CdrSource,
    private post: (body: string) => Promise<Response>,
    private nodeId: number,
    private backoffMaxMs: number,
    private log: CdrLog,
    private stopped: () => boolean,
  ) {}

  async pump(): Promise<void> {
    if (this.busy || Date.now() < this.retryAt) return;
    this.busy = true;
    try {
      // A backlog is drained read by read, each in posts that fit the bot's limits; the position advances
      // after every delivered post. A failed post re-reads (and re-posts) from the last committed position.
      for (let round = 0; round < 16 && !this.stopped(); round++) {
        let got: CdrRead | null;
        try {
          got = await this.source.read();
        } catch (e) {
          throw Object.assign(new Error((e as Error).message), { reading: true });
        }
        if (!got) return;
        let k = 0;
        const passed = (n: number): void => {
          const from = k;
          while (k < got.skipped.length && (n >= got.calls.length || got.skipped[k]! < n)) k++;
          if (k > from) {
            this.skipped += k - from;
            this.log('warn', 'CDR records skipped (not a CDR of the configured layout, unreadable start time, or longer than the read window)', { count: k - from });
          }
        };
        for (let i = 0; i < got.calls.length; ) {
          let bytes = 0;
          let j = i;
          while (j < got.calls.length && j - i < CDR_CHUNK_CALLS) {
            const b = Buffer.byteLength(JSON.stringify(got.calls[j])) + 1;
            if (j > i && bytes + b > this.chunkBytes) break;
            bytes += b;
            j++;
          }
          const refused = await this.deliver(got.calls.slice(i, j));
          this.backoff = BACKOFF_START_MS;
          got.commit(j);
          this.skipped += refused;
          passed(j);
          i = j;
        }
        got.commit(got.calls.length);
        passed(got.calls.length);
        if (!got.more) return;
      }
    } catch (e) {
      // The same calls are posted again after the back-off (the position was not advanced past them).
      const retryMs = this.backoff;
      this.retryAt = Date.now() + retryMs;
      this.backoff = nextBackoff(retryMs, this.backoffMaxMs);
      this.log('warn', (e as { reading?: boolean }).reading ? 'CDR source could not be read; will retry' : 'CDR upload failed; will retry', { err: (e as Error).message, retryMs });
    } finally {
      this.busy = false;
    }
  }

  /**
   * Post calls. A 400/413 refuses something in the post for good: it is halved down to single calls, and a
   * single refused call is skipped (returned in the count). Anything else (401, 403, 404, 429, 5xx, no
   * answer) throws: the caller backs off and posts the same calls again.
   */
  private async deliver(calls: CdrCall[]): Promise<number> {
    const body = JSON.stringify({ nodeId: this.nodeId, calls, clock: Date.now() });
    const res = await this.post(body);
    const text = await res.text().catch(() => '');
    if (res.ok) return 0;
    if (res.status !== 400 && res.status !== 413) {
      let error: unknown;
      try {
        error = (JSON.parse(text) as { error?: unknown }).error;
      } catch {
        /* not JSON (a proxy's page) */
      }
      throw new Error(`HTTP ${res.status}${typeof error === 'string' ? `: ${error.slice(0, 200)}` : ''}`);
    }
    if (calls.length > 1) {
      // Smaller posts from now on when the body was too large.
      if (res.status === 413) this.chunkBytes = Math.max(4096, Math.floor(Buffer.byteLength(body) / 2));
      const mid = Math.ceil(calls.length / 2);
      const a = await this.deliver(calls.slice(0, mid));
      return a + (await this.deliver(calls.slice(mid)));
    }
    this.log('error', 'CDR call refused by the bot; skipped', { status: res.status, error: text.slice(0, 300), callId: calls[0]!.callId });
    return 1;
  }
}
