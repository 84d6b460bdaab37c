// A rotated token stops working everywhere: at once on the replica that rotated it, and within the auth cache's
// second on another replica of the same MariaDB store; the node's new token works on both.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { until } from '../helpers/wait.js';

describe('monitor token rotate across replicas (mysql)', () => {
  let a: TestApp;
  let b: TestApp;
  let sensorId: number;

  beforeAll(async () => {
    a = await makeTestApp({ engine: 'mysql', listen: true });
    b = await makeTestApp({ replicaOf: a, listen: true });
    expect((await a.run('monitor sensor add d1 kind=nagios command="/usr/lib/nagios/plugins/check_dummy 0" interval=60s retention=history:7d')).exitCode).toBe(0);
    await a.app.services.monitor.createEnrollment('pbx-r');
    expect((await a.run('monitor assign d1 pbx-r')).exitCode).toBe(0);
    sensorId = (await a.app.db.selectFrom('mon_sensors').select('id').executeTakeFirstOrThrow()).id;
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  let accepted = 0;
  const post = async (t: TestApp, token: string): Promise<Response> => {
    const r = await fetch(`${t.app.baseUrl()}/api/v1/agent/results`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ results: [{ id: crypto.randomUUID(), sensorId, at: Date.now(), status: 0, output: 'OK' }] }),
    });
    if (r.status === 200) accepted++;
    return r;
  };
  const enrolWithDmCode = async (t: TestApp): Promise<string> => {
    const dm = t.chat.messages.filter((m) => m.dmTo && /New enrolment for node pbx-r/.test(m.text)).pop();
    const code = /--code (\S+)/.exec(dm?.text ?? '')?.[1];
    expect(code, 'the DM carries the enrolment code').toBeTruthy();
    const r = await fetch(`${t.app.baseUrl()}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    expect(r.status).toBe(200);
    return ((await r.json()) as { token: string }).token;
  };

  it('the old token is refused on both replicas, the new one accepted on both', async () => {
    const first = await a.app.services.monitor.createEnrollment('pbx-r', true);
    const old = (await a.app.services.monitor.enroll(first.code))!.token;
    // Both replicas have the old token's node in their auth cache.
    expect((await post(a, old)).status).toBe(200);
    expect((await post(b, old)).status).toBe(200);

    expect((await a.run('monitor token rotate pbx-r', { confirmed: true })).exitCode).toBe(0);
    expect((await post(a, old)).status).toBe(401);
    // The other replica may answer from its cache for up to a second, never longer.
    await until('replica b refuses the rotated token', async () => (await post(b, old)).status === 401, 10_000, 100);
    expect((await post(b, old)).status).toBe(401);

    const fresh = await enrolWithDmCode(a);
    expect((await post(a, fresh)).status).toBe(200);
    expect((await post(b, fresh)).status).toBe(200);
    // Every post answered 200 is stored (those b took from its cache in the second after the rotation too).
    const stored = await a.app.db.selectFrom('mon_records').select('result_id').execute();
    expect(stored).toHaveLength(accepted);
    expect(accepted).toBeGreaterThanOrEqual(4);
  });
});
