// The alert engine on both engines: soft/hard states, grouping of several failing sensors, repeats until
// acknowledged, silences, flapping, retention pruning, records with a PNG chart, fraud bursts and
// out-of-hours calls (grouped per rule), and the chat commands around them.
import crypto from 'node:crypto';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['sqlite', 'mysql'] as const)('monitor service on %s', (engine) => {
  let t: TestApp;
  let node: { id: number; name: string; enabled: number; stale: number; last_seen: number | null };
  const ids: Record<string, number> = {};
  let clock = Date.now() - 3_600_000;
  const res = (sensor: string, status: number, output = `status ${status}`, perf = [{ label: 'v', value: status * 10 }]) => ({
    id: crypto.randomUUID(),
    sensorId: ids[sensor]!,
    at: (clock += 1000),
    status,
    output,
    perfdata: perf,
  });
  const alerts = () => t.chat.messages.filter((m) => m.channel === 'alerts').map((m) => m.text);

  beforeAll(async () => {
    t = await makeTestApp({
      engine,
      overrides: {
        'monitor.alertTargets': ['test:alerts'],
        'monitor.groupWindowMs': 200,
        'monitor.repeatMs': 1000,
        'monitor.fraud': { burstPerHour: 2, businessHours: { start: '00:00', end: '00:00', days: [] } },
      },
    });
    await t.app.services.monitor.createEnrollment('pbx9');
    for (const [n, extra] of [
      ['a', 'retention=history:30d'],
      ['b', ''],
      ['c', ''],
      ['f', 'attempts=1'],
    ] as const) {
      expect((await t.run(`monitor sensor add s-${n} kind=load warn=5 crit=10 attempts=2 interval=30s ${extra}`)).exitCode).toBe(0);
      await t.run(`monitor assign s-${n} pbx9`);
      ids[n] = (await t.app.db.selectFrom('mon_sensors').select('id').where('name', '=', `s-${n}`).executeTakeFirstOrThrow()).id;
    }
    await t.app.db.updateTable('mon_sensors').set({ attempts: 1 }).where('name', '=', 's-f').execute();
    node = await t.app.db.selectFrom('mon_nodes').select(['id', 'name', 'enabled', 'stale', 'last_seen']).where('name', '=', 'pbx9').executeTakeFirstOrThrow();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('validates sensor definitions', async () => {
    const bad = await t.run('monitor sensor add x kind=disk crit=20:10');
    expect(bad.exitCode).toBe(2);
    expect(bad.replies.join()).toMatch(/crit=20:10: range 20:10: start is greater than end/);
    expect((await t.run('monitor sensor add y kind=nagios')).exitCode).toBe(2);
    expect((await t.run('monitor sensor add z kind=disk retention=forever')).replies.join()).toMatch(/retention=forever/);
  });

  it('opens after `attempts` non-OK results, groups several sensors of a node into one message, resolves on OK', async () => {
    const svc = t.app.services.monitor;
    await svc.ingest(node, [res('a', 2), res('b', 1)]);
    expect(await t.app.db.selectFrom('mon_alerts').selectAll().execute()).toHaveLength(0); // soft
    expect((await t.run('monitor node pbx9')).replies.join()).toMatch(/s-a\s+CRITICAL \(soft 1\/2\)/);
    await svc.ingest(node, [res('a', 2), res('b', 1), res('c', 2), res('c', 2)]);
    await sleep(400);
    const grouped = alerts();
    expect(grouped).toHaveLength(1);
    expect(grouped[0]).toMatch(/3 alerts on pbx9:\n• #\d+ CRITICAL pbx9\/s-a/);
    expect(grouped[0]).toMatch(/WARNING pbx9\/s-b/);
    expect(grouped[0]).toMatch(/CRITICAL pbx9\/s-c/);
    await svc.ingest(node, [res('c', 0, 'fine')]);
    expect(alerts().some((m) => /RESOLVED: pbx9\/s-c is OK: fine/.test(m))).toBe(true);
    expect((await t.run('alerts')).replies.join()).not.toMatch(/pbx9\/s-c/);
  });

  it('repeats open unacknowledged alerts; ack and silences stop them', async () => {
    const svc = t.app.services.monitor;
    t.chat.clear();
    await t.app.db
      .updateTable('mon_alerts')
      .set({ last_sent: Date.now() - 5000 })
      .where('resolved_at', 'is', null)
      .execute();
    await svc.tick();
    expect(alerts().filter((m) => m.startsWith('🔁 still open'))).toHaveLength(2);
    const a = await t.app.db.selectFrom('mon_alerts').select('id').where('sensor_id', '=', ids.a!).where('resolved_at', 'is', null).executeTakeFirstOrThrow();
    expect((await t.run(`ack ${a.id} looking into it`)).replies.join()).toMatch(/acknowledged/);
    expect((await t.run('silence pbx9/s-b 1h maintenance window')).exitCode).toBe(0);
    expect((await t.run('silences')).replies.join()).toMatch(/pbx9\/s-b.*maintenance window/);
    t.chat.clear();
    await t.app.db
      .updateTable('mon_alerts')
      .set({ last_sent: Date.now() - 5000 })
      .where('resolved_at', 'is', null)
      .execute();
    await svc.tick();
    expect(alerts()).toEqual([]);
    const sid = /^(\d+)\s/m.exec((await t.run('silences')).replies.join().split('\n').slice(3).join('\n'))![1];
    expect((await t.run(`unsilence ${sid}`)).exitCode).toBe(0);
    await svc.tick();
    expect(alerts().filter((m) => /pbx9: WARNING/.test(m))).toHaveLength(1);
  });

  it('marks a flapping sensor and does not re-alert on every change', async () => {
    const svc = t.app.services.monitor;
    t.chat.clear();
    for (let i = 0; i < 12; i++) await svc.ingest(node, [res('f', i % 2 ? 0 : 2)]);
    await sleep(400);
    const sent = alerts().filter((m) => /s-f/.test(m));
    expect(sent.length).toBeLessThanOrEqual(8); // without flap detection it would be 12
    expect((await t.run('monitor node pbx9')).replies.join()).toMatch(/s-f\s+\S+.*FLAPPING/);
    const before = alerts().length;
    for (let i = 0; i < 6; i++) await svc.ingest(node, [res('f', i % 2 ? 0 : 2)]);
    await sleep(400);
    expect(alerts().length).toBe(before);
  });

  it('monitor records shows a table and a PNG chart; retention prunes old rows', async () => {
    const r = await t.run('monitor records pbx9 s-a since=2h');
    expect(r.replies[0]).toMatch(/2 record\(s\) for pbx9\/s-a/);
    const file = t.chat.last()!.files[0]!;
    expect(file.name).toBe('pbx9-s-a.png');
    const png = PNG.sync.read(file.data);
    expect(png.width).toBe(1000);
    expect((await t.run('monitor records pbx9 s-b')).replies[0]).toMatch(/keeps only its last state/);
    await t.app.db
      .updateTable('mon_records')
      .set({ at: Date.now() - 31 * 86_400_000 })
      .where('sensor_id', '=', ids.a!)
      .execute();
    expect(await t.app.services.monitor.prune()).toBe(2);
  });

  it('fraud: prefix rule, burst per hour, out-of-hours; rules commands', async () => {
    const svc = t.app.services.monitor;
    expect((await t.run('monitor fraud add +44 international UK')).replies.join()).toMatch(/prefix 0044/);
    const rules = (await t.run('monitor fraud rules')).replies.join();
    expect(rules).toMatch(/0044\s+international\s+UK/);
    t.chat.clear();
    const call = (dst: string) => ({ callId: crypto.randomUUID(), at: Date.now(), src: '2001', dst });
    await svc.ingestCdr(node, [call('2002')]); // internal, no alert even out of hours
    expect(alerts()).toEqual([]);
    await svc.ingestCdr(node, [call('+441234567'), call('00449876543')]);
    // One alert for the rule's group, listing both calls with their reasons.
    expect(alerts()).toHaveLength(1);
    expect(alerts()[0]).toMatch(/TOLL FRAUD\? pbx9: 2 suspicious calls — international prefix 0044 \(UK\)/);
    expect(alerts()[0]).toMatch(/2001 → \+441234567 .*— international prefix 0044 \(UK\); outside business hours/);
    await svc.ingestCdr(node, [call('0044111222')]);
    expect(alerts()).toHaveLength(1);
    expect(alerts()[0]).toMatch(/TOLL FRAUD\? pbx9: 3 suspicious calls/);
    expect(alerts()[0]).toMatch(/0044111222 .*; 3 outbound calls within an hour \(limit 2\)/);
    await svc.ingestCdr(node, [call('5551234567')]);
    expect(alerts()).toHaveLength(2);
    expect(alerts()[1]).toMatch(/TOLL FRAUD\? pbx9: call from 2001 to 5551234567 at .* — outside business hours; 4 outbound calls within an hour \(limit 2\)/);
    const id = /^(\d+)\s/m.exec(rules.split('\n').slice(3).join('\n'))![1];
    expect((await t.run(`monitor fraud rm ${id}`)).exitCode).toBe(0);
  });

  it('disable/enable, token rotate (confirmed) and rm', async () => {
    expect((await t.run('monitor disable pbx9')).exitCode).toBe(0);
    expect((await t.run('monitor nodes')).replies.join()).toMatch(/pbx9\s+disabled/);
    await t.run('monitor enable pbx9');
    const rot = await t.run('monitor token rotate pbx9');
    expect(rot.outcome).toBe('confirm');
    await t.run('monitor token rotate pbx9', { confirmed: true });
    const dm = t.chat.messages.filter((m) => m.dmTo).pop()!;
    expect(dm.secret).toBe(true);
    expect(dm.text).toMatch(/New enrolment for node pbx9/);
    expect((await t.app.db.selectFrom('mon_nodes').select('token_hash').where('name', '=', 'pbx9').executeTakeFirstOrThrow()).token_hash).toBeNull();
    expect((await t.run('monitor rm pbx9', { confirmed: true })).replies.join()).toMatch(/removed/);
    expect(await t.app.db.selectFrom('mon_records').selectAll().execute()).toHaveLength(0);
  });
});
