// "Do this once" across every process on the store: the first process to insert a claim row for a key wins;
// the key can be claimed again only after its row expired. Used for de-duplication windows (one caller-ID post
// per number per window, one reply per inbound chat event) where the decision must hold across replicas.
import type { DB } from './db.js';
import { affected, isUniqueViolation } from './db.js';
import { withConflictRetry } from './conflict-retry.js';

declare module './db.js' {
  interface Tables {
    claims: { k: string; owner: string; expires_at: number };
  }
}

/** Keys are stored at most this long; longer keys are hashed down by the caller. */
export const CLAIM_KEY_MAX = 191;

export class Claims {
  private lastPrune = 0;

  constructor(
    private db: DB,
    readonly owner: string,
  ) {}

  /** True when this call won `key` for `ttlMs` (nobody holds an unexpired claim on it). */
  async claim(key: string, ttlMs: number, at = Date.now()): Promise<boolean> {
    if (key.length > CLAIM_KEY_MAX) throw new Error(`claim key longer than ${CLAIM_KEY_MAX} characters`);
    void this.pruneSometimes(at);
    // A deadlock / certification failure (Galera) rolls the statement back: try the whole claim again.
    return withConflictRetry(async () => {
      try {
        await this.db
          .insertInto('claims')
          .values({ k: key, owner: this.owner, expires_at: at + ttlMs })
          .execute();
        return true;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      const r = await this.db
        .updateTable('claims')
        .set({ owner: this.owner, expires_at: at + ttlMs })
        .where('k', '=', key)
        .where('expires_at', '<=', at)
        .executeTakeFirst();
      return affected(r) === 1;
    });
  }

  /** Gives a claim back (the work it guarded failed and may be tried again by anyone). */
  async release(key: string): Promise<void> {
    await this.db.deleteFrom('claims').where('k', '=', key).where('owner', '=', this.owner).execute();
  }

  /** Expired rows are dead weight: drop them now and then (at most once a minute per process). */
  private async pruneSometimes(at: number): Promise<void> {
    if (at - this.lastPrune < 60_000) return;
    this.lastPrune = at;
    try {
      await this.db
        .deleteFrom('claims')
        .where('expires_at', '<', at - 60_000)
        .execute();
    } catch {
      /* another process is pruning; harmless */
    }
  }
}
