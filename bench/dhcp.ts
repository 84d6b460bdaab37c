// DHCP figures: rendering 100 000 hosts per backend, importing a 10 000-row CSV, the caller-ID hook under load.
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
import { compileSubnets } from '../src/dhcp/validate.js';
import { renderTarget } from '../src/dhcp/apply.js';
import { DhcpBackends } from '../src/dhcp/backends/index.js';
import type { HostRecord } from '../src/dhcp/service.js';
import { sheetToInputs } from '../src/dhcp/sheet-import.js';

const SUBNETS = [{ cidr: '10.64.0.0/12', pool: '10.64.0.100-10.64.0.200', gateway: '10.64.0.1' }];
const mac = (i: number) => (0x020000000000 + i).toString(16).padStart(12, '0').match(/../g)!.join(':');
const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

export async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const nets = compileSubnets(SUBNETS);
  const base = ((10 << 24) | (64 << 16)) >>> 0;
  const hosts: HostRecord[] = Array.from({ length: 100_000 }, (_, i) => ({
    mac: mac(i),
    ip: ip(base + 256 + i),
    hostname: `pc-${i}`,
    room: `R${i % 500}`,
    phones: [`2${String(i).padStart(5, '0')}`],
    owner: `Owner ${i}`,
    access: i % 4,
    comment: null,
    bootServer: i % 7 ? null : 'http://10.64.0.5/prov/',
    updatedBy: 'b',
    updatedAt: 0,
  }));
  const backends = await DhcpBackends.load();
  for (const t of ['isc', 'kea', 'dnsmasq', 'proxy1'] as const) {
    const t0 = performance.now();
    const text = renderTarget(backends, t, hosts, nets);
    out[`render_100k_${t}_ms`] = Math.round(performance.now() - t0);
    out[`render_100k_${t}_bytes`] = text.length;
  }

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-dhcp-'));
  const config = loadConfig({
    env: { SWITCHBOARD_CALLERID_TOKEN: 'bench-token-123' },
    sections: features.flatMap((f) => (f.config ? [f.config] : [])),
    overrides: { dataDir, 'http.port': 0, 'dhcp.subnets': SUBNETS, 'dhcp.callerid.targets': ['console:support'] },
  });
  const app = await createApp({ mode: 'test', config, log: pino({ level: 'silent' }) });
  let closed = false;
  let child: ChildProcess | undefined;
  try {
    const lines = ['mac,ip,hostname,room,phone,owner,access'];
    for (let i = 0; i < 10_000; i++) lines.push(`${mac(i)},auto,pc-${i},R${i % 300},2${String(i % 5000).padStart(5, '0')},Owner ${i},${i % 4}`);
    const csv = Buffer.from(lines.join('\n'));
    const t0 = performance.now();
    const { inputs } = await sheetToInputs(csv, 'bench.csv');
    const r = await app.services.dhcp.upsertHosts(inputs, 'bench');
    out.import_10k_csv_ms = Math.round(performance.now() - t0);
    out.import_10k_ok = r.ok && r.added.length === 10_000;

    await app.close();
    closed = true;

    // The hook against the running server in its own process, as deployed (the load tool must not share its event loop).
    const port = await freePort();
    child = spawn(process.execPath, [path.join(ROOT, 'bin/switchboard.js'), 'start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        SWITCHBOARD_DATA_DIR: dataDir,
        SWITCHBOARD_HTTP_PORT: String(port),
        SWITCHBOARD_LOG_LEVEL: 'warn',
        SWITCHBOARD_CALLERID_TOKEN: 'bench-token-123',
        SWITCHBOARD__dhcp__subnets: JSON.stringify(SUBNETS),
        SWITCHBOARD__dhcp__callerid__targets: '["console:support"]',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    const requests = Array.from({ length: 10 }, (_, i) => ({ method: 'GET' as const, path: `/set_call/2${String(i * 37).padStart(5, '0')}?token=bench-token-123` }));
    await autocannon({ url: `http://127.0.0.1:${port}`, connections: 200, duration: 2, requests }); // warm-up
    const res = await autocannon({ url: `http://127.0.0.1:${port}`, connections: 200, duration: 10, requests });
    out.callerid_connections = 200;
    out.callerid_requests = res.requests.total;
    out.callerid_rps = Math.round(res.requests.average);
    out.callerid_p50_ms = res.latency.p50;
    out.callerid_p99_ms = res.latency.p99;
    out.callerid_p99_target_ms = 50;
    out.callerid_non2xx = res.non2xx;
    out.callerid_errors = res.errors;
  } finally {
    if (!closed) await app.close();
    await stopChild(child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}
