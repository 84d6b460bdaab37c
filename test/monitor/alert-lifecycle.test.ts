// Alert lifecycle edge cases on both engines: a flapping sensor that settles OK resolves (and one whose
// flap ends CRITICAL opens), alerts left unsent by a stopped process are posted at the next start or tick,
// a failing group flush is logged and retried, disable/rm close a node's alerts and repeats skip disabled
// nodes, a still-failing sensor alerts again after disable/enable, two replicas post and repeat an alert
// once, partial result batches (checked once), one-time and expiring enrolment codes, and the sensor/assign
// commands.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { MonitorService } from '../../src/monitor/service.js';
import { monitorFeature } from '../../src/monitor/feature.js';
import type { App } from '../../src/app-types.js';
import { sleep, until } from '../helpers/wait.js';

/** A check that nothing was posted waits this long: several group windows (200 ms) even on a loaded machine. */
const QUIET_MS = 1000;

describe.each(['sqlite', 'mysql'] as const)('alert lifecycle on %s', (engine) => {
  let t: TestApp;
  type N = { id: number; name: string; enabled: number; stale: number; last_seen: number | null };
  let clock = Date.now() - 3_600_000;
  const ids: Record<string, number> = {};
  const res = (sensor: string, status: number, output = `status ${status}`) => ({ id: crypto.randomUUID(), sensorId: ids[sensor]!, at: (clock += 1000), status, output, perfdata: [] });
  const alerts = () => t.chat.messages.filter((m) => m.channel === 'alerts').map((m) => m.text);
  const nodeRow = async (name: string): Promise<N> => t.app.db.selectFrom('mon_nodes').select(['id', 'name', 'enabled', 'stale', 'last_seen']).where('name', '=', name).executeTakeFirstOrThrow();
  const openAlerts = async (sensor: string) => t.app.db.selectFrom('mon_alerts').selectAll().where('sensor_id', '=', ids[sensor]!).where('resolved_at', 'is', null).execute();
  async function sensorOn(name: string, node: string, attempts = 1): Promise<void> {
    expect((await t.run(`monitor sensor add ${name} kind=load crit=10 interval=30s`)).exitCode).toBe(0);
    await t.app.db.updateTable('mon_sensors').set({ attempts }).where('name', '=', name).execute();
    expect((await t.run(`monitor assign ${name} ${node}`)).exitCode).toBe(0);
    ids[name] = (await t.app.db.selectFrom('mon_sensors').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
  }

  beforeAll(async () => {
    t = await makeTestApp({ engine, overrides: { 'monitor.alertTargets': ['test:alerts'], 'monitor.groupWindowMs': 200, 'monitor.repeatMs': 1000, 'monitor.pruneCron': '5 4 * * *' } });
    for (const n of ['flap', 'boot', 'gone', 'quiet', 'back']) await t.app.services.monitor.createEnrollment(n);
    await sensorOn('fl', 'flap');
    await sensorOn('bk', 'back', 2);
    await sensorOn('bt', 'boot');
    await sensorOn('g1', 'gone');
    await sensorOn('q1', 'quiet');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a flapping sensor that settles OK has its alert resolved, with one resolved message', async () => {
    const svc = t.app.services.monitor;
    const node = await nodeRow('flap');
    t.chat.clear();
    await svc.ingest(node, [res('fl', 2, 'bad')]);
    await until('the alert posted', () => alerts().some((m) => /^🚨 alert #\d+ CRITICAL flap\/fl: bad/.test(m)), 10_000);
    expect(alerts().filter((m) => /^🚨 alert #\d+ CRITICAL flap\/fl: bad/.test(m))).toHaveLength(1);
    // One batch of alternating results: the sensor is flapping when the OK arrives.
    await svc.ingest(
      node,
      [0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0].map((s) => res('fl', s)),
    );
    for (let i = 0; i < 3; i++) await svc.ingest(node, [res('fl', 0, 'fine')]);
    await sleep(QUIET_MS); // no new alert may be posted while it flaps
    const st = await t.app.db.selectFrom('mon_sensor_state').selectAll().where('sensor_id', '=', ids.fl!).executeTakeFirstOrThrow();
    expect(st.flapping).toBe(1);
    expect(st.hard_status).toBe(0);
    expect(await openAlerts('fl')).toEqual([]);
    expect(alerts().filter((m) => /RESOLVED: flap\/fl is OK/.test(m))).toHaveLength(1);
    expect(alerts().filter((m) => m.startsWith('🚨'))).toHaveLength(1); // no re-alert while flapping
    await svc.tick();
    expect(alerts().filter((m) => m.startsWith('🔁'))).toEqual([]);
  });

  it('a flap that ends in CRITICAL opens its alert then', async () => {
    const svc = t.app.services.monitor;
    const node = await nodeRow('flap');
    t.chat.clear();
    for (let i = 0; i < 20; i++) await svc.ingest(node, [res('fl', 2, 'down')]);
    await until('the alert posted', () => alerts().some((m) => /^🚨 alert #\d+ CRITICAL flap\/fl: down/.test(m)), 10_000);
    const st = await t.app.db.selectFrom('mon_sensor_state').selectAll().where('sensor_id', '=', ids.fl!).executeTakeFirstOrThrow();
    expect(st.flapping).toBe(0);
    expect(await openAlerts('fl')).toHaveLength(1);
    expect(alerts().filter((m) => /^🚨 alert #\d+ CRITICAL flap\/fl: down/.test(m))).toHaveLength(1);
    await svc.ingest(node, [res('fl', 0, 'fine')]);
    expect(await openAlerts('fl')).toEqual([]);
  });

  it('an alert whose group window outlived the process is posted by the next start, once', async () => {
    const svc = t.app.services.monitor;
    const node = await nodeRow('boot');
    t.chat.clear();
    await svc.ingest(node, [res('bt', 2, 'disk on fire')]);
    svc.stop(); // the process stops inside the group window: the in-memory group is lost
    await sleep(QUIET_MS); // past the window: nothing was posted, and the alert is old enough for start()
    expect(alerts()).toEqual([]);
    const [a] = await openAlerts('bt');
    expect(a!.notified).toBe(0);
    const restarted = new MonitorService(t.app, t.app.config.monitor);
    await restarted.start();
    expect(alerts()).toEqual([`🚨 alert #${a!.id} CRITICAL boot/bt: disk on fire`]);
    expect((await openAlerts('bt'))[0]!.notified).toBe(1);
    await restarted.start();
    await restarted.tick();
    expect(alerts()).toHaveLength(1);
    // It now repeats and resolves like any posted alert.
    await svc.ingest(node, [res('bt', 0, 'cool')]);
    expect(alerts()[1]).toBe(`✅ alert #${a!.id} RESOLVED: boot/bt is OK: cool`);
  });

  it('a restart inside the window waits for the window; a failing flush is logged and the tick posts it', async () => {
    const node = await nodeRow('boot');
    // A window long enough that start() surely runs inside it, even on a loaded machine.
    const svc = new MonitorService(t.app, { ...t.app.config.monitor, groupWindowMs: 1500 });
    t.chat.clear();
    const send = svc.alerts.send.bind(svc.alerts);
    svc.alerts.send = async () => {
      throw new Error('chat down');
    };
    await svc.ingest(node, [res('bt', 2, 'again')]);
    await svc.start(); // younger than the window: left to the group buffer
    await until('the failed flush logged', () => t.logs.some((l) => l.includes('grouped alert flush failed') && l.includes('chat down')), 10_000);
    expect((await openAlerts('bt'))[0]!.notified).toBe(0);
    svc.alerts.send = send;
    await svc.tick();
    expect(alerts().filter((m) => /^🚨 alert #\d+ CRITICAL boot\/bt: again$/.test(m))).toHaveLength(1);
    await svc.ingest(node, [res('bt', 0)]);
  });

  it("disable resolves a node's open alerts and repeats skip disabled nodes; rm resolves before removing", async () => {
    const svc = t.app.services.monitor;
    const gone = await nodeRow('gone');
    const quiet = await nodeRow('quiet');
    await svc.ingest(gone, [res('g1', 2, 'g-bad')]);
    await svc.ingest(quiet, [res('q1', 2, 'q-bad')]);
    await until('both alerts posted', () => alerts().some((m) => /CRITICAL gone\/g1: g-bad/.test(m)) && alerts().some((m) => /CRITICAL quiet\/q1: q-bad/.test(m)), 10_000);
    t.chat.clear();
    const dis = await t.run('monitor disable quiet');
    expect(dis.replies.join()).toMatch(/Node quiet disabled; 1 open alert\(s\) resolved/);
    expect(await openAlerts('q1')).toEqual([]);
    expect(alerts().filter((m) => /RESOLVED: node quiet disabled/.test(m))).toHaveLength(1);
    // An open alert of a disabled node (e.g. from before this release) is not repeated.
    await t.app.db
      .insertInto('mon_alerts')
      .values({
        node_id: quiet.id,
        sensor_id: ids.q1!,
        kind: 'sensor',
        status: 2,
        summary: 'CRITICAL: old',
        opened_at: Date.now() - 10_000,
        resolved_at: null,
        acked_by: null,
        ack_comment: null,
        last_sent: Date.now() - 10_000,
        notified: 1,
      })
      .execute();
    await t.app.db
      .updateTable('mon_alerts')
      .set({ last_sent: Date.now() - 10_000 })
      .where('sensor_id', '=', ids.g1!)
      .where('resolved_at', 'is', null)
      .execute();
    t.chat.clear();
    await svc.tick();
    expect(alerts()).toEqual([expect.stringMatching(/^🔁 still open: alert #\d+ gone: CRITICAL: g-bad/)]);
    await t.run('monitor enable quiet');
    t.chat.clear();
    expect((await t.run('monitor rm gone', { confirmed: true })).replies.join()).toMatch(/Node gone removed/);
    expect(alerts().filter((m) => /RESOLVED: node gone removed/.test(m))).toHaveLength(1);
    expect(await t.app.db.selectFrom('mon_alerts').selectAll().where('node_id', '=', gone.id).execute()).toEqual([]);
  });

  it('a sensor still failing when its node is enabled again alerts again, after its attempts', async () => {
    const svc = t.app.services.monitor;
    const node = await nodeRow('back');
    const states = async () => t.app.db.selectFrom('mon_sensor_state').selectAll().where('node_id', '=', node.id).execute();
    await svc.ingest(node, [res('bk', 2, 'b1'), res('bk', 2, 'b2')]);
    const [first] = await openAlerts('bk');
    await until('the first alert posted', () => alerts().includes(`🚨 alert #${first!.id} CRITICAL back/bk: b2`), 10_000);
    expect((await t.run('monitor disable back')).replies.join()).toMatch(/Node back disabled; 1 open alert\(s\) resolved/);
    expect(await states()).toEqual([]); // forgotten with the alert
    // A node disabled by an older release kept its hard CRITICAL state: enable forgets it too.
    await t.app.db
      .insertInto('mon_sensor_state')
      .values({ node_id: node.id, sensor_id: ids.bk!, status: 2, hard_status: 2, attempt: 2, output: 'b2', perfdata: null, at: clock, changes: '22', flapping: 0 })
      .execute();
    expect((await t.run('monitor enable back')).replies.join()).toBe('Node back enabled.');
    expect(await states()).toEqual([]);
    t.chat.clear();
    const enabled = await nodeRow('back');
    await svc.ingest(enabled, [res('bk', 2, 'b3')]);
    expect(await openAlerts('bk')).toEqual([]); // soft 1/2
    await svc.ingest(enabled, [res('bk', 2, 'b4')]);
    const again = await openAlerts('bk');
    expect(again).toHaveLength(1);
    expect(again[0]!.id).not.toBe(first!.id);
    await until('the new alert posted', () => alerts().includes(`🚨 alert #${again[0]!.id} CRITICAL back/bk: b4`), 10_000);
    await svc.ingest(enabled, [res('bk', 0, 'fine')]);
    expect(await openAlerts('bk')).toEqual([]);
  });

  it('two replicas post an unsent alert once, and repeat it once', async () => {
    const node = await nodeRow('boot');
    const old = new MonitorService(t.app, t.app.config.monitor);
    await old.ingest(node, [res('bt', 2, 'replicated')]);
    old.stop(); // its group buffer is lost; the alert is left notified=0 for whoever ticks first
    const [a] = await openAlerts('bt');
    await t.app.db
      .updateTable('mon_alerts')
      .set({ opened_at: Date.now() - 10_000 })
      .where('id', '=', a!.id)
      .execute();
    t.chat.clear();
    const r1 = new MonitorService(t.app, t.app.config.monitor);
    const r2 = new MonitorService(t.app, t.app.config.monitor);
    await Promise.all([r1.postUnsent(), r2.postUnsent(), r1.postUnsent(), r2.postUnsent()]);
    expect(alerts().filter((m) => m.startsWith(`🚨 alert #${a!.id} `))).toEqual([`🚨 alert #${a!.id} CRITICAL boot/bt: replicated`]);
    expect((await openAlerts('bt'))[0]).toMatchObject({ notified: 1, last_sent: expect.any(Number) });
    await t.app.db
      .updateTable('mon_alerts')
      .set({ last_sent: Date.now() - 10_000 })
      .where('id', '=', a!.id)
      .execute();
    await Promise.all([r1.tick(), r2.tick()]);
    expect(alerts().filter((m) => m.startsWith(`🔁 still open: alert #${a!.id} `))).toHaveLength(1);
    await r1.ingest(node, [res('bt', 0, 'cool')]);
    expect(alerts().filter((m) => m.startsWith(`✅ alert #${a!.id} `))).toHaveLength(1);
  });

  it('a result found valid is stored even if the sensor list is refreshed before its transaction', async () => {
    const svc = new MonitorService(t.app, t.app.config.monitor);
    const node = await nodeRow('quiet');
    // The cache refreshes between the check and the transaction, and the sensor is gone from the new list.
    const s = svc.sensors as unknown as { sensorsOf: (id: number) => Promise<Map<number, unknown>> };
    const real = s.sensorsOf.bind(svc.sensors);
    let lookups = 0;
    s.sensorsOf = async (id) => (++lookups === 1 ? real(id) : new Map());
    const r = res('q1', 0, 'checked once');
    expect(await svc.ingest(node, [r])).toEqual({ stored: 1, duplicates: 0 });
    expect(lookups).toBe(1);
    expect((await t.app.db.selectFrom('mon_sensor_state').select('output').where('node_id', '=', node.id).where('sensor_id', '=', ids.q1!).executeTakeFirstOrThrow()).output).toBe('checked once');
  });

  it('stores the valid results of a batch and names the refused ones; a batch of only refused ones is a 400', async () => {
    const svc = t.app.services.monitor;
    const node = await nodeRow('quiet');
    const good = res('q1', 0, 'ok');
    const stray = res('bt', 0, 'not mine');
    const r = await svc.ingest(node, [stray, good]);
    expect(r).toEqual({ stored: 1, duplicates: 0, rejected: [{ index: 0, id: stray.id, sensorId: ids.bt!, reason: `results/0/sensorId: sensor ${ids.bt} is not assigned to this node` }] });
    expect((await t.app.db.selectFrom('mon_sensor_state').select('output').where('node_id', '=', node.id).where('sensor_id', '=', ids.q1!).executeTakeFirstOrThrow()).output).toBe('ok');
    await expect(svc.ingest(node, [stray])).rejects.toMatchObject({
      code: 'SB_AGENT_RESULTS_REJECTED',
      status: 400,
      message: expect.stringMatching(/results\/0\/sensorId/),
      details: { rejected: [expect.objectContaining({ id: stray.id })] },
    });
  });

  it('an enrolment code works once, even for concurrent requests, and not after it expired', async () => {
    const svc = t.app.services.monitor;
    const { code } = await svc.createEnrollment('race');
    const both = await Promise.all([svc.enroll(code), svc.enroll(code), svc.enroll(code)]);
    expect(both.filter(Boolean)).toHaveLength(1);
    const old = await svc.createEnrollment('late');
    expect(old.expires - Date.now()).toBeGreaterThan(24 * 3_600_000 - 60_000);
    await t.app.db
      .updateTable('mon_nodes')
      .set({ enroll_expires: Date.now() - 1 })
      .where('name', '=', 'late')
      .execute();
    expect(await svc.enroll(old.code)).toBeNull();
    expect((await nodeRow('late')).id).toBeGreaterThan(0);
    expect((await t.app.db.selectFrom('mon_nodes').select('token_hash').where('name', '=', 'late').executeTakeFirstOrThrow()).token_hash).toBeNull();
  });

  it('monitor assign <sensor> all, monitor sensors, monitor sensor show and rm', async () => {
    expect((await t.run('monitor sensor add every kind=disk path=/ crit=95 interval=2m retention=history:7d')).exitCode).toBe(0);
    const names = (await t.app.db.selectFrom('mon_nodes').select('name').orderBy('name').execute()).map((n) => n.name);
    const all = await t.run('monitor assign every all');
    expect(all.replies.join()).toBe(`Sensor every assigned to ${names.join(', ')}.`);
    const every = (await t.app.db.selectFrom('mon_sensors').select('id').where('name', '=', 'every').executeTakeFirstOrThrow()).id;
    expect(await t.app.db.selectFrom('mon_node_sensors').select('node_id').where('sensor_id', '=', every).execute()).toHaveLength(names.length);
    const list = (await t.run('monitor sensors')).replies.join();
    expect(list).toMatch(/every\s+disk\s+120s\s+3\s+history:7d\s+\{"path":"\/","crit":"95"\}/);
    expect(list).toMatch(/fl\s+load\s+30s\s+1\s+last/);
    const show = (await t.run('monitor sensor show every')).replies.join();
    expect(show).toContain('every: kind disk, every 120s, timeout 10s, attempts 3, retention history:7d');
    expect(show).toContain(`nodes: ${names.join(', ')}`);
    expect((await t.run('monitor sensor rm every')).outcome).toBe('confirm');
    expect((await t.run('monitor sensor rm every', { confirmed: true })).replies.join()).toBe('Sensor every removed.');
    expect(await t.app.db.selectFrom('mon_node_sensors').select('node_id').where('sensor_id', '=', every).execute()).toEqual([]);
    const again = await t.run('monitor sensor show every');
    expect(again.exitCode).toBe(1);
    expect(again.replies.join()).toMatch(/no sensor named every/);
  });

  it('registers the daily prune with the configured cron, and the task prunes', async () => {
    const calls: { name: string; every: string | number; fn: () => Promise<void> | void }[] = [];
    const fake = {
      ...t.app,
      services: {},
      http: { register() {} },
      onStop() {},
      schedule: (name: string, every: string | number, fn: () => Promise<void> | void) => calls.push({ name, every, fn }),
    } as unknown as App;
    await monitorFeature.init!(fake);
    expect(calls.map((c) => [c.name, c.every])).toEqual([
      ['monitor-tick', t.app.config.monitor.staleCheckMs],
      ['monitor-prune', '5 4 * * *'],
    ]);
    const node = await nodeRow('quiet');
    await t.run('monitor sensor edit q1 retention=history:1d');
    t.app.services.monitor.invalidate();
    await t.app.services.monitor.ingest(node, [{ ...res('q1', 0), at: Date.now() - 3 * 86_400_000 }]);
    const count = async () => (await t.app.db.selectFrom('mon_records').select('id').where('sensor_id', '=', ids.q1!).execute()).length;
    expect(await count()).toBe(1);
    await calls[1]!.fn();
    expect(await count()).toBe(0);
  });
});
