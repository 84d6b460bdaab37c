// The monitoring bench's bot (bench/monitor.ts): a real `switchboard start` process on a store seeded with
// nodes and history sensors, and the load that posts agent results to it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createConnection } from 'mysql2/promise';
import { openStore, type Store } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { sha256 } from '../src/monitor/service.js';
import '../src/monitor/types.js';
import { stopChild } from './_util.js';

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: autocannon ships no types
const autocannon = require('autocannon') as any;
const CLI = fileURLToPath(new URL('../../bin/switchboard.js', import.meta.url));
export const SECONDS = Number(process.env.BENCH_MONITOR_SECONDS ?? 8);
export const SENSORS = 10;
/** Concurrent connections for the batch-1/batch-200 figures, the same for Switchboard and Icinga 2 (many agents post at once). */
export const CONNECTIONS = Number(process.env.BENCH_MONITOR_CONNECTIONS ?? 32);
export const OUTPUT = 'DISK OK - free space: / 3326 MB (56%)';

/** Result ids that are unique across the whole run without a UUID per result (the bench must not eat the bot's CPU). */
let idSeq = 0;
const RUN = crypto.randomBytes(4).toString('hex');
export const resultId = (prefix: string) => `${prefix}${RUN}-${(idSeq++).toString(36)}`;

export function body(sensorIds: number[], n: number): { text: string; ids: string[] } {
  const at = Date.now();
  const ids: string[] = [];
  let s = '{"results":[';
  for (let i = 0; i < n; i++) {
    const id = resultId('b');
    ids.push(id);
    if (i) s += ',';
    s += `{"id":"${id}","sensorId":${sensorIds[i % sensorIds.length]},"at":${at},"status":${i % 50 === 49 ? 1 : 0},"output":"${OUTPUT}","perfdata":[{"label":"/","value":${44 + (i % 7)},"uom":"%","warn":"80","crit":"90","min":0,"max":100}]}`;
  }
  return { text: `${s}]}`, ids };
}

export interface Seeded {
  tokens: string[];
  sensorIds: number[];
}

/** `nodes` nodes sharing SENSORS history sensors. */
export async function seed(store: Store, nodes: number): Promise<Seeded> {
  await migrateToLatest(store);
  const t = Date.now();
  const sensorIds: number[] = [];
  for (let i = 0; i < SENSORS; i++) {
    await store.db
      .insertInto('mon_sensors')
      .values({ name: `s${i}`, kind: 'disk', args: '{}', interval_ms: 60_000, timeout_ms: 10_000, attempts: 3, retention: 'history:30d', created_at: t })
      .execute();
    sensorIds.push((await store.db.selectFrom('mon_sensors').select('id').where('name', '=', `s${i}`).executeTakeFirstOrThrow()).id);
  }
  const tokens = Array.from({ length: nodes }, () => crypto.randomBytes(32).toString('base64url'));
  await store.db.transaction().execute(async (trx) => {
    for (let i = 0; i < nodes; i += 200) {
      await trx
        .insertInto('mon_nodes')
        .values(
          tokens
            .slice(i, i + 200)
            .map((tok, k) => ({ name: `pbx-${i + k}`, token_hash: sha256(tok), enroll_hash: null, enroll_expires: null, enabled: 1, last_seen: t, facts: null, stale: 0, created_at: t })),
        )
        .execute();
    }
    const ids = (await trx.selectFrom('mon_nodes').select('id').execute()).map((r) => r.id);
    const links = ids.flatMap((node_id) => sensorIds.map((sensor_id) => ({ node_id, sensor_id, overrides: null })));
    for (let i = 0; i < links.length; i += 500)
      await trx
        .insertInto('mon_node_sensors')
        .values(links.slice(i, i + 500))
        .execute();
  });
  return { tokens, sensorIds };
}

export interface Bot {
  url: string;
  child: ChildProcess;
  rssMb(): number;
  peakRssMb(): number;
  /** Result ids in the store, and how many rows hold them (more rows than ids = a result stored twice). */
  stored(): Promise<{ ids: Set<string>; rows: number }>;
  close(): Promise<void>;
}

export async function startBot(engine: 'sqlite' | 'mysql', nodes: number): Promise<Bot & Seeded> {
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
  const open = () => openStore({ databaseUrl, sqlitePath: path.join(dir, 'switchboard.sqlite') });
  const store = open();
  const seeded = await seed(store, nodes);
  await store.close();
  const cfgFile = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    cfgFile,
    `dataDir: ${dir}\n${databaseUrl ? `databaseUrl: ${databaseUrl}\n` : ''}http:\n  port: 0\nlog:\n  level: warn\n${process.env.BENCH_MONITOR_CONCURRENCY ? `monitor:\n  ingest:\n    concurrency: ${Number(process.env.BENCH_MONITOR_CONCURRENCY)}\n` : ''}`,
  );
  const child = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), CLI, 'start', '--config', cfgFile], {
    env: { ...process.env, SWITCHBOARD_ADMIN_PASSWORD: 'bench-password-1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`bot did not start: ${err}`)), 60_000);
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /Web console: (http:\/\/\S+)\/console/.exec(err);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    child.on('exit', (c) => reject(new Error(`bot exited ${c}: ${err}`)));
  });
  const status = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  return {
    ...seeded,
    url,
    child,
    rssMb: () => Math.round(status('VmRSS')),
    peakRssMb: () => Math.round(status('VmHWM')),
    async stored() {
      const s = open();
      const all = await s.db.selectFrom('mon_records').select('result_id').execute();
      await s.close();
      return { ids: new Set(all.map((r) => r.result_id)), rows: all.length };
    },
    async close() {
      await stopChild(child);
      await dropDb?.();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Posts batches of `batch` results over CONNECTIONS keep-alive connections for SECONDS; acknowledged ids are kept. */
export async function measureBot(bot: Bot & Seeded, batch: number, acked: Set<string>, connections = CONNECTIONS): Promise<{ results_per_s: number; p50_ms: number; p99_ms: number; non_2xx: number }> {
  let bad = 0;
  let okResults = 0;
  const inflight = new Map<unknown, string[]>();
  const res = await autocannon({
    url: `${bot.url}/api/v1/agent/results`,
    connections,
    duration: SECONDS,
    requests: [
      {
        method: 'POST',
        headers: { authorization: `Bearer ${bot.tokens[0]}`, 'content-type': 'application/json' },
        setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
          const b = body(bot.sensorIds, batch);
          inflight.set(context, b.ids);
          return { ...req, body: b.text };
        },
        onResponse: (status: number, _body: string, context: Record<string, unknown>) => {
          const ids = inflight.get(context) ?? [];
          if (status === 200) {
            okResults += ids.length;
            for (const id of ids) acked.add(id);
          } else bad++;
        },
      },
    ],
  });
  return { results_per_s: Math.round(okResults / SECONDS), p50_ms: res.latency.p50, p99_ms: res.latency.p99, non_2xx: bad + res.errors + res.timeouts };
}
