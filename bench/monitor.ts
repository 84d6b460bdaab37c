// Monitoring figures: agent results ingested through HTTP (POST /api/v1/agent/results, batches of 100,
// history retention so every result is a row) into SQLite and into MariaDB, with p99 request latency and
// the bot's peak RSS (the bot runs as its own `switchboard start` process; VmHWM from /proc); and the same
// rows inserted straight through the store (one transaction per 100) with no HTTP, for the ratio.
import { sqliteRowInserter } from '../src/store/bulk-insert.js';
import crypto from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createConnection } from 'mysql2/promise';
import { openStore, type Store } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { sha256 } from '../src/monitor/service.js';
import '../src/monitor/types.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const autocannon = require('autocannon') as any;
const CLI = fileURLToPath(new URL('../../bin/switchboard.js', import.meta.url));
const DURATION_S = Number(process.env.BENCH_MONITOR_SECONDS ?? 15);
const SENSORS = 10;

function batch(sensorIds: number[], n = 100): string {
  const at = Date.now();
  const results = [];
  for (let i = 0; i < n; i++) results.push({ id: uuidv7(), sensorId: sensorIds[i % sensorIds.length], at: at + i, status: i % 50 === 0 ? 1 : 0, output: 'DISK OK - free space: / 3326 MB (56%)', perfdata: [{ label: '/', value: 44 + (i % 7), uom: '%', warn: '80', crit: '90', min: 0, max: 100 }] });
  return JSON.stringify({ results });
}

async function seed(store: Store): Promise<{ token: string; sensorIds: number[]; nodeId: number }> {
  await migrateToLatest(store);
  const token = crypto.randomBytes(32).toString('base64url');
  const t = Date.now();
  await store.db.insertInto('mon_nodes').values({ name: 'bench', token_hash: sha256(token), enroll_hash: null, enroll_expires: null, enabled: 1, last_seen: t, facts: null, stale: 0, created_at: t }).execute();
  const nodeId = (await store.db.selectFrom('mon_nodes').select('id').where('name', '=', 'bench').executeTakeFirstOrThrow()).id;
  const sensorIds: number[] = [];
  for (let i = 0; i < SENSORS; i++) {
    await store.db.insertInto('mon_sensors').values({ name: `s${i}`, kind: 'disk', args: '{}', interval_ms: 60_000, timeout_ms: 10_000, attempts: 3, retention: 'history:30d', created_at: t }).execute();
    const id = (await store.db.selectFrom('mon_sensors').select('id').where('name', '=', `s${i}`).executeTakeFirstOrThrow()).id;
    await store.db.insertInto('mon_node_sensors').values({ node_id: nodeId, sensor_id: id, overrides: null }).execute();
    sensorIds.push(id);
  }
  return { token, sensorIds, nodeId };
}

async function direct(store: Store, nodeId: number, sensorIds: number[], seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const perRow = sqliteRowInserter<Record<string, unknown>>(store, 'mon_records', ['node_id', 'sensor_id', 'result_id', 'at', 'status', 'output', 'perfdata']);
  const t0 = performance.now();
  while (performance.now() < end) {
    const rows = (JSON.parse(batch(sensorIds)) as { results: { id: string; sensorId: number; at: number; status: number; output: string; perfdata: unknown[] }[] }).results;
    const recs = rows.map((r) => ({ node_id: nodeId, sensor_id: r.sensorId, result_id: r.id, at: r.at, status: r.status, output: r.output, perfdata: JSON.stringify(r.perfdata) }));
    // The same store path as ingestion: a cached prepared statement on SQLite, a multi-row INSERT on MariaDB.
    await store.db.transaction().execute(async (trx) => {
      if (perRow) perRow(recs);
      else await trx.insertInto('mon_records').values(recs).execute();
    });
    n += rows.length;
  }
  return Math.round((n / (performance.now() - t0)) * 1000);
}

async function scenario(engine: 'sqlite' | 'mysql'): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sb-bench-mon-${engine}-`));
  let databaseUrl: string | undefined;
  let dropDb: (() => Promise<void>) | undefined;
  if (engine === 'mysql') {
    const base = new URL(process.env.SWITCHBOARD_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test');
    const name = `sb_bench_${crypto.randomBytes(4).toString('hex')}`;
    const opts = { host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) };
    const c = await createConnection(opts);
    await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await c.end();
    base.pathname = `/${name}`;
    databaseUrl = base.toString();
    dropDb = async () => {
      const d = await createConnection(opts);
      await d.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await d.end();
    };
  }
  const store = openStore({ databaseUrl, sqlitePath: path.join(dir, 'switchboard.sqlite') });
  const { token, sensorIds, nodeId } = await seed(store);
  await store.close();

  const cfgFile = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfgFile, `dataDir: ${dir}\n${databaseUrl ? `databaseUrl: ${databaseUrl}\n` : ''}http:\n  port: 0\nlog:\n  level: warn\n`);
  const bot = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), CLI, 'start', '--config', cfgFile], { env: { ...process.env, SWITCHBOARD_ADMIN_PASSWORD: 'bench-password-1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`bot did not start: ${err}`)), 30_000);
    bot.stderr.on('data', (d) => {
      err += d;
      const m = /Web console: (http:\/\/\S+)\/console/.exec(err);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    bot.on('exit', (c) => reject(new Error(`bot exited ${c}: ${err}`)));
  });
  const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${bot.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const rssIdle = hwm();
  let ok = 0;
  let bad = 0;
  // Bodies are made before the run so the load generator does not take the bot's CPU on this 2-core machine
  // (each carries fresh result ids: a replayed id would be skipped as a duplicate).
  const bodies = Array.from({ length: Math.ceil(DURATION_S * 600) }, () => batch(sensorIds));
  let nextBody = 0;
  const res = await autocannon({
    url: `${url}/api/v1/agent/results`,
    connections: 8,
    duration: DURATION_S,
    requests: [
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        setupRequest: (req: Record<string, unknown>) => ({ ...req, body: nextBody < bodies.length ? bodies[nextBody++] : batch(sensorIds) }),
        onResponse: (status: number) => (status === 200 ? ok++ : bad++),
      },
    ],
  });
  const peakRss = hwm();
  bot.kill('SIGTERM');
  await new Promise((r) => bot.once('exit', r));

  const check = openStore({ databaseUrl, sqlitePath: path.join(dir, 'switchboard.sqlite') });
  const stored = Number((await check.db.selectFrom('mon_records').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const directPerS = await direct(check, nodeId, sensorIds, Math.min(10, DURATION_S));
  await check.close();
  await dropDb?.();
  fs.rmSync(dir, { recursive: true, force: true });
  const httpPerS = Math.round(stored / DURATION_S);
  return {
    http_results_per_s: httpPerS,
    http_requests_per_s: Math.round(res.requests.average),
    http_p50_ms: res.latency.p50,
    http_p99_ms: res.latency.p99,
    http_non_2xx: bad + res.errors,
    results_stored: stored,
    results_acknowledged: ok * 100,
    bot_peak_rss_mb: Math.round(peakRss),
    bot_idle_rss_mb: Math.round(rssIdle),
    direct_store_results_per_s: directPerS,
    http_vs_direct: +(httpPerS / directPerS).toFixed(2),
    target_results_per_s: 20_000,
    target_rss_mb: 300,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  return { batch: 100, seconds: DURATION_S, sqlite: await scenario('sqlite'), mariadb: await scenario('mysql') };
}
