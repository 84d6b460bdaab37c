// Provisioning figures: a 10 000-row sheet → config files (target < 2 s), and config fetch throughput under
// 100 concurrent clients for Switchboard (its own process, as `switchboard start` runs) and for nginx
// (Debian package) serving the same files from the same directory in the same run (target ≥ 0.5× nginx),
// and for a bare node:http server with the files in memory (the floor of any Node server here).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import autocannon from 'autocannon';
import { freePort, ROOT, stopChild, waitHttp } from './_util.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { features } from '../src/features.js';
import type { IncomingFile } from '../src/core/types.js';

const N = 10_000;
const mac = (i: number) => `0c383e${(0x100000 + i).toString(16).padStart(6, '0')}`;

// The floor of what Node's own HTTP server does on this machine: the same files from memory, nothing else
// (no routing, checks or request log), so the bench shows how much of the gap to nginx is Node itself.
const NODE_FLOOR = `
const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
const [dir, port] = process.argv.slice(1);
const files = new Map(fs.readdirSync(dir).map((f) => [f.toLowerCase(), fs.readFileSync(path.join(dir, f), 'utf8')]));
http.createServer((req, res) => {
  const body = files.get(req.url.slice('/provision/'.length).toLowerCase());
  if (body === undefined) { res.writeHead(404); return res.end(); }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}).listen(Number(port), '127.0.0.1');
`;

async function load(base: string, files: string[]): Promise<{ rps: number; p50: number; p99: number; non2xx: number; errors: number; total: number }> {
  const requests = files.slice(0, 2000).map((f) => ({ method: 'GET' as const, path: `/provision/${f}`, headers: { 'user-agent': `Fanvil X1SG 2.12.1 ${f.slice(0, 12)}` } }));
  await autocannon({ url: base, connections: 100, duration: 2, requests }); // warm-up
  const r = await autocannon({ url: base, connections: 100, duration: 10, requests });
  return { rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors, total: r.requests.total };
}

type Load = Awaited<ReturnType<typeof load>>;
/** Several rounds of one server's load, merged: mean rate, worst p50/p99, summed errors. */
function merge(rounds: Load[]): Load {
  return {
    rps: Math.round(rounds.reduce((a, r) => a + r.rps, 0) / rounds.length),
    p50: Math.max(...rounds.map((r) => r.p50)),
    p99: Math.max(...rounds.map((r) => r.p99)),
    non2xx: rounds.reduce((a, r) => a + r.non2xx, 0),
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    total: rounds.reduce((a, r) => a + r.total, 0),
  };
}

function fsReference(dir: string, size: number): number {
  fs.mkdirSync(dir, { recursive: true });
  const body = 'x'.repeat(size);
  const t = performance.now();
  for (let i = 0; i < N; i++) {
    const tmp = path.join(dir, `.${i}.tmp`);
    fs.writeFileSync(tmp, body, { mode: 0o640 });
    fs.renameSync(tmp, path.join(dir, `${mac(i)}.cfg`));
  }
  return Math.round(performance.now() - t);
}

export async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-prov-'));
  const children: ChildProcess[] = [];
  let ngDir = '';
  try {
    const config = loadConfig({
      env: {},
      sections: features.flatMap((f) => (f.config ? [f.config] : [])),
      overrides: {
        dataDir,
        'http.port': 0,
        'provision.url': 'http://10.20.0.5:8080/provision/',
        'provision.defaultServer': 'pbx.example.lan',
        'provision.adminPassword': 'Adm1n!pass',
        'provision.timezone': 'America/Sao_Paulo',
        'provision.announce.fetches': false,
      },
    });
    const app = await createApp({ mode: 'test', config, log: pino({ level: 'silent' }) });
    const lines = ['mac,extension,name,password,room'];
    for (let i = 0; i < N; i++) lines.push(`${mac(i)},${10000 + i},Phone ${i},Pw!${i}abcdEF,Room ${i % 300}`);
    const csv = Buffer.from(lines.join('\n'));
    out.sheet_rows = N;
    out.sheet_bytes = csv.length;
    const file: IncomingFile = { name: 'phones-10k.csv', size: csv.length, fetch: async () => csv };
    // The file system's own cost for the same work, measured here and now: 10 000 files of a config's size (860 bytes),
    // each written to a temp name and renamed into place, in a sibling directory on the same file system.
    // It is kept (not deleted) until the end so it cannot slow the run below: ext4 without a journal skips
    // inodes freed in the last minutes when it allocates new ones, so creating 10 000 files right after
    // deleting 10 000 costs ~0.5 ms of kernel time each (measured 4.9 s vs 0.38 s on this VM's disk).
    out.fs_reference_create_10k_ms = fsReference(path.join(dataDir, 'fs-reference'), 860);
    out.data_dir = dataDir;
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const r = await app.dispatcher.handle({ platform: 'cli', channel: 'bench', user: { id: 'bench' }, text: 'provision fanvil-x1sg', files: [file] }, { confirmed: true });
    const job = await app.jobs.wait(r.jobIds[0]!);
    out.sheet_10k_to_files_ms = Math.round(performance.now() - t0);
    out.sheet_10k_status = job.status;
    out.sheet_10k_target_ms = 2000;
    out.sheet_10k_rss_delta_mb = Math.round((process.memoryUsage().rss - rss0) / 1048576);
    const dir = path.join(dataDir, 'provision');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cfg'));
    out.files_written = files.length;
    const t1 = performance.now();
    const again = await app.dispatcher.handle({ platform: 'cli', channel: 'bench', user: { id: 'bench' }, text: 'provision fanvil-x1sg', files: [file] }, { confirmed: true });
    await app.jobs.wait(again.jobIds[0]!);
    out.sheet_10k_unchanged_rerun_ms = Math.round(performance.now() - t1);
    await app.close();

    // Switchboard in its own process, as deployed.
    const sbPort = await freePort();
    const sb = spawn(process.execPath, [path.join(ROOT, 'bin/switchboard.js'), 'start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        SWITCHBOARD_ADMIN_PASSWORD: 'bench-console-pw',
        SWITCHBOARD_DATA_DIR: dataDir,
        SWITCHBOARD_HTTP_PORT: String(sbPort),
        SWITCHBOARD_LOG_LEVEL: 'warn',
        SWITCHBOARD_PROVISION_URL: 'http://10.20.0.5:8080/provision/',
        SWITCHBOARD__provision__announce__fetches: 'false',
        SWITCHBOARD__provision__timezone: 'America/Sao_Paulo',
        SWITCHBOARD_PHONE_ADMIN_PASSWORD: 'Adm1n!pass',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let sbErr = '';
    sb.stderr!.on('data', (d: Buffer) => (sbErr += d.toString()));
    sb.once('exit', (code) => {
      if (code) process.stderr.write(`switchboard exited ${code}: ${sbErr.slice(-2000)}\n`);
    });
    children.push(sb);
    await waitHttp(`http://127.0.0.1:${sbPort}/healthz`, 60_000);

    // nginx serving the same directory.
    const ngPort = await freePort();
    ngDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-nginx-'));
    const workers = 1;
    fs.writeFileSync(
      path.join(ngDir, 'nginx.conf'),
      `user root;\nworker_processes ${workers};\ndaemon off;\npid ${ngDir}/nginx.pid;\nerror_log ${ngDir}/error.log warn;\nevents { worker_connections 1024; }\nhttp {\n  access_log ${ngDir}/access.log;\n  client_body_temp_path ${ngDir}/body; proxy_temp_path ${ngDir}/proxy; fastcgi_temp_path ${ngDir}/fcgi; uwsgi_temp_path ${ngDir}/uwsgi; scgi_temp_path ${ngDir}/scgi;\n  types { text/plain cfg; }\n  server {\n    listen 127.0.0.1:${ngPort};\n    location /provision/ { alias ${dir}/; }\n  }\n}\n`,
    );
    const ng = spawn('nginx', ['-c', path.join(ngDir, 'nginx.conf'), '-p', ngDir], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(ng);
    await waitHttp(`http://127.0.0.1:${ngPort}/provision/${files[0]}`);
    const probe = await fetch(`http://127.0.0.1:${ngPort}/provision/${files[0]}`);
    if (probe.status !== 200) throw new Error(`nginx answers ${probe.status} for ${files[0]}; see ${ngDir}/error.log`);

    const shuffled = files
      .map((f, i) => ({ f, k: (i * 7919) % files.length }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.f);
    const flPort = await freePort();
    const fl = spawn(process.execPath, ['-e', NODE_FLOOR, dir, String(flPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(fl);
    await waitHttp(`http://127.0.0.1:${flPort}/provision/${files[0]}`);

    // This VM's speed drifts over a minute (a shared host), so the servers take turns, twice each, and
    // the ratio is of the means: a slow spell then weighs on both sides.
    const sRounds: Load[] = [];
    const nRounds: Load[] = [];
    for (let round = 0; round < 2; round++) {
      if (round === 0) {
        sRounds.push(await load(`http://127.0.0.1:${sbPort}`, shuffled));
        nRounds.push(await load(`http://127.0.0.1:${ngPort}`, shuffled));
      } else {
        nRounds.push(await load(`http://127.0.0.1:${ngPort}`, shuffled));
        sRounds.push(await load(`http://127.0.0.1:${sbPort}`, shuffled));
      }
    }
    const s = merge(sRounds);
    const n = merge(nRounds);
    const floor = await load(`http://127.0.0.1:${flPort}`, shuffled);
    out.fetch_connections = 100;
    out.fetch_switchboard_rps = s.rps;
    out.fetch_switchboard_p50_ms = s.p50;
    out.fetch_switchboard_p99_ms = s.p99;
    out.fetch_switchboard_non2xx = s.non2xx;
    out.fetch_nginx_workers = workers;
    out.fetch_nginx_rps = n.rps;
    out.fetch_nginx_p50_ms = n.p50;
    out.fetch_nginx_p99_ms = n.p99;
    out.fetch_nginx_non2xx = n.non2xx;
    out.fetch_rounds_each = sRounds.length;
    out.fetch_switchboard_rps_rounds = sRounds.map((r) => r.rps);
    out.fetch_nginx_rps_rounds = nRounds.map((r) => r.rps);
    out.fetch_ratio_vs_nginx = Math.round((s.rps / n.rps) * 100) / 100;
    out.fetch_ratio_target = 0.5;
    out.fetch_node_http_floor_rps = floor.rps;
    out.fetch_ratio_vs_node_floor = Math.round((s.rps / floor.rps) * 100) / 100;
  } finally {
    for (const c of children) await stopChild(c);
    if (ngDir) fs.rmSync(ngDir, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}
