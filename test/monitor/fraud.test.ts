// Toll fraud as a support team wants it, on both engines with a real SMTP server: suspicious calls of a node
// grouped into one alert per rule and window (its count rises in place, one e-mail), resolved after a quiet
// window; per-prefix thresholds (calls per minute, concurrent, total duration, calls in a row); Wangiri
// bursts and callbacks; bursts counting every call; business hours Mon–Fri 08:00–18:00 by default and per
// node; `ack` of several alerts or all; two replicas adding to one group.
import crypto from 'node:crypto';
import type net from 'node:net';
import { DateTime } from 'luxon';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { sleep, until } from '../helpers/wait.js';
import { MonitorService } from '../../src/monitor/service.js';
import type { CallIn, NodeRow } from '../../src/monitor/types.js';

const ZONE = 'America/Sao_Paulo';
const MIN = 60_000;

describe.each(['sqlite', 'mysql'] as const)('toll fraud on %s', (engine) => {
  let t: TestApp;
  let smtp: SMTPServer;
  const mails: ParsedMail[] = [];
  const nodes: Record<string, NodeRow> = {};
  const alerts = () => t.chat.messages.filter((m) => m.channel === 'alerts');
  const fraudMessages = () => alerts().filter((m) => /TOLL FRAUD/.test(m.text));
  const call = (over: Partial<CallIn> & { dst: string }): CallIn => ({ callId: crypto.randomUUID(), at: Date.now(), src: '2001', duration: 60, disposition: 'ANSWERED', ...over });
  const flagged = async (node: string) => t.app.db.selectFrom('mon_cdr_calls').select(['dst', 'flagged', 'fraud_group']).where('node_id', '=', nodes[node]!.id).orderBy('at').orderBy('id').execute();
  const openFraud = async (node: string) => t.app.db.selectFrom('mon_alerts').selectAll().where('node_id', '=', nodes[node]!.id).where('kind', '=', 'fraud').where('resolved_at', 'is', null).execute();

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, _s, cb) {
        simpleParser(stream).then((m) => {
          mails.push(m);
          cb();
        }, cb);
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    const port = (smtp.server.address() as net.AddressInfo).port;
    t = await makeTestApp({
      engine,
      overrides: {
        'monitor.alertTargets': ['test:alerts'],
        'monitor.repeatMs': 3_600_000,
        'monitor.timezone': ZONE,
        'monitor.mail': { host: '127.0.0.1', port, secure: false, from: 'switchboard@test.invalid', to: ['noc@test.invalid'] },
        'monitor.fraud': { burstPerHour: 8, quietMs: 1000, homeCountryCode: '55' },
      },
    });
    for (const n of ['premium', 'noedit', 'wangiri', 'limits', 'burst', 'hours', 'acks', 'replica']) {
      await t.app.services.monitor.createEnrollment(n);
      nodes[n] = await t.app.db.selectFrom('mon_nodes').select(['id', 'name', 'enabled', 'stale', 'last_seen']).where('name', '=', n).executeTakeFirstOrThrow();
      if (n !== 'hours') expect((await t.run(`monitor fraud hours ${n} always`)).exitCode).toBe(0);
    }
    expect((await t.run('monitor fraud add 0900 premium Premium-rate numbers')).exitCode).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
  });

  it('10 suspicious calls in 5 minutes: one alert counting 10 (edited in place), one e-mail; resolved once after the quiet window', async () => {
    const svc = t.app.services.monitor;
    t.chat.clear();
    const start = Date.now() - 5 * MIN;
    for (let i = 0; i < 10; i++) await svc.ingestCdr(nodes.premium!, [call({ at: start + i * 30_000, dst: `09001234${String(i).padStart(2, '0')}` })]);
    const msgs = fraudMessages();
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toMatch(/^🚨 alert #\d+ TOLL FRAUD\? premium: 10 suspicious calls — premium prefix 0900 \(Premium-rate numbers\) \(/);
    expect(msgs[0]!.text.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(10);
    expect(msgs[0]!.edits.length).toBeGreaterThanOrEqual(1);
    const [a] = await openFraud('premium');
    expect(a).toMatchObject({ calls: 10, sent_count: 10, status: 2 });
    expect((await t.run('alerts')).replies.join()).toMatch(new RegExp(`${a!.id}\\s+premium\\s+fraud ×10`));
    await until('the e-mail', () => mails.some((m) => /TOLL FRAUD\? premium/.test(m.subject ?? '')), 10_000);
    await sleep(300);
    expect(mails.filter((m) => /TOLL FRAUD\? premium/.test(m.subject ?? ''))).toHaveLength(1);
    // Not quiet yet: no resolve, no repeat.
    await svc.tick();
    expect(alerts().filter((m) => m.text.startsWith('✅') || m.text.startsWith('🔁'))).toEqual([]);
    await sleep(1100); // the quiet window (1 s)
    await Promise.all([svc.tick(), new MonitorService(t.app, t.app.config.monitor).tick()]);
    await svc.tick();
    const resolved = alerts().filter((m) => m.text.startsWith(`✅ alert #${a!.id} RESOLVED`));
    expect(resolved).toHaveLength(1);
    expect(resolved[0]!.text).toMatch(/RESOLVED after 1 s without a further suspicious call: TOLL FRAUD\? premium: 10 suspicious calls/);
    expect(await openFraud('premium')).toEqual([]);
    await until('the resolve e-mail', () => mails.some((m) => (m.subject ?? '').includes(`alert #${a!.id} RESOLVED`)), 10_000);
    expect(mails.filter((m) => /TOLL FRAUD\? premium/.test(m.subject ?? '') && !/RESOLVED/.test(m.subject ?? ''))).toHaveLength(1);
    // A later call starts a new group.
    await svc.ingestCdr(nodes.premium!, [call({ dst: '0900999888' })]);
    const again = await openFraud('premium');
    expect(again).toHaveLength(1);
    expect(again[0]!.id).not.toBe(a!.id);
    expect(fraudMessages().at(-1)!.text).toMatch(
      /TOLL FRAUD\? premium: call from 2001 to 0900999888 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d America\/Sao_Paulo — premium prefix 0900 \(Premium-rate numbers\)/,
    );
  });

  it('where the chat message cannot be edited, a short update is posted instead', async () => {
    const svc = t.app.services.monitor;
    const update = t.chat.update.bind(t.chat);
    t.chat.update = async () => {
      throw new Error('message too old to edit');
    };
    try {
      t.chat.clear();
      await svc.ingestCdr(nodes.noedit!, [call({ dst: '0900111111' })]);
      await svc.ingestCdr(nodes.noedit!, [call({ dst: '0900111112' }), call({ dst: '0900111113' })]);
      const texts = fraudMessages().map((m) => m.text);
      expect(texts).toHaveLength(2);
      expect(texts[0]).toMatch(/^🚨 alert #(\d+) TOLL FRAUD\? noedit: call from 2001 to 0900111111/);
      expect(texts[1]).toMatch(/^🔺 alert #\d+ TOLL FRAUD\? noedit: 3 suspicious calls — premium prefix 0900 .*\(count now 3\)$/);
    } finally {
      t.chat.update = update;
    }
  });

  it('flags a Wangiri burst (short calls from one foreign prefix) and a callback to it, in one group', async () => {
    const svc = t.app.services.monitor;
    t.chat.clear();
    const base = Date.now() - 20 * MIN;
    const inbound = (i: number, over: Partial<CallIn> = {}) =>
      call({ at: base + i * MIN, src: `+23480123456${i}`, dst: '1133334444', dcontext: 'from-trunk', duration: 4, disposition: 'NO ANSWER', ...over });
    // Not Wangiri: a long call from abroad, short calls from the home country.
    await svc.ingestCdr(nodes.wangiri!, [
      inbound(0, { duration: 300, disposition: 'ANSWERED' }),
      call({ at: base, src: '+5511988887777', dst: '1133334444', dcontext: 'from-trunk', duration: 3 }),
      call({ at: base + 1000, src: '+5511988887778', dst: '1133334444', dcontext: 'from-trunk', duration: 3 }),
      call({ at: base + 2000, src: '+5511988887779', dst: '1133334444', dcontext: 'from-trunk', duration: 3 }),
    ]);
    expect(fraudMessages()).toEqual([]);
    await svc.ingestCdr(nodes.wangiri!, [inbound(1), inbound(2)]);
    expect(fraudMessages()).toEqual([]);
    await svc.ingestCdr(nodes.wangiri!, [inbound(3)]);
    const [burst] = fraudMessages();
    expect(burst!.text).toMatch(/TOLL FRAUD\? wangiri: 3 suspicious calls — Wangiri pattern: short calls from 002348… \(and callbacks to it\)/);
    let [a] = await openFraud('wangiri');
    expect(a).toMatchObject({ calls: 3, status: 1 });
    // Someone calls back.
    await svc.ingestCdr(nodes.wangiri!, [call({ at: base + 10 * MIN, src: '2001', dst: '+2348012345672', dcontext: 'from-internal', duration: 95 })]);
    [a] = await openFraud('wangiri');
    expect(a).toMatchObject({ calls: 4, status: 2 });
    expect(fraudMessages()).toHaveLength(1);
    expect(fraudMessages()[0]!.text).toMatch(/2001 → \+2348012345672 95s ANSWERED — callback to 002348… after a Wangiri burst from it/);
    expect((await flagged('wangiri')).filter((c) => c.fraud_group === 'wangiri:002348')).toHaveLength(4);
  });

  it('per-prefix thresholds: calls per minute, concurrent calls, total duration, calls in a row', async () => {
    const svc = t.app.services.monitor;
    for (const r of ['0044 limit cpm=3 UK', '0033 limit concurrent=2', '0049 limit duration=10m', '0034 limit sequential=4']) expect((await t.run(`monitor fraud add ${r}`)).exitCode).toBe(0);
    expect((await t.run('monitor fraud add 0039 limit')).replies.join()).toMatch(/needs at least one of cpm=/);
    const rules = (await t.run('monitor fraud rules')).replies.join();
    expect(rules).toMatch(/0044\s+limit\s+3\/min\s+UK/);
    expect(rules).toMatch(/0049\s+limit\s+10 min\/h/);
    // Each case two hours after the previous one, so no burst (8 calls an hour) gets in the way.
    const base = Date.now() - 9 * 3_600_000;
    const n = nodes.limits!;
    // cpm: 4 calls to 0044 within a minute (short, one after the other).
    await svc.ingestCdr(
      n,
      [0, 1, 2, 3].map((i) => call({ at: base + i * 10_000, dst: `004420794600${i}`, duration: 5 })),
    );
    // concurrent: three 5-minute calls to 0033 starting 10 s apart.
    await svc.ingestCdr(
      n,
      [0, 1, 2].map((i) => call({ at: base + 120 * MIN + i * 10_000, dst: `00331234567${i}`, duration: 300 })),
    );
    // total duration: 400 s + 300 s to 0049 within an hour (limit 10 min).
    await svc.ingestCdr(
      n,
      [0, 1].map((i) => call({ at: base + 240 * MIN + i * 10 * MIN, dst: `00493012345${i}`, duration: i ? 300 : 400 })),
    );
    // in a row: five calls to 0034, minutes apart.
    await svc.ingestCdr(
      n,
      [0, 1, 2, 3, 4].map((i) => call({ at: base + 360 * MIN + i * 3 * MIN, dst: `00349123456${i}`, duration: 20 })),
    );
    const rows = await flagged('limits');
    const by = (prefix: string) => rows.filter((r) => r.dst.startsWith(prefix)).map((r) => r.flagged);
    expect(by('0044')).toEqual([null, null, null, '4 calls to 0044… within a minute (limit 3)']);
    expect(by('0033')).toEqual([null, null, '3 concurrent calls to 0033… (limit 2)']);
    expect(by('0049')).toEqual([null, '11 min 40 s of calls to 0049… within an hour (limit 10 min)']);
    expect(by('0034')).toEqual([null, null, null, null, '5 calls in a row to 0034… (limit 4)']);
    // One alert per rule.
    const open = await openFraud('limits');
    expect(open.map((a) => a.calls).sort()).toEqual([1, 1, 1, 1]);
    expect(open.map((a) => a.summary).join('\n')).toMatch(/TOLL FRAUD\? limits: call from 2001 to 0044207946003 at .* — 4 calls to 0044… within a minute \(limit 3\)/);
  });

  it('burst detection counts every outbound call, flagged or not', async () => {
    const svc = t.app.services.monitor;
    const base = Date.now() - 30 * MIN;
    await svc.ingestCdr(
      nodes.burst!,
      Array.from({ length: 8 }, (_, i) => call({ at: base + i * MIN, dst: `55113333${String(1000 + i)}` })),
    );
    expect(await openFraud('burst')).toEqual([]);
    await svc.ingestCdr(nodes.burst!, [call({ at: base + 9 * MIN, dst: '551133332000' })]);
    const [a] = await openFraud('burst');
    expect(a!.summary).toMatch(/TOLL FRAUD\? burst: call from 2001 to 551133332000 .* — 9 outbound calls within an hour \(limit 8\)/);
  });

  it('business hours default to Mon–Fri 08:00–18:00 (in monitor.timezone) and can be set per node', async () => {
    const svc = t.app.services.monitor;
    expect(t.app.config.monitor.fraud.businessHours).toMatchObject({ start: '08:00', end: '18:00', days: [1, 2, 3, 4, 5] });
    const at = (weekday: number, hour: number) => DateTime.fromObject({ year: 2025, month: 6, day: 1 + weekday, hour }, { zone: ZONE }).toMillis(); // 2025-06-01 is a Sunday
    const dsts = { sat10: at(6, 10), wed10: at(3, 10), wed19: at(3, 19), mon0759: at(1, 7) + 59 * MIN };
    await svc.ingestCdr(
      nodes.hours!,
      Object.values(dsts).map((when, i) => call({ at: when, dst: `55114000000${i}` })),
    );
    const byAt = Object.fromEntries(
      await Promise.all(
        Object.entries(dsts).map(async ([k, when]) => [
          k,
          (await t.app.db.selectFrom('mon_cdr_calls').select('flagged').where('node_id', '=', nodes.hours!.id).where('at', '=', when).executeTakeFirstOrThrow()).flagged,
        ]),
      ),
    );
    expect(byAt).toEqual({ sat10: 'outside business hours', wed10: null, wed19: 'outside business hours', mon0759: 'outside business hours' });
    expect((await t.run('monitor fraud hours hours')).replies.join()).toBe(`Business hours of hours: mon-fri 08:00-18:00 ${ZONE} (the default).`);
    expect((await t.run('monitor fraud hours hours sat-sun 09:00-13:00 tz=Europe/Lisbon')).replies.join()).toBe('Business hours of hours: sun,sat 09:00-13:00 Europe/Lisbon.');
    expect((await t.run('monitor fraud hours hours weekdays 9-5')).exitCode).toBe(2);
    const sat = DateTime.fromObject({ year: 2025, month: 6, day: 7, hour: 10 }, { zone: 'Europe/Lisbon' }).toMillis();
    await svc.ingestCdr(nodes.hours!, [call({ at: sat, dst: '551140999999' }), call({ at: dsts.wed10 + 1000, dst: '551140999998' })]);
    const later = await t.app.db.selectFrom('mon_cdr_calls').select(['dst', 'flagged']).where('dst', 'in', ['551140999999', '551140999998']).orderBy('dst').execute();
    expect(later).toEqual([
      { dst: '551140999998', flagged: 'outside business hours' },
      { dst: '551140999999', flagged: null },
    ]);
    expect((await t.run('monitor fraud rules')).replies.join()).toMatch(/hours: sun,sat 09:00-13:00 Europe\/Lisbon/);
  });

  it('ack takes several ids, or all', async () => {
    const svc = t.app.services.monitor;
    expect((await t.run('monitor fraud add 0088 international Satellite')).exitCode).toBe(0);
    for (const d of ['0900200001', '0088200002', '0900200003']) await svc.ingestCdr(nodes.acks!, [call({ dst: d, duration: 5 })]);
    const ids = (await openFraud('acks')).map((a) => a.id);
    expect(ids).toHaveLength(2);
    const two = await t.run(`ack ${ids[0]} #${ids[1]} 999999 looking into it`);
    expect(two.replies.join()).toBe(`2 alerts (#${ids[0]}, #${ids[1]}) acknowledged by admin. Not open: #999999.`);
    const row = await t.app.db.selectFrom('mon_alerts').select(['acked_by', 'ack_comment']).where('id', '=', ids[0]!).executeTakeFirstOrThrow();
    expect(row).toEqual({ acked_by: 'admin', ack_comment: 'looking into it' });
    const all = await t.run('ack all');
    expect(all.replies.join()).toMatch(/acknowledged by admin/);
    expect(await t.app.db.selectFrom('mon_alerts').select('id').where('resolved_at', 'is', null).where('acked_by', 'is', null).execute()).toEqual([]);
    expect((await t.run('ack all')).replies.join()).toMatch(/no open unacknowledged alerts/);
    expect((await t.run('ack please')).exitCode).toBe(2);
  });

  it('two replicas adding calls to one group at once: one alert, every call counted, one first message', async () => {
    t.chat.clear();
    const r1 = new MonitorService(t.app, t.app.config.monitor);
    const r2 = new MonitorService(t.app, t.app.config.monitor);
    const batch = (k: number) => Array.from({ length: 3 }, (_, i) => call({ dst: `0900777${k}${i}00` }));
    await Promise.all([r1.ingestCdr(nodes.replica!, batch(1)), r2.ingestCdr(nodes.replica!, batch(2)), r1.ingestCdr(nodes.replica!, batch(3)), r2.ingestCdr(nodes.replica!, batch(4))]);
    await r1.tick();
    const open = await openFraud('replica');
    expect(open).toHaveLength(1);
    expect(open[0]!.calls).toBe(12);
    expect(fraudMessages().filter((m) => m.text.startsWith('🚨'))).toHaveLength(1);
    expect(fraudMessages()[0]!.text).toMatch(/12 suspicious calls/);
  });
});
