// Three replicas started at the same moment on an empty MariaDB database: one admin bootstrap for all.
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, loginStatus } from './harness.js';

describe('three simultaneous first starts', () => {
  let c: Cluster | undefined;
  afterAll(async () => {
    await c?.destroy();
  }, 60_000);

  it('print exactly one generated admin password, and it works on every replica', async () => {
    c = await Cluster.create({ adminPassword: null });
    await c.startAll();
    const printed = c.replicas.flatMap((x) => [...x.allStderr.matchAll(/Console login: admin \/ (\S+)/g)].map((m) => ({ replica: x.name, pw: m[1]! })));
    expect(
      printed.map((p) => p.replica),
      'replicas that printed a generated admin password',
    ).toHaveLength(1);
    for (const x of c.replicas) {
      const r = await loginStatus(x, 'admin', printed[0]!.pw);
      expect(r.status, `login with the printed password on ${x.name}: ${r.text}`).toBe(200);
    }
    const users = await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM console_users');
    expect(Number(users[0]!.n)).toBe(1);
  });
});
