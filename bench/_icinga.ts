// Icinga 2 as the reference for agent ingest: starts the machine's `icinga2` (Debian's package; nothing is
// installed here) on loopback in a temp dir of its own — its own config, CA and certificates, state, logs and
// PID file; /etc/icinga2 and the system service are never read or touched — with the REST API, one API user
// allowed to submit passive results, and hosts × services that only take passive results. measureIcinga drives
// POST /v1/actions/process-check-result with autocannon and counts the answers.
//
// Only what ingest needs is loaded: ApiListener and a warning-level log file. No checker (every host and
// service is passive, so it would have nothing to run), no notifications, no IDO/perfdata writers, and no
// per-request information log (Switchboard's side runs at log level warn too). Its files: bench/_icinga-setup.ts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './_util.js';
import { API_USER, chownTree, findTool, icingaConfig, makeCerts, NODE_NAME, runAs } from './_icinga-setup.js';

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: autocannon ships no types
const autocannon = require('autocannon') as any;
const run = promisify(execFile);

const OUTPUT = 'DISK OK - free space: / 3326 MB (56%)';
const PERFDATA = ['/=44%;80;90;0;100'];

export interface IcingaRef {
  /** https://127.0.0.1:<port> (no trailing slash). */
  url: string;
  /** The Authorization header value ('Basic …') of the bench's API user. */
  auth: string;
  /** PEM of the private CA that signed the API's certificate (verify with `servername`). */
  ca: string;
  servername: string;
  hosts: number;
  servicesPerHost: number;
  /** Total passive services (hosts × servicesPerHost); names are h1…hN and s1…sM. */
  services: number;
  /** Path the results are posted to. */
  resultPath: string;
  /** A process-check-result body for service i (round-robin over every passive service; the target is in the body). */
  body(i: number): string;
  /** One API request, certificate verified against `ca`. */
  api(method: 'GET' | 'POST', pathAndQuery: string, body?: string): Promise<{ status: number; json: unknown }>;
  stop(): Promise<void>;
  /** As `icinga2 --version` reports it, e.g. 2.13.6-1. */
  version: string;
  /** Milliseconds from the call to the API answering (certificates included). */
  startMs: number;
}

export interface IcingaFigures {
  /** 2xx answers per second of the run. */
  results_per_s: number;
  /** 2xx answers in all. */
  results: number;
  p50_ms: number;
  p99_ms: number;
  non_2xx: number;
  errors: number;
}

function request(ref: Pick<IcingaRef, 'url' | 'auth' | 'ca' | 'servername'>, method: string, pathAndQuery: string, body?: string, timeoutMs = 10_000): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const u = new URL(pathAndQuery, ref.url);
    const req = https.request(
      {
        method,
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        ca: ref.ca,
        servername: ref.servername,
        agent: false,
        timeout: timeoutMs,
        headers: { authorization: ref.auth, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON: keep the text */
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${u.pathname} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

// The daemon runs in its own process group (so a stop reaches its worker), which also means a Ctrl-C on the
// bench does not reach it: when this process exits or is told to stop, whatever was not stopped is killed and
// its temp dir removed, then the signal takes its default course.
const live = new Set<() => void>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
function cleanUpAll(): void {
  for (const f of live) f();
  live.clear();
}
function onSignal(signal: NodeJS.Signals): void {
  cleanUpAll();
  process.removeListener('exit', cleanUpAll);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}
function track(cleanUp: () => void): void {
  if (live.size === 0) {
    process.on('exit', cleanUpAll);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  live.add(cleanUp);
}
function untrack(cleanUp: () => void): void {
  live.delete(cleanUp);
  if (live.size === 0) {
    process.removeListener('exit', cleanUpAll);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
  }
}

/** Kill the daemon's whole process group (umbrella, worker, process spawner). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    /* already gone */
  }
}

export async function startIcinga(opts: { hosts?: number; servicesPerHost?: number } = {}): Promise<IcingaRef | { missing: string }> {
  const t0 = performance.now();
  const hosts = opts.hosts ?? 100;
  const servicesPerHost = opts.servicesPerHost ?? 10;
  if (!Number.isInteger(hosts) || hosts < 1 || !Number.isInteger(servicesPerHost) || servicesPerHost < 1) {
    throw new Error(`startIcinga: hosts (${hosts}) and servicesPerHost (${servicesPerHost}) must be whole numbers ≥ 1`);
  }
  const bin = findTool('icinga2');
  if (!bin) return { missing: 'icinga2' };
  const openssl = findTool('openssl');
  if (!openssl) return { missing: 'openssl' };
  const version = /\(version: r?([^)]+)\)/.exec((await run(bin, ['--version'])).stdout)?.[1] ?? 'unknown';
  const who = await runAs();

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-icinga-'));
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  let child: ChildProcess | undefined;
  const onExit = () => {
    if (child && child.exitCode === null && child.signalCode === null) killGroup(child, 'SIGKILL');
    removeDir();
  };
  track(onExit);
  try {
    const p = (...parts: string[]) => path.join(dir, ...parts);
    for (const d of ['data/certs', 'pki', 'log', 'cache', 'spool', 'run']) fs.mkdirSync(p(d), { recursive: true });
    const port = await freePort();
    const password = crypto.randomBytes(24).toString('base64url');
    fs.writeFileSync(p('icinga2.conf'), icingaConfig(port, password, hosts, servicesPerHost), { mode: 0o600 });
    const ca = await makeCerts(openssl, p('pki'), p('data/certs'));
    if (who.uid !== process.getuid!()) chownTree(dir, who.uid, who.gid);

    // Every path Icinga would otherwise take from the package's defaults, pointed into the temp dir.
    const defines = Object.entries({
      'Configuration.ConfigDir': dir,
      'Configuration.DataDir': p('data'),
      'Configuration.LogDir': p('log'),
      'Configuration.CacheDir': p('cache'),
      'Configuration.SpoolDir': p('spool'),
      'Configuration.InitRunDir': p('run'),
      'Configuration.PidPath': p('run/icinga2.pid'),
      'Configuration.StatePath': p('data/icinga2.state'),
      'Configuration.ModAttrPath': p('data/modified-attributes.conf'),
      'Configuration.ObjectsPath': p('cache/icinga2.debug'),
      'Configuration.VarsPath': p('cache/icinga2.vars'),
      'Configuration.ZonesDir': p('zones.d'),
      'Configuration.RunAsUser': who.user,
      'Configuration.RunAsGroup': who.group,
      NodeName: NODE_NAME,
      ZoneName: NODE_NAME,
    }).flatMap(([k, v]) => ['-D', `${k}=${v}`]);
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

    // Own process group, so stop() reaches the worker and its process spawner too.
    child = spawn(bin, ['daemon', '-c', p('icinga2.conf'), ...defines, '-x', 'warning'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));

    const base = { url: `https://127.0.0.1:${port}`, auth: `Basic ${Buffer.from(`${API_USER}:${password}`).toString('base64')}`, ca, servername: NODE_NAME };
    const end = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`icinga2 daemon exited (${child.exitCode ?? child.signalCode}) before its API answered: ${out.trim()}`);
      const r = await request(base, 'GET', '/v1/status/ApiListener', undefined, 2000).catch(() => null);
      if (r?.status === 200) break;
      if (r && r.status !== 503) throw new Error(`icinga2 API answered GET /v1/status with ${r.status}: ${JSON.stringify(r.json)}`);
      if (Date.now() > end) throw new Error(`icinga2 API did not answer within 60 s: ${out.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const services = hosts * servicesPerHost;
    const bodies = Array.from({ length: services }, (_, i) =>
      JSON.stringify({ service: `h${Math.floor(i / servicesPerHost) + 1}!s${(i % servicesPerHost) + 1}`, exit_status: 0, plugin_output: OUTPUT, performance_data: PERFDATA }),
    );
    const running = child;
    let stopping: Promise<void> | undefined;
    return {
      ...base,
      hosts,
      servicesPerHost,
      services,
      resultPath: '/v1/actions/process-check-result',
      body: (i) => bodies[((i % services) + services) % services]!,
      api: (method, pathAndQuery, body) => request(base, method, pathAndQuery, body),
      version,
      startMs: Math.round(performance.now() - t0),
      stop: () =>
        (stopping ??= (async () => {
          if (running.exitCode === null && running.signalCode === null) {
            running.kill('SIGTERM'); // the umbrella process stops its worker and waits for it
            const t = setTimeout(() => killGroup(running, 'SIGKILL'), 10_000);
            await exited;
            clearTimeout(t);
          }
          killGroup(running, 'SIGKILL'); // anything of the group left behind
          untrack(onExit);
          removeDir();
        })()),
    };
  } catch (e) {
    if (child) {
      const c = child;
      const gone = new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));
      killGroup(c, 'SIGKILL');
      await gone;
    }
    untrack(onExit);
    removeDir();
    throw e;
  }
}

/** `connections` keep-alive connections posting one result each per request for `seconds`; results_per_s counts 2xx answers only. */
export async function measureIcinga(ref: IcingaRef, opts: { seconds: number; connections: number }): Promise<IcingaFigures> {
  if (!(opts.seconds > 0) || !Number.isInteger(opts.connections) || opts.connections < 1) {
    throw new Error(`measureIcinga: seconds (${opts.seconds}) must be > 0 and connections (${opts.connections}) a whole number ≥ 1`);
  }
  let ok = 0;
  let bad = 0;
  let next = 0;
  const res = await autocannon({
    url: `${ref.url}${ref.resultPath}`,
    connections: opts.connections,
    duration: opts.seconds,
    // autocannon does not verify certificates; the loopback API's is signed by the run's own CA.
    requests: [
      {
        method: 'POST',
        headers: { authorization: ref.auth, accept: 'application/json', 'content-type': 'application/json' },
        setupRequest: (req: Record<string, unknown>) => ({ ...req, body: ref.body(next++) }),
        onResponse: (status: number) => (status >= 200 && status < 300 ? ok++ : bad++),
      },
    ],
  });
  const seconds = typeof res.duration === 'number' && res.duration > 0 ? res.duration : opts.seconds;
  return {
    results_per_s: Math.round(ok / seconds),
    results: ok,
    p50_ms: res.latency.p50,
    p99_ms: res.latency.p99,
    non_2xx: bad,
    errors: res.errors,
  };
}
