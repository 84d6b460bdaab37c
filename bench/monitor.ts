// Monitoring figures: agent results ingested through HTTP (POST /api/v1/agent/results; history retention, so
// every result is a row) by a real `switchboard start` process, into SQLite and into MariaDB:
// - at one result per request and at the agent's batch of 200, 32 keep-alive connections, side by side with
//   Icinga 2's REST API (`process-check-result`, 100 hosts × 10 passive services; bench/_icinga.ts) when
//   `icinga2` is installed, in alternating rounds, with the ratios; then batch 1 once more at 256 connections
//   on each side (BENCH_MONITOR_MANY_CONNECTIONS; many agents posting at once);
// - 1 000 concurrent agents (one node and one connection each, batches of 10 back to back, and like the real
//   agent waiting Retry-After after a 503) on SQLite: p50/p99, 503s, client time-outs, lost or duplicated;
// - the raw insert limit of the same SQLite table (no HTTP) at 200- and 10 000-row transactions.
// Every acknowledged result is checked against the store afterwards (lost = acknowledged but not stored).
// BENCH_MONITOR_CONCURRENCY sets the bot's monitor.ingest.concurrency (groups written at once) to compare settings.
// The bot and the load that posts to it: bench/_monitor-bot.ts.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { openStore } from '../src/store/db.js';
import { body, CONNECTIONS, measureBot, OUTPUT, resultId, SECONDS, seed, SENSORS, startBot } from './_monitor-bot.js';

const ROUNDS = Number(process.env.BENCH_MONITOR_ROUNDS ?? 2);
const AGENTS = Number(process.env.BENCH_MONITOR_AGENTS ?? 1000);
const AGENT_SECONDS = Number(process.env.BENCH_MONITOR_AGENT_SECONDS ?? 30);
/** Batch 1 is measured once more with this many connections on each side (many agents posting at once; 0 = not). */
const MANY_CONNECTIONS = Number(process.env.BENCH_MONITOR_MANY_CONNECTIONS ?? 256);
/** Parts to run (default all): sqlite, mariadb, agents, raw. */
const PARTS = new Set((process.env.BENCH_MONITOR_PARTS ?? 'sqlite,mariadb,agents,raw').split(','));

/** Icinga 2 on loopback (bench/_icinga.ts); typed here so this area stands on its own. */
interface IcingaRef {
  version: string;
  stop(): Promise<void>;
}
interface IcingaModule {
  startIcinga(opts?: { hosts?: number; servicesPerHost?: number }): Promise<IcingaRef | { missing: string }>;
  measureIcinga(ref: IcingaRef, opts: { seconds: number; connections: number }): Promise<{ results_per_s: number; p50_ms: number; p99_ms: number; non_2xx: number; errors: number }>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function engineFigures(engine: 'sqlite' | 'mysql', icinga: { mod: IcingaModule; ref: IcingaRef } | null): Promise<Record<string, unknown>> {
  const bot = await startBot(engine, 1);
  const rssIdle = bot.rssMb();
  const acked = new Set<string>();
  const rounds: Record<string, unknown>[] = [];
  try {
    await measureBot(bot, 1, new Set()).catch(() => undefined); // warm-up (its results are stored but not counted)
    for (let r = 0; r < ROUNDS; r++) {
      const one = await measureBot(bot, 1, acked);
      const ic = icinga ? await icinga.mod.measureIcinga(icinga.ref, { seconds: SECONDS, connections: CONNECTIONS }) : null;
      const b200 = await measureBot(bot, 200, acked);
      rounds.push({ batch_1: one, icinga: ic, batch_200: b200 });
    }
    // Batch 1 once more with many connections on both sides: the rate many agents posting at once get.
    let many: Record<string, unknown> | null = null;
    if (MANY_CONNECTIONS > 0) {
      const sb = await measureBot(bot, 1, acked, MANY_CONNECTIONS);
      const ic = icinga ? await icinga.mod.measureIcinga(icinga.ref, { seconds: SECONDS, connections: MANY_CONNECTIONS }) : null;
      many = { connections: MANY_CONNECTIONS, switchboard: sb, icinga: ic, ratio_vs_icinga: ic?.results_per_s ? +(sb.results_per_s / ic.results_per_s).toFixed(2) : null };
    }
    const stored = await bot.stored();
    const lost = [...acked].filter((id) => !stored.ids.has(id)).length;
    const one = median(rounds.map((r) => (r.batch_1 as { results_per_s: number }).results_per_s));
    const b200 = median(rounds.map((r) => (r.batch_200 as { results_per_s: number }).results_per_s));
    const ic = icinga ? median(rounds.map((r) => (r.icinga as { results_per_s: number }).results_per_s)) : null;
    return {
      batch_1_results_per_s: one,
      batch_200_results_per_s: b200,
      icinga_results_per_s: ic,
      ratio_batch_1_vs_icinga: ic ? +(one / ic).toFixed(2) : null,
      ratio_batch_200_vs_icinga: ic ? +(b200 / ic).toFixed(2) : null,
      rounds,
      batch_1_many_connections: many,
      results_acknowledged: acked.size,
      results_lost: lost,
      results_duplicated: stored.rows - stored.ids.size,
      bot_idle_rss_mb: rssIdle,
      bot_peak_rss_mb: bot.peakRssMb(),
      targets: { ratio_batch_1: 2, ratio_batch_200: 20, batch_200_results_per_s: engine === 'sqlite' ? 50_000 : 30_000, rss_mb: 300 },
    };
  } finally {
    await bot.close();
  }
}

/** AGENTS agents, each its own node, token and connection, posting batches of 10 back to back for AGENT_SECONDS. */
async function manyAgents(): Promise<Record<string, unknown>> {
  const bot = await startBot('sqlite', AGENTS);
  const lat: number[] = [];
  const acked = new Set<string>();
  let timeouts = 0;
  let errors = 0;
  let non2xx = 0;
  let retryAfters = 0;
  const post = (agent: http.Agent, token: string, text: string) =>
    new Promise<{ status: number; retryAfterS: number }>((resolve, reject) => {
      const u = new URL(`${bot.url}/api/v1/agent/results`);
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfterS: Number(res.headers['retry-after'] ?? 0) }));
        },
      );
      req.setTimeout(10_000, () => req.destroy(Object.assign(new Error('timeout'), { timeout: true })));
      req.on('error', reject);
      req.end(text);
    });
  // Connecting is measured apart: Node (libuv 1.46) accepts one new connection per event-loop turn, so a
  // thousand agents connecting in the same second wait in the kernel's accept queue while the bot is busy.
  // Each agent first connects and sends one batch (not counted); then every agent runs for AGENT_SECONDS.
  const agentsHttp = bot.tokens.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const c0 = performance.now();
  await Promise.all(
    bot.tokens.map(async (token, i) => {
      for (;;) {
        const b = body(bot.sensorIds, SENSORS);
        const r = await post(agentsHttp[i]!, token, b.text).catch(() => ({ status: 0, retryAfterS: 1 }));
        if (r.status === 200) {
          for (const id of b.ids) acked.add(id);
          return;
        }
        await new Promise((res) => setTimeout(res, (r.retryAfterS || 1) * 1000));
      }
    }),
  );
  const connectMs = Math.round(performance.now() - c0);
  const end = performance.now() + AGENT_SECONDS * 1000;
  // Each agent behaves like the real one: the next batch when the last was stored; after a 503 the same
  // batch again once Retry-After has passed; after an error, the same batch again after 500 ms.
  const agents = bot.tokens.map(async (token, i) => {
    const agent = agentsHttp[i]!;
    let b = body(bot.sensorIds, SENSORS);
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await post(agent, token, b.text);
        lat.push(performance.now() - t0);
        if (r.status === 200) {
          for (const id of b.ids) acked.add(id);
          b = body(bot.sensorIds, SENSORS);
        } else if (r.status === 503 && r.retryAfterS > 0) {
          retryAfters++;
          await new Promise((res) => setTimeout(res, r.retryAfterS * 1000));
        } else non2xx++;
      } catch (e) {
        if ((e as { timeout?: boolean }).timeout) timeouts++;
        else errors++;
        await new Promise((res) => setTimeout(res, 500));
      }
    }
    agent.destroy();
  });
  await Promise.all(agents);
  const peak = bot.peakRssMb();
  const stored = await bot.stored();
  await bot.close();
  lat.sort((a, b) => a - b);
  const pct = (p: number) => +(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0).toFixed(1);
  return {
    agents: AGENTS,
    seconds: AGENT_SECONDS,
    batch: SENSORS,
    all_connected_and_first_batch_stored_ms: connectMs,
    requests: lat.length,
    results_per_s: Math.round((acked.size - AGENTS * SENSORS) / AGENT_SECONDS),
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    max_ms: +(lat[lat.length - 1] ?? 0).toFixed(1),
    client_timeouts: timeouts,
    client_errors: errors,
    busy_503_with_retry_after: retryAfters,
    other_non_2xx: non2xx,
    results_acknowledged: acked.size,
    results_lost: [...acked].filter((id) => !stored.ids.has(id)).length,
    results_duplicated: stored.rows - stored.ids.size,
    bot_peak_rss_mb: peak,
    targets: { p99_ms: 1000, client_timeouts: 0, results_lost: 0 },
  };
}

/** The SQLite table's own insert limit: the ingest statement, no HTTP, at 200- and 10 000-row transactions. */
async function rawInsertLimit(): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-raw-'));
  const file = path.join(dir, 'raw.sqlite');
  const store = openStore({ sqlitePath: file });
  const { sensorIds } = await seed(store, 1);
  await store.close();
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 10000');
  const st = db.prepare('insert into mon_records (node_id, sensor_id, result_id, at, status, output, perfdata) values (?, ?, ?, ?, ?, ?, ?) on conflict (node_id, result_id) do nothing');
  const perf = JSON.stringify([{ label: '/', value: 44, uom: '%', warn: '80', crit: '90', min: 0, max: 100 }]);
  const out: Record<string, number> = {};
  for (const size of [200, 10_000]) {
    const tx = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) st.run(1, sensorIds[i % SENSORS], resultId('r'), Date.now(), 0, OUTPUT, perf);
    });
    let rows = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 4000) {
      tx(size);
      rows += size;
    }
    out[`rows_per_s_in_${size}_row_transactions`] = Math.round((rows / (performance.now() - t0)) * 1000);
  }
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

export async function run(): Promise<Record<string, unknown>> {
  let icinga: { mod: IcingaModule; ref: IcingaRef } | null = null;
  let icingaNote: string | undefined;
  try {
    const spec = './_icinga.js';
    const mod = (await import(spec)) as IcingaModule;
    const ref = await mod.startIcinga({ hosts: 100, servicesPerHost: 10 });
    if ('missing' in ref) icingaNote = `${ref.missing} is not installed: no side-by-side figures`;
    else icinga = { mod, ref };
  } catch (e) {
    icingaNote = `Icinga 2 did not start: ${(e as Error).message}`;
  }
  try {
    const sqlite = PARTS.has('sqlite') ? await engineFigures('sqlite', icinga) : 'skipped';
    const mariadb = PARTS.has('mariadb') ? await engineFigures('mysql', icinga) : 'skipped';
    return {
      seconds_per_measure: SECONDS,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      icinga: icinga
        ? {
            version: icinga.ref.version,
            setup: `100 hosts × 10 passive services, POST /v1/actions/process-check-result over TLS (Switchboard: plain HTTP), ${CONNECTIONS} keep-alive connections each side`,
          }
        : icingaNote,
      sqlite,
      mariadb,
      agents_1000_sqlite: PARTS.has('agents') ? await manyAgents() : 'skipped',
      raw_sqlite_insert_limit: PARTS.has('raw') ? await rawInsertLimit() : 'skipped',
    };
  } finally {
    await icinga?.ref.stop();
  }
}
