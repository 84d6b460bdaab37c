// Results and nodes you can trust, over HTTP on both engines: a future-dated result is refused with its
// reason (the rest of the batch stored) and cannot freeze a sensor; states follow arrival order; a node whose
// clock is off gets a "clock skew" alert, resolved when it is right again (from the post's `clock` field or
// from its results); a disabled node is told so (403); deep JSON is a 400, never a 500; unknown result
// fields are refused by name; an agent's drop reports are announced once per repeat interval.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests read the JSON answers' fields directly
const json = async (r: Response): Promise<any> => r.json();
const HOUR = 3_600_000;

describe.each(['sqlite', 'mysql'] as const)('trustworthy results and nodes on %s', (engine) => {
  let t: TestApp;
  let url: string;
  const tokens: Record<string, string> = {};
  const sensor: Record<string, number> = {};
  const alerts = () => t.chat.messages.filter((m) => m.channel === 'alerts').map((m) => m.text);
  const post = (path: string, body: unknown, token?: string, raw?: string) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: raw ?? JSON.stringify(body) });
  const result = (node: string, over: Record<string, unknown> = {}) => ({ id: crypto.randomUUID(), sensorId: sensor[node]!, at: Date.now(), status: 0, output: 'OK - fine', ...over });
  const state = async (node: string) => t.app.db.selectFrom('mon_sensor_state').selectAll().where('sensor_id', '=', sensor[node]!).executeTakeFirst();

  beforeAll(async () => {
    t = await makeTestApp({ engine, listen: true, overrides: { 'monitor.alertTargets': ['test:alerts'], 'monitor.groupWindowMs': 0, 'monitor.repeatMs': 60_000 } });
    url = t.app.baseUrl();
    const svc = t.app.services.monitor;
    for (const n of ['future', 'order', 'clock', 'skewed', 'off', 'deep']) {
      const { code } = await svc.createEnrollment(n);
      tokens[n] = (await svc.enroll(code))!.token;
      expect((await t.run(`monitor sensor add s-${n} kind=load crit=10 attempts=1 retention=history:1d`)).exitCode).toBe(0);
      expect((await t.run(`monitor assign s-${n} ${n}`)).exitCode).toBe(0);
      sensor[n] = (await t.app.db.selectFrom('mon_sensors').select('id').where('name', '=', `s-${n}`).executeTakeFirstOrThrow()).id;
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a result stamped beyond the allowed skew, with its reason; stores the rest; the sensor is not frozen', async () => {
    const y2100 = result('future', { status: 2, output: 'CRITICAL from 2100', at: Date.UTC(2100, 0, 1) });
    const good = result('future', { status: 0, output: 'OK now' });
    const r = await post('/api/v1/agent/results', { results: [y2100, good] }, tokens.future);
    expect(r.status).toBe(200);
    const body = await json(r);
    expect(body.stored).toBe(1);
    expect(body.rejected).toEqual([
      { index: 0, id: y2100.id, sensorId: sensor.future, reason: expect.stringMatching(/^results\/0\/at: 2100-01-01T00:00:00\.000Z is \d+ days ahead of the bot's clock \(allowed 5 min\)/) },
    ]);
    // A batch of only future results is a 400 listing them (the agent drops and counts them).
    const alone = await post('/api/v1/agent/results', { results: [result('future', { at: Date.now() + HOUR })] }, tokens.future);
    expect(alone.status).toBe(400);
    expect((await json(alone)).rejected).toHaveLength(1);
    expect(await t.app.db.selectFrom('mon_records').select('output').where('sensor_id', '=', sensor.future!).execute()).toEqual([{ output: 'OK now' }]);
    // Results a few seconds ahead (a clock within the skew) are fine, and later OK/CRITICAL results move the state.
    expect((await post('/api/v1/agent/results', { results: [result('future', { status: 2, output: 'down', at: Date.now() + 2000 })] }, tokens.future)).status).toBe(200);
    expect((await state('future'))!.hard_status).toBe(2);
    expect((await post('/api/v1/agent/results', { results: [result('future', { status: 0, output: 'up again', at: Date.now() + 3000 })] }, tokens.future)).status).toBe(200);
    expect(await state('future')).toMatchObject({ hard_status: 0, output: 'up again' });
  });

  it('a sensor whose stored state was stamped in 2100 (accepted by an older release) follows the next results', async () => {
    const node = await t.app.db.selectFrom('mon_nodes').select('id').where('name', '=', 'order').executeTakeFirstOrThrow();
    await t.app.db
      .insertInto('mon_sensor_state')
      .values({
        node_id: node.id,
        sensor_id: sensor.order!,
        status: 2,
        hard_status: 2,
        attempt: 9,
        output: 'CRITICAL from 2100',
        perfdata: null,
        at: Date.UTC(2100, 0, 1),
        changes: '2222',
        flapping: 0,
      })
      .execute();
    await t.app.db
      .insertInto('mon_alerts')
      .values({
        node_id: node.id,
        sensor_id: sensor.order!,
        kind: 'sensor',
        status: 2,
        summary: 'CRITICAL: from 2100',
        opened_at: Date.now() - 60_000,
        resolved_at: null,
        acked_by: null,
        ack_comment: null,
        last_sent: Date.now() - 60_000,
        notified: 1,
      })
      .execute();
    t.chat.clear();
    expect((await post('/api/v1/agent/results', { results: [result('order', { output: 'OK, really' })] }, tokens.order)).status).toBe(200);
    expect(await state('order')).toMatchObject({ status: 0, hard_status: 0, output: 'OK, really' });
    expect(alerts().filter((m) => /RESOLVED: order\/s-order is OK: OK, really/.test(m))).toHaveLength(1);
    // Arrival order: a CRITICAL, then an OK stamped a minute earlier (a late replay) does not rewind it.
    const now = Date.now();
    await post('/api/v1/agent/results', { results: [result('order', { status: 2, output: 'down', at: now })] }, tokens.order);
    await post('/api/v1/agent/results', { results: [result('order', { status: 0, output: 'stale OK', at: now - 60_000 })] }, tokens.order);
    expect(await state('order')).toMatchObject({ hard_status: 2, output: 'down' });
    expect(await t.app.db.selectFrom('mon_records').select('output').where('sensor_id', '=', sensor.order!).orderBy('id').execute()).toEqual([
      { output: 'OK, really' },
      { output: 'down' },
      { output: 'stale OK' },
    ]);
  });

  it('a clock field off by 2 h opens one "clock skew" alert on the node; right again resolves it', async () => {
    t.chat.clear();
    for (let i = 0; i < 3; i++) expect((await post('/api/v1/agent/results', { results: [], clock: Date.now() + 2 * HOUR }, tokens.clock)).status).toBe(200);
    const open = alerts().filter((m) => /CLOCK SKEW clock: its clock is 2 h ahead of the bot's \(allowed 5 min\)/.test(m));
    expect(open).toHaveLength(1);
    expect((await t.run('monitor node clock')).replies.join()).toMatch(/CLOCK OFF by 2 h \(ahead\)/);
    expect((await t.run('monitor nodes')).replies.join()).toMatch(/clock\s+OK, CLOCK/);
    expect((await t.run('alerts')).replies.join()).toMatch(/clock\s+clock\s/);
    expect((await post('/api/v1/agent/results', { results: [], clock: Date.now() + 1000 }, tokens.clock)).status).toBe(200);
    expect(alerts().filter((m) => /RESOLVED: the clock of clock is right again/.test(m))).toHaveLength(1);
    // Behind counts too (a WARNING: its results are accepted but stamped in the past).
    await post('/api/v1/agent/results', { results: [], clock: Date.now() - 3 * HOUR }, tokens.clock);
    expect(alerts().filter((m) => /CLOCK SKEW clock: its clock is 3 h behind/.test(m))).toHaveLength(1);
    await post('/api/v1/agent/results', { results: [], clock: Date.now() }, tokens.clock);
    expect(alerts().filter((m) => /RESOLVED: the clock of clock/.test(m))).toHaveLength(2);
  });

  it('without a clock field, results stamped 2 h ahead raise the clock alert; results on time resolve it', async () => {
    t.chat.clear();
    const ahead = await post('/api/v1/agent/results', { results: [result('skewed', { at: Date.now() + 2 * HOUR })] }, tokens.skewed);
    expect(ahead.status).toBe(400);
    expect(alerts().filter((m) => /CLOCK SKEW skewed: its clock is 2 h ahead/.test(m))).toHaveLength(1);
    // Old results (a replay after an outage) say nothing about the clock.
    await post('/api/v1/agent/results', { results: [result('skewed', { at: Date.now() - 2 * HOUR })] }, tokens.skewed);
    expect(alerts().filter((m) => /RESOLVED: the clock of skewed/.test(m))).toHaveLength(0);
    await post('/api/v1/agent/results', { results: [result('skewed')] }, tokens.skewed);
    expect(alerts().filter((m) => /RESOLVED: the clock of skewed is right again/.test(m))).toHaveLength(1);
  });

  it('a disabled node gets 403 "node disabled", not "wrong or revoked token"', async () => {
    expect((await t.run('monitor disable off')).exitCode).toBe(0);
    const r = await post('/api/v1/agent/results', { results: [result('off')] }, tokens.off);
    expect(r.status).toBe(403);
    expect((await json(r)).error).toMatch(/^node disabled: off was disabled on the bot \(monitor enable off\)/);
    const cfg = await fetch(`${url}/api/v1/agent/config`, { headers: { authorization: `Bearer ${tokens.off}` } });
    expect(cfg.status).toBe(403);
    expect((await post('/api/v1/agent/results', { results: [] }, 'no-such-token')).status).toBe(401);
    await t.run('monitor enable off');
    expect((await post('/api/v1/agent/results', { results: [result('off')] }, tokens.off)).status).toBe(200);
  });

  it('a 5 000-deep facts object is a 400 naming the limit, never a 500; the server keeps serving', async () => {
    const deep = `{"results":[],"facts":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    const r = await post('/api/v1/agent/results', null, tokens.deep, deep);
    expect(r.status).toBe(400);
    expect((await json(r)).error).toMatch(/nests deeper than 32 levels/);
    const arr = await post('/api/v1/agent/cdr', null, tokens.deep, `{"calls":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    expect(arr.status).toBe(400);
    // Brackets inside strings are not nesting.
    const ok = await post('/api/v1/agent/results', { results: [result('deep', { output: '[[[[{{{{'.repeat(100) })], facts: { hostname: 'pbx' } }, tokens.deep);
    expect(ok.status).toBe(200);
    expect(t.logs.some((l) => l.includes('agent API error'))).toBe(false);
  });

  it('refuses unknown fields of a result by name (they used to be dropped silently); the envelope may grow', async () => {
    const r = await post('/api/v1/agent/results', { results: [result('deep'), result('deep', { severity: 'high' })] }, tokens.deep);
    expect(r.status).toBe(400);
    expect((await json(r)).error).toBe('body/results/1/severity: unknown field "severity"');
    const perf = await post('/api/v1/agent/results', { results: [result('deep', { perfdata: [{ label: 'x', value: 1, colour: 'red' }] })] }, tokens.deep);
    expect((await json(perf)).error).toBe('body/results/0/perfdata/0/colour: unknown field "colour"');
    expect((await post('/api/v1/agent/results', { results: [result('deep')], agentSaid: 'hello' }, tokens.deep)).status).toBe(200);
  });

  it('announces dropped results; while the node clock is off (every result refused) once per repeat interval', async () => {
    t.chat.clear();
    for (let i = 0; i < 2; i++) expect((await post('/api/v1/agent/results', { results: [], dropped: 5 }, tokens.deep)).status).toBe(200);
    expect(t.chat.texts().filter((m) => /agent on deep dropped 5 result/.test(m))).toHaveLength(2);
    t.chat.clear();
    for (let i = 0; i < 4; i++) expect((await post('/api/v1/agent/results', { results: [], dropped: 7, clock: Date.now() + 2 * HOUR }, tokens.deep)).status).toBe(200);
    expect(t.chat.texts().filter((m) => /agent on deep dropped 7 result\(s\).*its clock is off/.test(m))).toHaveLength(1);
    expect(t.logs.filter((l) => l.includes('agent dropped results'))).toHaveLength(6);
    await post('/api/v1/agent/results', { results: [], clock: Date.now() }, tokens.deep);
  });
});
