// The lease that keeps a single chat connection (Discord gateway, Telegram polling) on one replica.
import { describe, expect, it } from 'vitest';
import { Leases } from '../src/core/leases.js';
import { createLogger } from '../src/log.js';
import { ConnectionLease, type LeaseStore } from '../src/chat/connection-lease.js';
import { useMigratedScratchStore } from './helpers/mysql.js';
import { until } from './helpers/wait.js';

const log = createLogger({ level: 'silent' });
const FAST = { ttlMs: 10_000, renewMs: 100, retryMs: 100 };

/** A connection that records whether it is up. */
function connection() {
  const c = { up: false, connects: 0, disconnects: 0 };
  return {
    state: c,
    connect: async () => {
      c.up = true;
      c.connects++;
    },
    disconnect: async () => {
      c.up = false;
      c.disconnects++;
    },
  };
}

describe.each(['sqlite', 'mysql'] as const)('chat connection lease on %s', (engine) => {
  const scratch = useMigratedScratchStore(engine);

  it('one of two replicas connects; a clean stop hands the connection to the other', async () => {
    const ca = connection();
    const cb = connection();
    const a = new ConnectionLease(new Leases(scratch.store.db, 'host-a:1:a'), 'chat:test:1', ca, log, FAST);
    const b = new ConnectionLease(new Leases(scratch.store.db, 'host-b:2:b'), 'chat:test:1', cb, log, FAST);
    try {
      a.start();
      await until('a connected', () => ca.state.up, 10_000);
      b.start();
      await until('b tried a few times', () => b.attempts >= 3, 10_000);
      expect(cb.state.connects).toBe(0);
      await a.stop();
      expect(ca.state).toMatchObject({ up: false, disconnects: 1 });
      // Released: b connects at its next attempt, long before the lease would have expired.
      await until('b connected', () => cb.state.up, 5000);
      expect(b.holding).toBe(true);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('a holder whose lease another replica took disconnects at its next renewal', async () => {
    const ca = connection();
    const a = new ConnectionLease(new Leases(scratch.store.db, 'host-a:1:a'), 'chat:test:2', ca, log, FAST);
    try {
      a.start();
      await until('a connected', () => ca.state.up, 10_000);
      // As if `a` had been paused past its expiry and another replica took the lease meanwhile.
      await scratch.store.db
        .updateTable('schedule_leases')
        .set({ owner: 'host-c:3:c', expires_at: Date.now() + 60_000 })
        .where('name', '=', 'chat:test:2')
        .execute();
      await until('a disconnected', () => !ca.state.up, 10_000);
      expect(a.holding).toBe(false);
      expect(ca.state.connects).toBe(1);
    } finally {
      await a.stop();
    }
    // stop() gives back only its own lease: the other replica's row stays.
    const row = await scratch.store.db.selectFrom('schedule_leases').select('owner').where('name', '=', 'chat:test:2').executeTakeFirst();
    expect(row?.owner).toBe('host-c:3:c');
  });
});

describe('chat connection lease without a store', () => {
  it('a holder that cannot renew disconnects before its lease could expire', async () => {
    let answering = true;
    let confirmedAt = 0;
    const leases: LeaseStore = {
      async acquire() {
        if (!answering) throw new Error('connection refused');
        confirmedAt = Date.now();
        return true;
      },
      async release() {},
    };
    const c = connection();
    const lease = new ConnectionLease(leases, 'chat:test:3', c, log, { ttlMs: 2000, renewMs: 500, retryMs: 500 });
    try {
      lease.start();
      await until('connected', () => c.state.up, 5000);
      answering = false;
      await until('disconnected', () => !c.state.up, 10_000);
      // Another replica could take the lease ttl after its last confirmation; this one let go before that.
      expect(Date.now()).toBeLessThan(confirmedAt + 2000);
      expect(lease.holding).toBe(false);
    } finally {
      await lease.stop();
    }
  });
});
