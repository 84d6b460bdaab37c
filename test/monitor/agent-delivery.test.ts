// The agent's delivery paths against the real bot on loopback (SQLite): a refused batch is bisected and only
// the bad results dropped and counted, the dropped count is reported and reset once acknowledged, back-off
// doubles up to its cap, a CDR backlog larger than one post (count and bytes) and an over-long line get
// through, a call the bot refuses even alone is skipped so the position advances, a CDR post a proxy refuses
// (403/404) is retried whole with back-off and nothing skipped; and the pure parts: the
// spool acknowledging by id while it is trimmed, CDR times in local time or UTC, jitter bounds, enrolment
// over an existing config, host facts; a 503's Retry-After is waited before the same batch is sent again.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { Agent, enroll, nextBackoff, nextRunDelay, type AgentConfig } from '../../src/agent/agent.js';
import { Spool } from '../../src/agent/spool.js';
import { CdrTail, parseCdrLine, parseCdrTime } from '../../src/agent/cdr.js';

const dir = tmpDir('sb-mon-deliver-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let seq = 0;
const sub = (name: string) => {
  const d = path.join(dir, `${name}-${++seq}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};
// cdr-csv's column order: …, amaflags, uniqueid, userfield.
const cdrLine = (id: string, dst: string, lastdata = `PJSIP/${dst}@trunk,300,`, userfield = '') =>
  `"","2001","${dst}","from-internal","""Reception"" <2001>","PJSIP/2001-01","PJSIP/trunk-02","Dial","${lastdata}","2026-11-22 10:00:00","2026-11-22 10:00:02","2026-11-22 10:01:02",62,60,"ANSWERED","DOCUMENTATION","${id}","${userfield}"\n`;
/** The uniqueid part of a stored call id (uniqueid#fingerprint). */
const uid = (callId: string) => callId.split('#')[0]!;

async function setup(t: TestApp, name: string) {
  const svc = t.app.services.monitor;
  await svc.createEnrollment(name);
  const c = await svc.createEnrollment(name, true);
  const e = (await svc.enroll(c.code))!;
  return e;
}

function agentConfig(t: TestApp, e: { nodeId: number; token: string }, over: Partial<AgentConfig> = {}): AgentConfig {
  const d = sub('agent');
  return {
    server: t.app.baseUrl(),
    nodeId: e.nodeId,
    token: e.token,
    spoolDir: path.join(d, 'spool'),
    spoolMaxBytes: 1 << 20,
    cdrPath: path.join(d, 'Master.csv'),
    cdrPollMs: 100,
    configPollMs: 60_000,
    heartbeatMs: 200,
    backoffMaxMs: 2000,
    batchSize: 200,
    asterisk: '/bin/false',
    cdrTimezone: 'local',
    ...over,
  };
}

describe('agent delivery against the bot', () => {
  let t: TestApp;
  const agents: Agent[] = [];
  beforeAll(async () => {
    t = await makeTestApp({ engine: 'sqlite', listen: true, overrides: { 'monitor.alertTargets': ['test:alerts'] } });
    for (const s of ['hist', 'other']) expect((await t.run(`monitor sensor add ${s} kind=nagios command="/usr/lib/nagios/plugins/check_dummy 0" interval=1h retention=history:7d`)).exitCode).toBe(0);
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await t?.close();
  });
  const sensorId = async (name: string) => (await t.app.db.selectFrom('mon_sensors').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;

  it('bisects a refused batch: only the bad results are dropped and counted; the dropped count is reported and reset', async () => {
    const e = await setup(t, 'pbx-bisect');
    expect((await t.run('monitor assign hist pbx-bisect')).exitCode).toBe(0);
    const hist = await sensorId('hist');
    const other = await sensorId('other'); // not assigned to this node
    const cfg = agentConfig(t, e);
    const spool = new Spool(cfg.spoolDir, cfg.spoolMaxBytes);
    const at = Date.now() - 60_000;
    const items = Array.from({ length: 10 }, (_, i) => ({ id: uuidv7(), sensorId: i === 9 ? other : hist, at: at + i, status: i === 4 ? 7 : 0, output: `r${i}`, perfdata: [] }));
    spool.append(items);
    spool.setDropped(5); // from an earlier overflow
    const a = new Agent(cfg, { log: () => {} });
    agents.push(a);
    await a.start();
    await until('spool drained and dropped count acknowledged', () => a.spoolState.size === 0 && a.spoolState.dropped === 0);
    const stored = await t.app.db
      .selectFrom('mon_records')
      .select(['result_id', 'output'])
      .where(
        'result_id',
        'in',
        items.map((i) => i.id),
      )
      .orderBy('at')
      .execute();
    expect(stored.map((r) => r.output)).toEqual(['r0', 'r1', 'r2', 'r3', 'r5', 'r6', 'r7', 'r8']);
    // Reported: the 5 from the overflow with the first stored post; r4 (invalid, refused alone) with the post
    // of r5..r9; r9 (sensor not assigned, refused in a 2xx that stored the rest) with the next heartbeat.
    const notes = t.chat.texts('alerts').filter((m) => m.includes('pbx-bisect dropped'));
    expect(notes).toEqual([
      expect.stringMatching(/agent on pbx-bisect dropped 5 result\(s\)/),
      expect.stringMatching(/agent on pbx-bisect dropped 1 result\(s\)/),
      expect.stringMatching(/agent on pbx-bisect dropped 1 result\(s\)/),
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(cfg.spoolDir, 'spool-state.json'), 'utf8'))).toEqual({ dropped: 0 });
    expect(t.logs.some((l) => l.includes('agent results refused (sensor not assigned to the node)'))).toBe(true);
  });

  it('posts a CDR backlog larger than one post, with an over-long line, and advances to the end', async () => {
    const e = await setup(t, 'pbx-cdr');
    const cfg = agentConfig(t, e);
    fs.writeFileSync(cfg.cdrPath, '');
    const a = new Agent(cfg, { log: () => {} });
    agents.push(a);
    await a.start();
    const pad = 'x'.repeat(300);
    const lines: string[] = [];
    for (let i = 0; i < 12_000; i++) lines.push(cdrLine(`1700000000.${i}`, `55${String(i).padStart(8, '0')}`, pad));
    lines.splice(6000, 0, cdrLine('1700000000.99999', '5599999999', 'y'.repeat(100_000)));
    const text = lines.join('');
    expect(Buffer.byteLength(text)).toBeGreaterThan(4 * 1024 * 1024); // > the read window and the bot's body limit
    fs.appendFileSync(cfg.cdrPath, text);
    const count = async () =>
      Number(
        (
          await t.app.db
            .selectFrom('mon_cdr_calls')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('node_id', '=', e.nodeId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    await until('all 12 001 calls stored', async () => (await count()) === 12_001, 90_000);
    const long = await t.app.db.selectFrom('mon_cdr_calls').selectAll().where('call_id', 'like', '1700000000.99999#%').executeTakeFirstOrThrow();
    expect(long.raw!.length).toBe(4000);
    expect(long.dst).toBe('5599999999');
    const pos = () => JSON.parse(fs.readFileSync(path.join(cfg.spoolDir, 'cdr-position.json'), 'utf8')) as { offset: number };
    await until('position at the end of the file', () => pos().offset === fs.statSync(cfg.cdrPath).size);
    expect(a.cdrSkipped).toBe(0);
  }, 120_000);

  it('backs off exponentially up to backoffMaxMs while the bot is unreachable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const seen: { at: number; retryMs: number }[] = [];
    const cfg = agentConfig(t, { nodeId: 1, token: 'x'.repeat(20) }, { server: `http://127.0.0.1:${port}`, backoffMaxMs: 2000 });
    new Spool(cfg.spoolDir, cfg.spoolMaxBytes).append([{ id: uuidv7(), sensorId: 1, at: Date.now(), status: 0, output: 'x', perfdata: [] }]);
    const a = new Agent(cfg, { log: (_l, msg, extra) => void (msg.startsWith('upload failed') && seen.push({ at: Date.now(), retryMs: extra!.retryMs as number })) });
    agents.push(a);
    await a.start();
    await until('five failed uploads', () => seen.length >= 5, 15_000);
    await a.stop();
    expect(seen.slice(0, 5).map((s) => s.retryMs)).toEqual([500, 1000, 2000, 2000, 2000]);
    const gaps = seen.slice(1, 5).map((s, i) => s.at - seen[i]!.at);
    [500, 1000, 2000, 2000].forEach((want, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(want - 20);
      expect(gaps[i]).toBeLessThan(want + 5000); // only "not stuck": a loaded machine delays timers a lot
    });
    expect(a.spoolState.size).toBe(1); // kept for later
  }, 30_000);

  it('waits what a 503 Retry-After asks (past its own back-off, within backoffMaxMs), then delivers the same batch', async () => {
    // A stand-in bot on loopback: the first post is answered 503 with Retry-After: 2, the next ones 200.
    const posts: { at: number; ids: string[] }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/api/v1/agent/config') return void res.end(JSON.stringify({ sensors: [], cdr: { enabled: false } }));
        if (req.url !== '/api/v1/agent/results') return void res.writeHead(404).end('{"error":"not found"}');
        const ids = ((JSON.parse(body) as { results: { id: string }[] }).results ?? []).map((r) => r.id);
        posts.push({ at: Date.now(), ids });
        if (posts.length === 1) {
          res.writeHead(503, { 'retry-after': '2' });
          return void res.end(JSON.stringify({ error: 'the bot is busy storing results; retry later' }));
        }
        res.end(JSON.stringify({ ok: true, stored: ids.length, duplicates: 0 }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const waits: number[] = [];
      const cfg = agentConfig(t, { nodeId: 1, token: 'x'.repeat(20) }, { server: `http://127.0.0.1:${port}`, backoffMaxMs: 5000, cdrSource: 'off' });
      const id = uuidv7();
      new Spool(cfg.spoolDir, cfg.spoolMaxBytes).append([{ id, sensorId: 1, at: Date.now(), status: 0, output: 'x', perfdata: [] }]);
      const a = new Agent(cfg, { log: (_l, msg, extra) => void (msg.startsWith('upload failed') && waits.push(extra!.retryMs as number)) });
      agents.push(a);
      await a.start();
      await until('the batch delivered after the wait', () => posts.some((p, i) => i > 0 && p.ids.includes(id)), 15_000);
      await a.stop();
      expect(waits[0]).toBe(2000); // Retry-After: 2, not the first back-off step (500 ms)
      const again = posts.findIndex((p, i) => i > 0 && p.ids.includes(id));
      expect(posts[0]!.ids).toEqual([id]);
      expect(posts[again]!.at - posts[0]!.at).toBeGreaterThanOrEqual(1980);
      expect(a.spoolState.size).toBe(0); // acknowledged, so gone from the spool
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 30_000);

  it('enrol over an existing config: new 0600 file with the token, other keys kept', async () => {
    await t.app.services.monitor.createEnrollment('pbx-enrol');
    const { code } = await t.app.services.monitor.createEnrollment('pbx-enrol', true);
    const file = path.join(sub('enrol'), 'agent.yaml');
    fs.writeFileSync(file, 'cdrPath: /srv/Master.csv\ntoken: old-token-value\n', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const ino = fs.statSync(file).ino;
    const r = await enroll({ server: t.app.baseUrl(), code, config: file });
    expect(r.node).toBe('pbx-enrol');
    const st = fs.statSync(file);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.ino).not.toBe(ino);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain('cdrPath: /srv/Master.csv');
    expect(text).not.toContain('old-token-value');
    expect(text).toMatch(/token: \S{40,}/);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['agent.yaml']);
  });
});

describe('CDR post that the bot refuses even alone (monitor.bodyLimitBytes 2048)', () => {
  let t: TestApp;
  let a: Agent | undefined;
  beforeAll(async () => {
    t = await makeTestApp({ engine: 'sqlite', listen: true, overrides: { 'monitor.bodyLimitBytes': 2048 } });
  });
  afterAll(async () => {
    await a?.stop();
    await t?.close();
  });

  it('is skipped and counted; the position advances and later calls arrive', async () => {
    const e = await setup(t, 'pbx-small');
    const cfg = agentConfig(t, e);
    fs.writeFileSync(cfg.cdrPath, '');
    const logs: string[] = [];
    a = new Agent(cfg, { log: (_l, msg) => void logs.push(msg) });
    await a.start();
    fs.appendFileSync(cfg.cdrPath, cdrLine('1763000001.1', '100') + cdrLine('1763000001.2', '200', 'z'.repeat(3000)) + cdrLine('1763000001.3', '300') + cdrLine('1763000001.4', '400'));
    const ids = async () => (await t.app.db.selectFrom('mon_cdr_calls').select('call_id').orderBy('call_id').execute()).map((r) => uid(r.call_id));
    await until('the calls around the refused one', async () => (await ids()).length === 3);
    expect(await ids()).toEqual(['1763000001.1', '1763000001.3', '1763000001.4']);
    // The last post's calls are in the store before the agent has read the bot's reply and counted the skip.
    await until('the refused call counted', () => a!.cdrSkipped === 1);
    expect(logs).toContain('CDR call refused by the bot; skipped');
    await until('position at the end', () => (JSON.parse(fs.readFileSync(path.join(cfg.spoolDir, 'cdr-position.json'), 'utf8')) as { offset: number }).offset === fs.statSync(cfg.cdrPath).size);
    expect(a.cdrSkipped).toBe(1); // still once: nothing is re-read after the position passed it
  });
});

describe('CDR posts a proxy in front of the bot refuses (403, then 404)', () => {
  let t: TestApp;
  let a: Agent | undefined;
  let proxy: http.Server | undefined;
  beforeAll(async () => {
    t = await makeTestApp({ engine: 'sqlite', listen: true });
  });
  afterAll(async () => {
    await a?.stop();
    await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
    await t?.close();
  });

  it('are neither split nor skipped: the same calls are retried with back-off and arrive once the bot answers', async () => {
    const e = await setup(t, 'pbx-proxy');
    const bot = new URL(t.app.baseUrl());
    let refuse = 403;
    const refused: { at: number; status: number; calls: string[] }[] = [];
    proxy = http.createServer((req, res) => {
      if (req.url === '/api/v1/agent/cdr' && refuse) {
        const status = refuse;
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          refused.push({ at: Date.now(), status, calls: (JSON.parse(Buffer.concat(chunks).toString()) as { calls: { callId: string }[] }).calls.map((c) => uid(c.callId)) });
          res.writeHead(status, { 'content-type': 'text/html' }).end('<html><body>Forbidden by policy</body></html>');
        });
        return;
      }
      const up = http.request({ host: bot.hostname, port: bot.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
    const cfg = agentConfig(t, e, { server: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, backoffMaxMs: 2000 });
    fs.writeFileSync(cfg.cdrPath, '');
    const retries: number[] = [];
    a = new Agent(cfg, { log: (_l, msg, extra) => void (msg === 'CDR upload failed; will retry' && retries.push(extra!.retryMs as number)) });
    await a.start();
    fs.appendFileSync(cfg.cdrPath, cdrLine('1763000002.1', '100') + 'not a cdr line\n' + cdrLine('1763000002.2', '200') + cdrLine('1763000002.3', '300'));
    await until('four refused posts', () => refused.length >= 4, 20_000);
    refuse = 404;
    await until('a refused post with 404', () => refused.some((r) => r.status === 404), 20_000);
    refuse = 0;
    const ids = async () => (await t.app.db.selectFrom('mon_cdr_calls').select('call_id').where('node_id', '=', e.nodeId).orderBy('call_id').execute()).map((r) => uid(r.call_id));
    await until('the calls stored', async () => (await ids()).length === 3, 20_000);
    expect(await ids()).toEqual(['1763000002.1', '1763000002.2', '1763000002.3']);
    // Every refused post carried all three calls (no halving), and the attempts were spaced by the back-off.
    for (const r of refused) expect(r.calls).toEqual(['1763000002.1', '1763000002.2', '1763000002.3']);
    expect(retries.slice(0, 4)).toEqual([500, 1000, 2000, 2000]);
    for (let i = 1; i < Math.min(refused.length, 5); i++) expect(refused[i]!.at - refused[i - 1]!.at).toBeGreaterThanOrEqual(retries[i - 1]! - 20);
    await until('position at the end', () => (JSON.parse(fs.readFileSync(path.join(cfg.spoolDir, 'cdr-position.json'), 'utf8')) as { offset: number }).offset === fs.statSync(cfg.cdrPath).size);
    // The unparsable line was read on every attempt but counted once, when the position passed it.
    expect(a.cdrSkipped).toBe(1);
  }, 60_000);
});

describe('agent pure parts', () => {
  it('spool: acknowledging removes exactly the uploaded ids even when the spool was trimmed meanwhile', () => {
    const s = new Spool(sub('spool'), 3000);
    const item = (i: number) => ({ id: `id-${String(i).padStart(4, '0')}`, i, pad: 'p'.repeat(60) });
    for (let i = 0; i < 20; i++) s.append([item(i)]);
    const inFlight = s.peek<{ id: string; i: number }>(10);
    const droppedBefore = s.dropped;
    for (let i = 20; i < 40; i++) s.append([item(i)]); // trims the oldest while the upload is in flight
    const left = s.peek<{ i: number }>(1000).map((x) => x.i);
    const trimmedInFlight = inFlight.filter((x) => !left.includes(x.i)).length;
    expect(trimmedInFlight).toBeGreaterThan(0);
    expect(s.dropped - droppedBefore).toBeGreaterThanOrEqual(trimmedInFlight);
    const missing = s.ack(inFlight.map((x) => x.id));
    expect(missing).toBe(trimmedInFlight);
    const after = s.peek<{ i: number }>(1000).map((x) => x.i);
    expect(after).toEqual(left.filter((i) => i >= 10)); // every unsent newer item is still there
    expect(after[after.length - 1]).toBe(39);
  });

  it('spool: acknowledging parses only up to the last acked id; a torn line on the way is removed and counted as dropped', () => {
    const d = sub('spool');
    const s = new Spool(d, 1 << 20);
    s.append([{ id: 'a-1' }]);
    fs.appendFileSync(path.join(d, 'results.jsonl'), '{"id":"torn\n');
    s.append([{ id: 'a-2' }]);
    expect(s.peek<{ id: string }>(10).map((x) => x.id)).toEqual(['a-1', 'a-2']);
    expect(s.ack(['a-1'])).toBe(0);
    // Lines after the acked ids are kept unread: the torn one is still there (peek skips it).
    expect(fs.readFileSync(path.join(d, 'results.jsonl'), 'utf8')).toBe('{"id":"torn\n{"id":"a-2"}\n');
    expect(s.peek<{ id: string }>(10).map((x) => x.id)).toEqual(['a-2']);
    expect(s.dropped).toBe(0);
    expect(s.ack(['a-2'])).toBe(0);
    expect(s.size()).toBe(0);
    expect(s.dropped).toBe(1);
  });

  it('CDR times are the PBX local time by default, UTC when configured', () => {
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'America/Sao_Paulo'; // UTC-3, no DST
      expect(parseCdrTime('2026-11-22 10:00:00')).toBe(Date.UTC(2026, 10, 22, 13, 0, 0));
      expect(parseCdrLine(cdrLine('9.1', '100'))!.at).toBe(Date.UTC(2026, 10, 22, 13, 0, 0));
      expect(parseCdrLine(cdrLine('9.1', '100'), 'utc')!.at).toBe(Date.UTC(2026, 10, 22, 10, 0, 0));
      process.env.TZ = 'Asia/Tokyo'; // UTC+9
      expect(parseCdrLine(cdrLine('9.1', '100'), 'local')!.at).toBe(Date.UTC(2026, 10, 22, 1, 0, 0));
      expect(parseCdrTime('not a time')).toBeNull();
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('CDR tail skips a line longer than the read window and carries on after it', () => {
    const d = sub('cdr');
    const csv = path.join(d, 'Master.csv');
    fs.writeFileSync(csv, '');
    const tail = new CdrTail(csv, path.join(d, 'pos.json'));
    fs.appendFileSync(csv, cdrLine('1763000003.1', '100') + cdrLine('1763000003.2', '200', 'q'.repeat(10_000)) + cdrLine('1763000003.3', '300'));
    const got: string[] = [];
    let skipped = 0;
    for (let i = 0; i < 10; i++) {
      const r = tail.read(4096);
      if (!r) break;
      got.push(...r.calls.map((c) => uid(c.callId)));
      skipped += r.skippedEnds.length;
      tail.commit(r.next);
    }
    expect(got).toEqual(['1763000003.1', '1763000003.3']);
    expect(skipped).toBe(1);
    expect(tail.read(4096)).toBeNull();
    // A restart inside the long line resumes skipping (the state is persisted).
    fs.appendFileSync(csv, cdrLine('1763000003.4', '400', 'r'.repeat(10_000)) + cdrLine('1763000003.5', '500'));
    const r1 = tail.read(4096)!;
    tail.commit(r1.next);
    const again = new CdrTail(csv, path.join(d, 'pos.json'));
    const rest: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = again.read(4096);
      if (!r) break;
      rest.push(...r.calls.map((c) => uid(c.callId)));
      again.commit(r.next);
    }
    expect([...r1.calls.map((c) => uid(c.callId)), ...rest]).toEqual(['1763000003.5']);
  });

  it('CDR fields are cut to what the bot accepts', () => {
    const c = parseCdrLine(cdrLine(`u${'9'.repeat(80)}`, '1'.repeat(200), 'w'.repeat(5000)))!;
    expect(c.raw.length).toBe(4000);
    expect(c.dst.length).toBe(128);
    expect(c.callId).toMatch(/^[0-9a-f]{40}$/);
  });

  it('jitter keeps a sensor within ±10 % of its interval; back-off doubles and is capped', () => {
    expect(nextRunDelay(60_000, 0, () => 0)).toBe(54_000);
    expect(nextRunDelay(60_000, 0, () => 1)).toBe(66_000);
    expect(nextRunDelay(60_000, 1500, () => 0.5)).toBe(58_500);
    expect(nextRunDelay(1000, 5000, () => 0.5)).toBe(100);
    for (let i = 0; i < 1000; i++) {
      const d = nextRunDelay(30_000, 0);
      expect(d).toBeGreaterThanOrEqual(27_000);
      expect(d).toBeLessThanOrEqual(33_000);
    }
    const seq = [500];
    while (seq.length < 10) seq.push(nextBackoff(seq[seq.length - 1]!, 60_000));
    expect(seq).toEqual([500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it('host facts are re-read, the Asterisk version at most every 10 minutes', async () => {
    const d = sub('facts');
    const calls = path.join(d, 'calls');
    const ast = path.join(d, 'asterisk');
    fs.writeFileSync(ast, `#!/bin/sh\necho x >> ${calls}\necho "Asterisk 20.5.2 built by root"\n`, { mode: 0o755 });
    const a = new Agent(
      {
        server: 'http://127.0.0.1:9',
        nodeId: 1,
        token: crypto.randomBytes(16).toString('hex'),
        spoolDir: path.join(d, 'spool'),
        spoolMaxBytes: 1 << 20,
        cdrPath: path.join(d, 'x.csv'),
        cdrPollMs: 1000,
        configPollMs: 60_000,
        heartbeatMs: 30_000,
        backoffMaxMs: 1000,
        batchSize: 10,
        asterisk: ast,
        cdrTimezone: 'local',
      },
      { log: () => {} },
    );
    const f1 = await a.refreshFacts();
    const f2 = await a.refreshFacts();
    expect(f1).toMatchObject({ asterisk: '20.5.2', agentVersion: expect.any(String), hostname: expect.any(String) });
    expect(f2.asterisk).toBe('20.5.2');
    expect(fs.readFileSync(calls, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});
