// Two real `switchboard start` replicas, each believing it runs on its own host, on one store: the monitoring
// schedules (an interval and a cron with seconds) run once per period, and after the holder is SIGKILLed the
// other replica resumes them within 60 s — by lease expiry, as for a machine that died, with default settings.
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { openStore, type Engine, type Store } from '../src/store/db.js';
import { tmpDir } from './helpers/env.js';
import { createTestDatabase } from './helpers/mysql.js';
import { sharedKey, startProcess, type StartedProcess } from './helpers/start-process.js';
import { until } from './helpers/wait.js';

describe.each(['sqlite', 'mysql'] as const)('schedules across replicas on %s', (engine: Engine) => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('run once per period on one of two replicas, and resume on the other within 60 s after the holder is SIGKILLed', async () => {
    const dir = tmpDir();
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    let databaseUrl = `sqlite:${path.join(dir, 'shared.sqlite')}`;
    if (engine === 'mysql') {
      const db = await createTestDatabase();
      cleanup.push(() => db.drop());
      databaseUrl = db.url;
    }
    const common = {
      DATABASE_URL: databaseUrl,
      SWITCHBOARD_PROVISION_KEY: sharedKey(),
      SWITCHBOARD_HTTP_PORT: '0',
      SWITCHBOARD_ADMIN_PASSWORD: 'replica-test-pw',
      SWITCHBOARD__monitor__staleCheckMs: '1000',
      SWITCHBOARD__monitor__pruneCron: '*/2 * * * * *',
    };
    const replicas = new Map<string, StartedProcess>();
    for (const host of ['host-a', 'host-b']) {
      const p = startProcess({ ...common, SWITCHBOARD_DATA_DIR: path.join(dir, host) }, { host });
      cleanup.push(() => void p.child.kill('SIGKILL'));
      replicas.set(host, p);
    }
    await Promise.all([...replicas.values()].map((p) => p.url));
    const store: Store = openStore({ databaseUrl });
    cleanup.push(() => store.close());
    const runs = (name: string) => store.db.selectFrom('schedule_runs').selectAll().where('name', '=', name).orderBy('period').execute();
    const names = ['monitor-tick', 'monitor-prune'];
    await until('runs of both schedules', async () => (await runs('monitor-tick')).length >= 4 && (await runs('monitor-prune')).length >= 3, 60_000);

    // Once per period: consecutive slots, each recorded once, and no more prune runs logged than recorded.
    const step = (rows: { period: string }[]) => new Set(rows.slice(1).map((r, i) => Date.parse(r.period) - Date.parse(rows[i]!.period)));
    expect(step(await runs('monitor-tick'))).toEqual(new Set([1000]));
    expect(step(await runs('monitor-prune'))).toEqual(new Set([2000]));
    const pruned = () => [...replicas.values()].reduce((n, p) => n + (p.stdout.match(/"msg":"monitor records pruned"/g)?.length ?? 0), 0);
    expect(pruned()).toBeLessThanOrEqual((await runs('monitor-prune')).length);

    // Kill whoever holds monitor-prune's lease; it stops renewing, as a machine that died would.
    const lease = await store.db.selectFrom('schedule_leases').selectAll().where('name', '=', 'monitor-prune').executeTakeFirstOrThrow();
    const holderHost = lease.owner.split(':')[0]!;
    const holder = replicas.get(holderHost)!;
    const survivorHost = [...replicas.keys()].find((h) => h !== holderHost)!;
    holder.child.kill('SIGKILL');
    await holder.exited;
    const killedAt = Date.now();
    for (const name of names) {
      const resumed = await until(
        `${name} to resume on ${survivorHost}`,
        async () => {
          const last = (await runs(name)).at(-1);
          return last && last.at > killedAt && last.owner.startsWith(`${survivorHost}:`) ? last : undefined;
        },
        90_000,
        250,
      );
      expect(resumed.at - killedAt).toBeLessThan(60_000);
    }
    // Still once per period after the takeover.
    await until('two more prune periods', async () => (await runs('monitor-prune')).filter((r) => r.at > killedAt).length >= 2, 20_000);
    const after = (await runs('monitor-prune')).filter((r) => r.at > killedAt);
    expect(step(after)).toEqual(new Set([2000]));
    // Its own bound covers the waits above (two process starts, ~30 s of lease expiry, the periods after):
    // the suite's 60 s default was within seconds of that on a loaded machine.
  }, 180_000);
});
