// Named leases in the store: a scheduled task runs on the one process that holds its lease, so several
// `switchboard start` replicas on one database do not each prune, check stale nodes or repeat alerts.
// A holder renews its lease every time it runs; a lease a dead process held is taken over once it expires.
import type { DB } from '../store/db.js';
import { affected, isUniqueViolation } from '../store/db.js';
import { ownerIsDeadLocalProcess } from './jobs.js';

declare module '../store/db.js' {
  interface Tables {
    schedule_leases: { name: string; owner: string; expires_at: number };
  }
}

export class Leases {
  constructor(
    private db: DB,
    readonly owner: string,
  ) {}

  /** Takes or renews the lease `name` for `ttlMs`; true when this process holds it now. */
  async acquire(name: string, ttlMs: number, at = Date.now()): Promise<boolean> {
    const expires = at + ttlMs;
    const renewed = await this.db
      .updateTable('schedule_leases')
      .set({ owner: this.owner, expires_at: expires })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('owner', '=', this.owner), eb('expires_at', '<', at)]))
      .executeTakeFirst();
    if (affected(renewed) === 1) return true;
    try {
      await this.db.insertInto('schedule_leases').values({ name, owner: this.owner, expires_at: expires }).execute();
      return true;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    // Held by another process: take it over at once if that process is a dead one on this machine.
    const row = await this.db.selectFrom('schedule_leases').select('owner').where('name', '=', name).executeTakeFirst();
    if (!row || !ownerIsDeadLocalProcess(row.owner)) return false;
    const taken = await this.db.updateTable('schedule_leases').set({ owner: this.owner, expires_at: expires }).where('name', '=', name).where('owner', '=', row.owner).executeTakeFirst();
    return affected(taken) === 1;
  }

  /** Gives up every lease this process holds (on a clean stop), so another replica takes over at once. */
  async releaseAll(): Promise<void> {
    await this.db.deleteFrom('schedule_leases').where('owner', '=', this.owner).execute();
  }
}
