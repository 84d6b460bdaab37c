// When no store host answers: the HTTP APIs answer 503 with Retry-After (never 500), /healthz says why, and
// everything answers again once the store does; `exec` whose store goes away mid-job exits 1 with a message,
// never an unhandled rejection; schedules pause while it is gone (their periods pass unrun) and run again once
// it answers. The store is the real test MariaDB behind a loopback forwarder that a test shuts.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/mysql.js';
import { mysqlUrl, tmpDir } from './helpers/env.js';
import { Forwarder } from './helpers/forwarder.js';
import { freePort } from './replicas/harness.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { sharedKey } from './helpers/start-process.js';
import { until } from './helpers/wait.js';

const base = new URL(mysqlUrl());
const target = { host: base.hostname, port: Number(base.port || 3306) };

async function forwardedDatabase(): Promise<{ fwd: Forwarder; url: string; drop(): Promise<void> }> {
  const db = await createTestDatabase();
  const fwd = await new Forwarder(await freePort(), target).open();
  const u = new URL(db.url);
  u.host = `127.0.0.1:${fwd.port}`;
  return { fwd, url: u.toString(), drop: db.drop };
}

describe('HTTP while no store host answers', () => {
  let t: TestApp;
  let fwd: Forwarder;
  let drop: () => Promise<void>;
  let url: string;
  let node: { nodeId: number; token: string };
  let sensorId: number;
  const key = sharedKey();

  beforeAll(async () => {
    const d = await forwardedDatabase();
    fwd = d.fwd;
    drop = d.drop;
    t = await makeTestApp({ databaseUrl: d.url, listen: true, provisionKey: key, overrides: { 'dhcp.callerid.token': 'cid-token' } });
    url = t.app.baseUrl();
    const svc = t.app.services.monitor;
    expect((await t.run('monitor sensor add ping1 kind=nagios command="/usr/lib/nagios/plugins/check_dummy 0" interval=60s retention=history:7d')).exitCode).toBe(0);
    await svc.createEnrollment('pbx-a');
    const c = await svc.createEnrollment('pbx-a', true);
    node = (await svc.enroll(c.code))!;
    expect((await t.run('monitor assign ping1 pbx-a')).exitCode).toBe(0);
    sensorId = (await t.app.db.selectFrom('mon_sensors').select('id').executeTakeFirstOrThrow()).id;
  });
  afterAll(async () => {
    await fwd?.open().catch(() => undefined);
    await t?.close();
    await fwd?.shut();
    await drop?.();
  });

  const postResults = () =>
    fetch(`${url}/api/v1/agent/results`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${node.token}` },
      body: JSON.stringify({ nodeId: node.nodeId, results: [{ id: crypto.randomUUID(), sensorId, at: Date.now(), status: 0, output: 'OK', perfdata: [] }] }),
    });

  it('answers 503 with Retry-After on the agent, caller-ID and console APIs, /healthz says why, and recovers', async () => {
    expect((await postResults()).status).toBe(200);
    await fwd.shut();
    const answers = [
      await postResults(),
      await fetch(`${url}/api/v1/agent/config`, { headers: { authorization: `Bearer ${node.token}` } }),
      await fetch(`${url}/hooks/call`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-switchboard-token': 'cid-token' }, body: JSON.stringify({ number: '+15551234' }) }),
      await fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'whatever-long' }) }),
    ];
    for (const r of answers) {
      const body = await r.text();
      expect({ url: r.url, status: r.status, body }).toMatchObject({ status: 503 });
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(body).toContain('store unavailable');
      expect(body).not.toContain('internal error');
    }
    const h = await fetch(`${url}/healthz`);
    expect(h.status).toBe(503);
    expect(h.headers.get('retry-after')).toMatch(/^\d+$/);
    const hb = (await h.json()) as { status: string; code: string; reason: string; hosts: { host: string; up: boolean }[] };
    expect(hb.status).toBe('unavailable');
    expect(hb.code).toBe('SB_STORE_UNAVAILABLE');
    expect(hb.reason).toMatch(/store unreachable: no store host answers \(127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(hb.hosts).toEqual([{ host: `127.0.0.1:${fwd.port}`, up: false, reason: expect.stringContaining('ECONNREFUSED') }]);
    expect(t.logs.join('')).not.toMatch(/"level":50.*request failed/);
    await fwd.open();
    await until('the store to answer again', async () => (await fetch(`${url}/healthz`)).status === 200, 10_000, 200);
    expect((await postResults()).status).toBe(200);
  });
});

describe('schedules while no store host answers', () => {
  it('a schedule does not run while the store is gone, its periods pass unrun, and it runs again once the store answers', async () => {
    const d = await forwardedDatabase();
    const t = await makeTestApp({ databaseUrl: d.url, listen: true, provisionKey: sharedKey() });
    try {
      const EVERY = 250;
      const runs: number[] = [];
      t.app.schedule('unavailable-tick', EVERY, () => void runs.push(Date.now()));
      await until('the schedule to run twice', () => runs.length >= 2, 10_000);
      const logged = (msg: string) => t.logs.filter((l) => l.includes(msg)).length;

      await d.fwd.shut();
      await until('the scheduler to say it paused', () => logged('store unavailable; schedules paused until it answers') > 0, 10_000);
      const pausedAt = Date.now();
      const before = runs.length;
      // Twelve periods with no store: none runs, and the app still answers (503 from /healthz, not a crash).
      await new Promise((r) => setTimeout(r, 12 * EVERY));
      expect(runs.length).toBe(before);
      expect((await fetch(`${t.app.baseUrl()}/healthz`)).status).toBe(503);

      await d.fwd.open();
      const reopenedAt = Date.now();
      await until('the schedule to run again', () => runs.length > before, 10_000);
      await until('the scheduler to say it resumed', () => logged('the store answers again; schedules resumed') > 0, 10_000);
      expect(logged('store unavailable; schedules paused until it answers')).toBe(1);
      expect(logged('the store answers again; schedules resumed')).toBe(1);
      // The record of runs: periods while the store was gone were not run later either (a fire that was still
      // retrying its lease when the store came back may run its own period: allow the retry bound, ~1.1 s).
      const periods = (await t.app.db.selectFrom('schedule_runs').select('period').where('name', '=', 'unavailable-tick').execute()).map((r) => Date.parse(r.period));
      expect(periods.filter((p) => p > pausedAt && p < reopenedAt - 1500)).toEqual([]);
      expect(periods.filter((p) => p >= reopenedAt - 1500).length).toBeGreaterThan(0);
      expect(periods.length).toBe(runs.length);
    } finally {
      await d.fwd.open().catch(() => undefined);
      await t.close();
      await d.fwd.shut();
      await d.drop();
    }
  });
});

describe('exec while the store goes away', () => {
  it('a job running under exec when the store stops answering ends with exit 1 and a clear message', async () => {
    const d = await forwardedDatabase();
    const dir = tmpDir();
    try {
      const env = { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_PROVISION_KEY: sharedKey(), DATABASE_URL: d.url };
      expect((await runCli(['migrate'], env)).code).toBe(0);
      const child = spawnCli(['exec', 'selftest', '4'], env);
      let stderr = '';
      child.stderr!.on('data', (b) => (stderr += b));
      const exited = new Promise<number | null>((r) => child.once('close', r));
      // The job is running (its row says so) before the store goes.
      const { createConnection } = await import('mysql2/promise');
      const conn = await createConnection({
        host: target.host,
        port: target.port,
        user: decodeURIComponent(base.username),
        password: decodeURIComponent(base.password),
        database: new URL(d.url).pathname.slice(1),
      });
      await until('the selftest job to run', async () => ((await conn.query('select status from jobs where status = ?', ['running']))[0] as unknown[]).length > 0, 20_000, 100);
      await conn.end();
      await d.fwd.shut();
      const code = await exited;
      expect(code, stderr).toBe(1);
      // Which failure the exec sees first is a race: a new connection refused by the closed port (no host
      // answers), or its open connection reset by the shut forwarder. Either is named, with the same sentence.
      expect(stderr).toMatch(
        /switchboard: the store became unavailable \((no store host answers \(127\.0\.0\.1:\d+: ECONNREFUSED[^\n]*\)|ECONNRESET: [^\n()]*ECONNRESET)\); the command did not finish here \(job #1: a running replica settles it once the store answers; see `jobs`\)/,
      );
      expect(stderr).not.toMatch(/Unhandled|UnhandledPromiseRejection|at .*\.js:\d+/);
    } finally {
      await d.fwd.shut();
      await d.drop();
    }
  });
});
