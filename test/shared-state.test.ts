// State several processes on one store agree on: claims (post once), the change feed (refresh what is served
// from memory), and the store's shared secrets (one key for every replica, refused clearly otherwise).
import { describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { Claims } from '../src/store/claims.js';
import { ChangeFeed, publishChanges } from '../src/store/change-feed.js';
import { Sealer } from '../src/store/sealer.js';
import { StoreKeyMismatch, StoreSecrets } from '../src/store/store-secrets.js';
import { configuredBaseUrl, isLoopbackUrl } from '../src/http/base-url.js';
import { useMigratedScratchStore } from './helpers/mysql.js';

describe.each(['sqlite', 'mysql'] as const)('shared state on %s', (engine) => {
  const scratch = useMigratedScratchStore(engine);

  it('a claim is won by one process, and again only after it expired', async () => {
    const a = new Claims(scratch.store.db, 'a');
    const b = new Claims(scratch.store.db, 'b');
    const t0 = 1_800_000_000_000;
    const wins = await Promise.all([a.claim('callerid:5551234', 10_000, t0), b.claim('callerid:5551234', 10_000, t0), a.claim('callerid:5551234', 10_000, t0)]);
    // All three asked at the same instant: whichever won holds the key until exactly t0 + 10 s.
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await b.claim('callerid:5551234', 10_000, t0 + 9_999)).toBe(false);
    expect(await b.claim('callerid:5551234', 10_000, t0 + 10_000)).toBe(true);
    expect(await a.claim('callerid:other', 10_000, t0)).toBe(true);
    await a.release('callerid:other');
    expect(await b.claim('callerid:other', 10_000, t0)).toBe(true);
  });

  it('the change feed delivers each change once, per topic, including a row committed after a higher id was read', async () => {
    const feed = new ChangeFeed(scratch.store.db, { intervalMs: 60_000, gapMs: 60_000 });
    const got: string[][] = [];
    feed.on('phones', (keys) => void got.push(keys));
    await feed.start();
    await publishChanges(scratch.store.db, 'phones', ['aa', 'bb']);
    await publishChanges(scratch.store.db, 'hosts', ['x']);
    await feed.poll();
    expect(got).toEqual([['aa', 'bb']]);
    await feed.poll();
    expect(got).toHaveLength(1);
    // A slow writer: its id is taken before a faster writer's but becomes visible after it.
    const ids = (await scratch.store.db.selectFrom('change_feed').select('id').orderBy('id', 'desc').limit(1).execute()).map((r) => Number(r.id));
    const late = ids[0]! + 1;
    await scratch.store.db
      .insertInto('change_feed')
      .values({ id: late + 1, topic: 'phones', k: 'cc', at: Date.now() } as never)
      .execute();
    await feed.poll();
    await scratch.store.db
      .insertInto('change_feed')
      .values({ id: late, topic: 'phones', k: 'dd', at: Date.now() } as never)
      .execute();
    await feed.poll();
    expect(got.slice(1)).toEqual([['cc'], ['dd']]);
    // A big batch is one "reload the topic" row.
    await publishChanges(
      scratch.store.db,
      'phones',
      Array.from({ length: 500 }, (_, i) => `m${i}`),
    );
    await feed.poll();
    expect(got[got.length - 1]).toEqual(['*']);
    feed.stop();
  });

  it('a change whose handler failed is handed over again at the next read', async () => {
    const feed = new ChangeFeed(scratch.store.db, { intervalMs: 60_000, gapMs: 60_000 });
    const got: string[][] = [];
    let fail = true;
    feed.on('hosts', (keys) => {
      if (fail) {
        fail = false;
        throw new Error('store busy');
      }
      got.push(keys);
    });
    await feed.start();
    await publishChanges(scratch.store.db, 'hosts', ['h1']);
    await expect(feed.poll()).resolves.toBeUndefined(); // the error goes to onError, the poll settles
    expect(got).toEqual([]);
    await feed.poll();
    expect(got).toEqual([['h1']]);
    await feed.poll();
    expect(got).toHaveLength(1);
    feed.stop();
  });

  it('store secrets: the first key wins, the same key reads them, another key is refused with the fix', async () => {
    const key = crypto.randomBytes(32);
    const s1 = await StoreSecrets.open(scratch.store.db, new Sealer(key));
    const pw = await s1.getOrCreate('phone-admin-password');
    const s2 = await StoreSecrets.open(scratch.store.db, new Sealer(Buffer.from(key)));
    expect(await s2.getOrCreate('phone-admin-password', () => 'something else')).toBe(pw);
    const other = new Sealer(crypto.randomBytes(32));
    other.source = 'SWITCHBOARD_PROVISION_KEY';
    const err = await StoreSecrets.open(scratch.store.db, other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreKeyMismatch);
    expect(String((err as Error).message)).toMatch(/SWITCHBOARD_PROVISION_KEY does not open this store's secrets.*same key/);
  });
});

describe('base URL', () => {
  it('comes from config alone, the same in every process', () => {
    expect(configuredBaseUrl({ host: '127.0.0.1', port: 8080 })).toBe('http://127.0.0.1:8080');
    expect(configuredBaseUrl({ host: '127.0.0.1', port: 8080, publicUrl: 'https://sb.example.org/' })).toBe('https://sb.example.org');
    expect(configuredBaseUrl({ host: '::1', port: 8080 })).toBe('http://[::1]:8080');
    expect(configuredBaseUrl({ host: '0.0.0.0', port: 8080 })).toMatch(/^http:\/\/\d+\.\d+\.\d+\.\d+:8080$/);
    expect(isLoopbackUrl('http://127.0.0.1:8080')).toBe(true);
    expect(isLoopbackUrl('http://[::1]:8080/')).toBe(true);
    expect(isLoopbackUrl('http://localhost/')).toBe(true);
    expect(isLoopbackUrl('http://10.20.0.5:8080/')).toBe(false);
  });
});
