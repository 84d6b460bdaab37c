// Retrying a platform call the platform refused with a rate limit, after the delay it asked for.
import type { Logger } from '../log.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Retry `fn` while it fails with a rate limit; `retryAfterMs(err)` returns the delay or undefined when not a rate limit. */
export async function retryRateLimited<T>(fn: () => Promise<T>, retryAfterMs: (err: unknown) => number | undefined, log: Logger, what: string, maxTries = 5): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const ms = retryAfterMs(err);
      if (ms === undefined || i >= maxTries - 1) throw err;
      log.warn({ what, retryAfterMs: ms }, 'rate limited; retrying');
      await sleep(ms);
    }
  }
}
