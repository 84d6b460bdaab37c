// Named leases in the store: one process at a time holds a name until its lease expires. Schedules use them
// (src/core/scheduler.ts renews every lease of the schedules it runs on a heartbeat), and so can anything that
// must run in one place in the cluster (a single chat connection): `acquire` takes or renews, `release` gives up.
// A lease held by a dead process on this machine is taken over at once; one held on another host once it expires.
import type { DB } from '../store/db.js';
import { affected, isUniqueViolation } from '../store/db.js';
import { ownerIsDeadLocalProcess } from './owner.js';

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

  /** Gives up the lease `name` if this process holds it, so another replica can take it at once. */
  async release(name: string): Promise<void> {
    await this.db.deleteFrom('schedule_leases').where('name', '=', name).where('owner', '=', this.owner).execute();
  }

  /** Gives up every lease this process holds (on a clean stop), so another replica takes over at once. */
  async releaseAll(): Promise<void> {
    await this.db.deleteFrom('schedule_leases').where('owner', '=', this.owner).execute();
  }

  /** Who holds `name` now (an unexpired lease), or undefined. */
  async holder(name: string, at = Date.now()): Promise<string | undefined> {
    const row = await this.db.selectFrom('schedule_leases').select(['owner', 'expires_at']).where('name', '=', name).executeTakeFirst();
    return row && row.expires_at >= at ? row.owner : undefined;
  }
}
