// Write transactions that meet concurrent writers can fail for reasons that a second try cures: a deadlock or
// a Galera certification failure (MySQL errno 1213), a node not yet ready for use (1047, WSREP), a lock wait
// timeout (1205), SQLite's busy, a store host lost under the query (the pool then takes the next host, see
// host-pool.ts). `withConflictRetry` runs the WHOLE unit of work again (a fresh transaction each time), with
// jitter, at most `tries` times; after the bound the last error is thrown as it was.
// The unit of work must be idempotent at every attempt (read what is stored inside the attempt).
import type { Kysely, Transaction } from 'kysely';
import { isConflictError, isHostFailure, isStoreUnavailable } from './store-errors.js';

export interface ConflictRetryOptions {
  /** Total attempts, the first included (default 5). */
  tries?: number;
  /** Base delay in ms; attempt n waits about base * n plus up to 4 * base of jitter (default 5). */
  baseDelayMs?: number;
  /** Extra errors to retry (e.g. a duplicate key that the next attempt reads as already stored). */
  alsoRetry?: (err: unknown) => boolean;
}

/** Deadlock / certification failure (1213), lock wait timeout (1205), SQLite busy, or a host failure (1047, lost connection). */
export function isConflict(err: unknown): boolean {
  return isConflictError(err) || isHostFailure(err);
}

export async function withConflictRetry<T>(work: (attempt: number) => Promise<T>, opts: ConflictRetryOptions = {}): Promise<T> {
  const tries = Math.max(1, opts.tries ?? 5);
  const base = opts.baseDelayMs ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      const retriable = isConflict(err) || (opts.alsoRetry?.(err) ?? false);
      if (!retriable || attempt >= tries) throw err;
      // A host failure waits longer: the pool needs a moment to find the next host, a node a moment to get ready.
      const step = isHostFailure(err) ? Math.max(base, 50) : base;
      await new Promise((r) => setTimeout(r, step * attempt + Math.random() * step * 4));
    }
  }
}

/**
 * Runs `work` until it stops failing with "store unavailable" (no host answers, a node not ready), waiting
 * about a second between tries, for at most `maxMs`; then the last error is thrown. For writes that must land
 * once the store is back (a job's result), not for request paths (those answer 503 at once).
 */
export async function retryWhileUnavailable<T>(work: () => Promise<T>, opts: { maxMs: number; onWait?: (err: unknown) => void }): Promise<T> {
  const t0 = Date.now();
  let told = false;
  for (;;) {
    try {
      return await work();
    } catch (err) {
      if (!isStoreUnavailable(err) || Date.now() - t0 >= opts.maxMs) throw err;
      if (!told) (told = true), opts.onWait?.(err);
      await new Promise((r) => setTimeout(r, 750 + Math.random() * 500));
    }
  }
}

/**
 * A write transaction retried as a whole on conflicts and host failures (each attempt a fresh transaction;
 * an attempt that failed was rolled back). What `fn` writes must be computed inside it, or be the same at
 * every attempt.
 */
export function writeTransaction<DBT, T>(db: Kysely<DBT>, fn: (tx: Transaction<DBT>) => Promise<T>, opts: ConflictRetryOptions = {}): Promise<T> {
  return withConflictRetry(() => db.transaction().execute(fn), opts);
}
