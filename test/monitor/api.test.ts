// Agent API guards on both engines: tokens (missing, wrong, another node's), validation (malformed JSON,
// wrong types, status 7, 10 MB bodies), idempotent result ids, ETag on the config.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests read the JSON answers' fields directly
const json = async (r: Response): Promise<any> => r.json();

describe.each(['sqlite', 'mysql'] as const)('agent API on %s', (engine) => {
  let t: TestApp;
  let url: string;
  let a: { nodeId: number; token: string };
  let b: { nodeId: number; token: string };
  let sensorId: number;

  const post = (path: string, body: unknown, token?: string, raw?: string) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: raw ?? JSON.stringify(body) });
  const count = async () =>
    Number(
      (
        await t.app.db
          .selectFrom('mon_records')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const result = (over: Record<string, unknown> = {}) => ({ id: crypto.randomUUID(), sensorId, at: Date.now(), status: 0, output: 'OK - fine', perfdata: [{ label: 'x', value: 1 }], ...over });

  beforeAll(async () => {
    t = await makeTestApp({ engine, listen: true, overrides: { 'monitor.alertTargets': ['test:alerts'] } });
    url = t.app.baseUrl();
    const svc = t.app.services.monitor;
    for (const name of ['pbx-a', 'pbx-b']) await svc.createEnrollment(name);
    expect((await t.run('monitor sensor add ping1 kind=nagios command="/usr/lib/nagios/plugins/check_dummy 0" interval=60s retention=history:7d')).exitCode).toBe(0);
    expect((await t.run('monitor assign ping1 pbx-a')).exitCode).toBe(0);
    sensorId = (await t.app.db.selectFrom('mon_sensors').select('id').executeTakeFirstOrThrow()).id;
    // Enrol through HTTP with the DM'd code.
    const r1 = await t.run('monitor enroll pbx-c');
    const dm = t.chat.messages.find((m) => m.dmTo && m.text.includes('pbx-c'))!;
    expect(dm.secret).toBe(true);
    const code = /--code (\S+)/.exec(dm.text)![1]!;
    expect(r1.exitCode).toBe(0);
    expect(
      t.chat.messages
        .filter((m) => !m.dmTo)
        .map((m) => m.text)
        .join('\n'),
    ).not.toContain(code);
    const res = await post('/api/v1/agent/enroll', { code });
    expect(res.status).toBe(200);
    const again = await post('/api/v1/agent/enroll', { code });
    expect(again.status).toBe(401);
    // a and b via the service with codes we know
    const ca = await svc.createEnrollment('pbx-a', true);
    a = (await svc.enroll(ca.code))!;
    const cb = await svc.createEnrollment('pbx-b', true);
    b = (await svc.enroll(cb.code))!;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('accepts a good batch once; a replay stores nothing twice', async () => {
    const batch = [result(), result({ status: 1 })];
    const r = await post('/api/v1/agent/results', { nodeId: a.nodeId, results: batch }, a.token);
    expect(r.status).toBe(200);
    expect(await json(r)).toMatchObject({ stored: 2, duplicates: 0 });
    const again = await post('/api/v1/agent/results', { nodeId: a.nodeId, results: batch }, a.token);
    expect(await json(again)).toMatchObject({ stored: 0, duplicates: 2 });
    expect(await count()).toBe(2);
  });

  it('announces results an agent had to drop from its full spool', async () => {
    const r = await post('/api/v1/agent/results', { results: [], dropped: 17 }, a.token);
    expect(r.status).toBe(200);
    expect(t.chat.texts().some((m) => /agent on pbx-a dropped 17 result\(s\)/.test(m))).toBe(true);
  });

  it("401 for missing, wrong and another node's token; nothing stored", async () => {
    const before = await count();
    expect((await post('/api/v1/agent/results', { results: [result()] })).status).toBe(401);
    expect((await post('/api/v1/agent/results', { results: [result()] }, 'not-a-token-at-all')).status).toBe(401);
    const other = await post('/api/v1/agent/results', { nodeId: a.nodeId, results: [result()] }, b.token);
    expect(other.status).toBe(401);
    expect((await json(other)).error).toMatch(/another node/);
    // b's token cannot write a's sensor either
    const notMine = await post('/api/v1/agent/results', { results: [result()] }, b.token);
    expect(notMine.status).toBe(400);
    expect((await json(notMine)).error).toMatch(/results\/0\/sensorId/);
    expect((await fetch(`${url}/api/v1/agent/config`)).status).toBe(401);
    expect(await count()).toBe(before);
  });

  it('4xx with the reason for malformed JSON, wrong types, status 7, 10 MB; nothing stored', async () => {
    const before = await count();
    const bad = await post('/api/v1/agent/results', null, a.token, '{"results": [');
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toMatch(/JSON/i);
    const types = await post('/api/v1/agent/results', { results: [result({ sensorId: 'one' })] }, a.token);
    expect(types.status).toBe(400);
    expect((await json(types)).error).toMatch(/results\/0\/sensorId/);
    const seven = await post('/api/v1/agent/results', { results: [result(), result({ status: 7 })] }, a.token);
    expect(seven.status).toBe(400);
    expect((await json(seven)).error).toMatch(/results\/1\/status must be <= 3/);
    const huge = await post('/api/v1/agent/results', { results: [result({ output: 'x'.repeat(10 * 1024 * 1024) })] }, a.token);
    expect(huge.status).toBe(413);
    expect((await json(huge)).error).toMatch(/too large/i);
    expect(await count()).toBe(before);
  });

  it('serves the sensor list with an ETag and 304 when unchanged', async () => {
    const r = await fetch(`${url}/api/v1/agent/config`, { headers: { authorization: `Bearer ${a.token}` } });
    expect(r.status).toBe(200);
    const body = await json(r);
    expect(body.sensors).toEqual([expect.objectContaining({ id: sensorId, kind: 'nagios', args: { command: '/usr/lib/nagios/plugins/check_dummy 0' } })]);
    const etag = r.headers.get('etag')!;
    const again = await fetch(`${url}/api/v1/agent/config`, { headers: { authorization: `Bearer ${a.token}`, 'if-none-match': etag } });
    expect(again.status).toBe(304);
    await t.run('monitor sensor edit ping1 interval=30s');
    // Per-node argument overrides: pbx-b runs the same sensor with its own command line.
    expect((await t.run('monitor assign ping1 pbx-b command="/usr/lib/nagios/plugins/check_dummy 1 b-only"')).exitCode).toBe(0);
    const forB = await json(await fetch(`${url}/api/v1/agent/config`, { headers: { authorization: `Bearer ${b.token}` } }));
    expect(forB.sensors).toEqual([expect.objectContaining({ id: sensorId, intervalMs: 30_000, args: { command: '/usr/lib/nagios/plugins/check_dummy 1 b-only' } })]);
    await t.run('monitor unassign ping1 pbx-b');
    const changed = await fetch(`${url}/api/v1/agent/config`, { headers: { authorization: `Bearer ${a.token}`, 'if-none-match': etag } });
    expect(changed.status).toBe(200);
  });

  it('keeps secrets out of channel messages, audit and logs', async () => {
    const audit = await t.app.db.selectFrom('audit_log').select(['args', 'detail']).execute();
    const hay = [...t.chat.messages.filter((m) => !m.secret).map((m) => m.text), ...audit.map((r) => `${r.args} ${r.detail}`), ...t.logs].join('\n');
    expect(hay).not.toContain(a.token);
    expect(hay).not.toContain(b.token);
    const code = /--code (\S+)/.exec(t.chat.messages.find((m) => m.secret)!.text)![1]!;
    expect(hay).not.toContain(code);
  });
});
