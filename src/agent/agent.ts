// `switchboard agent`: the small process on each PBX. Needs only its own YAML config (server URL, node id,
// token); no store, no bot config. Fetches its sensors (ETag), runs them on their intervals with jitter,
// spools every result on disk and uploads in order with exponential back-off, sends heartbeats with host
// facts, and tails the CDR CSV.
import { v7 as uuidv7 } from 'uuid';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { VERSION } from '../version.js';
import { registerSecret } from '../secrets.js';
import { runCheck, runCommand, type SensorDef } from './checks.js';
import { Spool } from './spool.js';
import { CdrTail } from './cdr.js';

export const DEFAULT_AGENT_CONFIG = '/etc/switchboard/agent.yaml';

export interface AgentConfig {
  server: string;
  nodeId: number;
  node?: string;
  token: string;
  spoolDir: string;
  spoolMaxBytes: number;
  cdrPath: string;
  cdrPollMs: number;
  configPollMs: number;
  heartbeatMs: number;
  backoffMaxMs: number;
  batchSize: number;
  asterisk: string;
}

const DEFAULTS: Omit<AgentConfig, 'server' | 'nodeId' | 'token'> = {
  spoolDir: '/var/lib/switchboard-agent',
  spoolMaxBytes: 20 * 1024 * 1024,
  cdrPath: '/var/log/asterisk/cdr-csv/Master.csv',
  cdrPollMs: 1000,
  configPollMs: 60_000,
  heartbeatMs: 30_000,
  backoffMaxMs: 60_000,
  batchSize: 200,
  asterisk: 'asterisk',
};

export function loadAgentConfig(file: string): AgentConfig {
  let raw: Record<string, unknown>;
  try {
    raw = (YAML.parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cannot read agent config ${file}: ${(e as Error).message}`);
  }
  const cfg = { ...DEFAULTS, ...raw } as AgentConfig;
  for (const k of ['server', 'nodeId', 'token'] as const) if (!cfg[k]) throw new Error(`agent config ${file}: "${k}" is missing (run switchboard agent enroll first)`);
  registerSecret(cfg.token);
  return cfg;
}

/** Trade a one-time enrolment code for the node's id and token and write the config file (mode 0600). */
export async function enroll(opts: { server: string; code: string; config: string }): Promise<{ nodeId: number; node: string }> {
  registerSecret(opts.code);
  const server = opts.server.replace(/\/$/, '');
  const res = await fetch(`${server}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: opts.code, hostname: os.hostname() }) });
  const body = (await res.json().catch(() => ({}))) as { nodeId?: number; node?: string; token?: string; error?: string };
  if (!res.ok || !body.token || !body.nodeId) throw new Error(`enrolment refused (${res.status}): ${body.error ?? 'no token in the answer'}`);
  registerSecret(body.token);
  let existing: Record<string, unknown> = {};
  try {
    existing = (YAML.parse(fs.readFileSync(opts.config, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch {
    /* new file */
  }
  fs.mkdirSync(path.dirname(path.resolve(opts.config)), { recursive: true });
  const cfg = { ...existing, server, nodeId: body.nodeId, node: body.node, token: body.token };
  fs.writeFileSync(opts.config, YAML.stringify(cfg), { mode: 0o600 });
  fs.chmodSync(opts.config, 0o600);
  return { nodeId: body.nodeId, node: body.node ?? '' };
}

interface SpooledResult {
  id: string;
  sensorId: number;
  at: number;
  status: number;
  output: string;
  perfdata: unknown[];
}

function log(level: string, msg: string, extra: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...extra })}\n`);
}

export class Agent {
  private spool: Spool;
  private sensors = new Map<number, SensorDef>();
  private timers = new Map<number, NodeJS.Timeout>();
  private etag = '';
  private stopped = false;
  private cdr?: CdrTail;
  private cdrEnabled = true;
  private wake?: () => void;
  private facts: Record<string, unknown> = {};
  private others: NodeJS.Timeout[] = [];

  constructor(private cfg: AgentConfig) {
    this.spool = new Spool(cfg.spoolDir, cfg.spoolMaxBytes);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.cfg.token}`, ...extra };
  }

  private url(p: string): string {
    return `${this.cfg.server.replace(/\/$/, '')}${p}`;
  }

  async start(): Promise<void> {
    this.facts = await this.hostFacts();
    await this.fetchConfig().catch((e) => log('warn', 'config fetch failed; will retry', { err: (e as Error).message }));
    this.others.push(setInterval(() => void this.fetchConfig().catch((e) => log('warn', 'config fetch failed', { err: (e as Error).message })), this.cfg.configPollMs));
    this.others.push(setInterval(() => this.kick(), this.cfg.heartbeatMs));
    try {
      fs.mkdirSync(this.cfg.spoolDir, { recursive: true });
      this.cdr = new CdrTail(this.cfg.cdrPath, path.join(this.cfg.spoolDir, 'cdr-position.json'));
      this.others.push(setInterval(() => void this.pumpCdr(), this.cfg.cdrPollMs));
    } catch (e) {
      log('warn', 'CDR tail disabled', { err: (e as Error).message });
    }
    void this.uploadLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    for (const t of this.others) clearInterval(t);
    this.kick();
  }

  private kick(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async hostFacts(): Promise<Record<string, unknown>> {
    let osName = `${os.type()} ${os.release()}`;
    try {
      const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
      if (m) osName = m[1]!;
    } catch {
      /* not Linux */
    }
    let asterisk: string | null = null;
    const r = await runCommand(`${this.cfg.asterisk} -rx "core show version"`, 5000);
    const m = /Asterisk\s+(\S+)/.exec(r.stdout);
    if (m) asterisk = m[1]!;
    return { hostname: os.hostname(), os: osName, kernel: os.release(), arch: os.arch(), asterisk, agentVersion: VERSION };
  }

  async fetchConfig(): Promise<void> {
    const res = await fetch(this.url('/api/v1/agent/config'), { headers: this.headers(this.etag ? { 'if-none-match': this.etag } : {}) });
    if (res.status === 304) return;
    if (!res.ok) throw new Error(`config: HTTP ${res.status}`);
    const body = (await res.json()) as { sensors: SensorDef[]; cdr?: { enabled?: boolean } };
    this.etag = res.headers.get('etag') ?? '';
    this.cdrEnabled = body.cdr?.enabled !== false;
    const next = new Map<number, SensorDef>();
    for (const s of body.sensors) {
      const old = this.sensors.get(s.id);
      // Unchanged sensors keep their object (and their running timer); changed ones are restarted.
      if (old && JSON.stringify(old) === JSON.stringify(s)) next.set(s.id, old);
      else {
        next.set(s.id, s);
        const t = this.timers.get(s.id);
        if (t) clearTimeout(t);
        this.timers.delete(s.id);
      }
    }
    for (const [id, t] of this.timers) {
      if (!next.has(id)) {
        clearTimeout(t);
        this.timers.delete(id);
      }
    }
    this.sensors = next;
    for (const s of next.values()) if (!this.timers.has(s.id)) this.schedule(s, Math.random() * Math.min(s.intervalMs, 2000));
    log('info', 'sensor list loaded', { sensors: next.size, etag: this.etag });
  }

  private schedule(s: SensorDef, delay: number): void {
    if (this.stopped) return;
    const t = setTimeout(async () => {
      const at = Date.now();
      const r = await runCheck({ ...s, args: { asterisk: this.cfg.asterisk, ...s.args } });
      if (this.sensors.get(s.id) !== s || this.stopped) return;
      const item: SpooledResult = { id: uuidv7(), sensorId: s.id, at, status: r.status, output: r.output, perfdata: r.perfdata };
      this.spool.append([item]);
      this.kick();
      const jitter = s.intervalMs * 0.1 * (Math.random() * 2 - 1);
      this.schedule(s, Math.max(100, s.intervalMs + jitter - (Date.now() - at)));
    }, delay);
    this.timers.set(s.id, t);
  }

  private async uploadLoop(): Promise<void> {
    let backoff = 500;
    let lastBeat = 0;
    while (!this.stopped) {
      const batch = this.spool.peek<SpooledResult>(this.cfg.batchSize);
      const beatDue = Date.now() - lastBeat >= this.cfg.heartbeatMs;
      if (batch.length === 0 && !beatDue) {
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, 1000).unref();
        });
        continue;
      }
      try {
        const dropped = this.spool.dropped;
        const res = await fetch(this.url('/api/v1/agent/results'), {
          method: 'POST',
          headers: this.headers({ 'content-type': 'application/json' }),
          body: JSON.stringify({ nodeId: this.cfg.nodeId, results: batch, dropped, facts: this.facts }),
          signal: AbortSignal.timeout(15_000),
        });
        if (res.status === 400 || res.status === 413) {
          // The bot refuses this batch for good; keep the rest flowing.
          log('error', 'results refused', { status: res.status, body: (await res.text()).slice(0, 300) });
          this.spool.shift(batch.length);
          continue;
        }
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        this.spool.shift(batch.length);
        if (dropped) this.spool.setDropped(this.spool.dropped - dropped);
        lastBeat = Date.now();
        backoff = 500;
      } catch (e) {
        log('warn', 'upload failed; spooling', { err: (e as Error).message, spooled: this.spool.size(), retryMs: backoff });
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, this.cfg.backoffMaxMs);
      }
    }
  }

  private cdrBusy = false;
  private async pumpCdr(): Promise<void> {
    if (!this.cdr || !this.cdrEnabled || this.cdrBusy) return;
    this.cdrBusy = true;
    try {
      const got = this.cdr.read();
      if (!got) return;
      if (got.calls.length) {
        const res = await fetch(this.url('/api/v1/agent/cdr'), { method: 'POST', headers: this.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ nodeId: this.cfg.nodeId, calls: got.calls }), signal: AbortSignal.timeout(15_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      }
      this.cdr.commit(got.next);
    } catch (e) {
      log('warn', 'CDR upload failed; will retry', { err: (e as Error).message });
    } finally {
      this.cdrBusy = false;
    }
  }
}
