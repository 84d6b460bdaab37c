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
import { CdrTail, type CdrTimezone } from './cdr.js';

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
  /** The time zone of the CDR CSV's timestamps: the PBX's local time (cdr-csv's default) or UTC (usegmtime=yes). */
  cdrTimezone: CdrTimezone;
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
  cdrTimezone: 'local',
};

/** Per CDR post: well inside the bot's limits (5000 calls, `monitor.bodyLimitBytes`, 4 MiB by default). */
export const CDR_CHUNK_CALLS = 1000;
export const CDR_CHUNK_BYTES = 1024 * 1024;
/** The Asterisk version is asked for at most this often (it runs `asterisk -rx`). */
export const ASTERISK_FACT_MS = 10 * 60_000;
export const BACKOFF_START_MS = 500;

/** Delay to a sensor's next run: its interval ±10 % jitter, less the time the run took, at least 100 ms. */
export function nextRunDelay(intervalMs: number, elapsedMs: number, rand: () => number = Math.random): number {
  const jitter = intervalMs * 0.1 * (rand() * 2 - 1);
  return Math.max(100, intervalMs + jitter - elapsedMs);
}

/** Exponential back-off: doubles, capped. */
export function nextBackoff(prevMs: number, maxMs: number): number {
  return Math.min(prevMs * 2, maxMs);
}

export function loadAgentConfig(file: string): AgentConfig {
  let raw: Record<string, unknown>;
  try {
    raw = (YAML.parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cannot read agent config ${file}: ${(e as Error).message}`);
  }
  const cfg = { ...DEFAULTS, ...raw } as AgentConfig;
  for (const k of ['server', 'nodeId', 'token'] as const) if (!cfg[k]) throw new Error(`agent config ${file}: "${k}" is missing (run switchboard agent enroll first)`);
  if (cfg.cdrTimezone !== 'local' && cfg.cdrTimezone !== 'utc') throw new Error(`agent config ${file}: cdrTimezone must be local or utc, not ${JSON.stringify(cfg.cdrTimezone)}`);
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
  // The token is written into a new 0600 file that replaces the old one by rename: an existing config
  // with wider permissions never holds it, not even for a moment.
  const tmp = `${opts.config}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeFileSync(fd, YAML.stringify(cfg));
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, opts.config);
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

export type AgentLog = (level: string, msg: string, extra?: Record<string, unknown>) => void;

const stderrLog: AgentLog = (level, msg, extra = {}) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...extra })}\n`);
};

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
  private asteriskAt = 0;
  private factsBusy = false;
  private others: NodeJS.Timeout[] = [];
  private log: AgentLog;
  private cdrChunkBytes = CDR_CHUNK_BYTES;
  /** CDR back-off: after a failed post no new attempt before cdrRetryAt; the delay doubles up to backoffMaxMs. */
  private cdrBackoff = BACKOFF_START_MS;
  private cdrRetryAt = 0;
  /** CDR lines given up on: unparsable, longer than the read window, or refused by the bot even alone (counted once the position passes them). */
  cdrSkipped = 0;

  constructor(private cfg: AgentConfig, opts: { log?: AgentLog } = {}) {
    this.spool = new Spool(cfg.spoolDir, cfg.spoolMaxBytes);
    this.log = opts.log ?? stderrLog;
  }

  /** Results waiting in the spool, and how many were dropped and not yet reported to the bot. */
  get spoolState(): { size: number; dropped: number } {
    return { size: this.spool.size(), dropped: this.spool.dropped };
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.cfg.token}`, ...extra };
  }

  private url(p: string): string {
    return `${this.cfg.server.replace(/\/$/, '')}${p}`;
  }

  async start(): Promise<void> {
    await this.refreshFacts();
    await this.fetchConfig().catch((e) => this.log('warn', 'config fetch failed; will retry', { err: (e as Error).message }));
    this.others.push(setInterval(() => void this.fetchConfig().catch((e) => this.log('warn', 'config fetch failed', { err: (e as Error).message })), this.cfg.configPollMs));
    this.others.push(
      setInterval(() => {
        void this.refreshFacts();
        this.kick();
      }, this.cfg.heartbeatMs),
    );
    try {
      fs.mkdirSync(this.cfg.spoolDir, { recursive: true });
      this.cdr = new CdrTail(this.cfg.cdrPath, path.join(this.cfg.spoolDir, 'cdr-position.json'), this.cfg.cdrTimezone);
      this.others.push(setInterval(() => void this.pumpCdr(), this.cfg.cdrPollMs));
    } catch (e) {
      this.log('warn', 'CDR tail disabled', { err: (e as Error).message });
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

  /** Host facts for the heartbeat: re-read each time (cheap), the Asterisk version at most every ASTERISK_FACT_MS. Never throws. */
  async refreshFacts(): Promise<Record<string, unknown>> {
    if (this.factsBusy) return this.facts;
    this.factsBusy = true;
    try {
      let osName = `${os.type()} ${os.release()}`;
      try {
        const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
        if (m) osName = m[1]!;
      } catch {
        /* not Linux */
      }
      let asterisk = (this.facts.asterisk as string | null | undefined) ?? null;
      if (!this.asteriskAt || Date.now() - this.asteriskAt >= ASTERISK_FACT_MS) {
        this.asteriskAt = Date.now();
        const r = await runCommand(`${this.cfg.asterisk} -rx "core show version"`, 5000);
        const m = /Asterisk\s+(\S+)/.exec(r.stdout);
        asterisk = m ? m[1]! : null;
      }
      this.facts = { hostname: os.hostname(), os: osName, kernel: os.release(), arch: os.arch(), asterisk, agentVersion: VERSION };
    } catch (e) {
      this.log('warn', 'host facts could not be read', { err: (e as Error).message });
    } finally {
      this.factsBusy = false;
    }
    return this.facts;
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
    this.log('info', 'sensor list loaded', { sensors: next.size, etag: this.etag });
  }

  private schedule(s: SensorDef, delay: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      const at = Date.now();
      void (async () => {
        try {
          const r = await runCheck({ ...s, args: { asterisk: this.cfg.asterisk, ...s.args } });
          if (this.sensors.get(s.id) !== s || this.stopped) return false;
          const item: SpooledResult = { id: uuidv7(), sensorId: s.id, at, status: r.status, output: r.output, perfdata: r.perfdata };
          this.spool.append([item]);
          this.kick();
        } catch (e) {
          this.log('error', 'sensor run or spool write failed', { sensor: s.name, err: (e as Error).message });
        }
        return true;
      })().then((again) => {
        if (again) this.schedule(s, nextRunDelay(s.intervalMs, Date.now() - at));
      });
    }, delay);
    this.timers.set(s.id, t);
  }

  private async uploadLoop(): Promise<void> {
    let backoff = BACKOFF_START_MS;
    let lastBeat = 0;
    while (!this.stopped) {
      try {
        const batch = this.spool.peek<SpooledResult>(this.cfg.batchSize);
        const beatDue = Date.now() - lastBeat >= this.cfg.heartbeatMs;
        if (batch.length === 0 && !beatDue) {
          await new Promise<void>((r) => {
            this.wake = r;
            setTimeout(r, 1000).unref();
          });
          continue;
        }
        await this.deliver(batch);
        lastBeat = Date.now();
        backoff = BACKOFF_START_MS;
      } catch (e) {
        this.log('warn', 'upload failed; spooling', { err: (e as Error).message, spooled: this.spool.size(), retryMs: backoff });
        await new Promise((r) => setTimeout(r, backoff));
        backoff = nextBackoff(backoff, this.cfg.backoffMaxMs);
      }
    }
  }

  /**
   * Post results in order. A 400/413 refuses something in the batch for good: the items the bot names in
   * `rejected` are dropped, otherwise the batch is halved until the bad items are alone, and only those are
   * dropped (counted in `dropped`, reported with the next post). Results a 2xx names in `rejected` (the bot
   * stored the rest) are dropped and counted the same way. Throws on anything worth retrying.
   */
  private async deliver(batch: SpooledResult[]): Promise<void> {
    const dropped = this.spool.dropped;
    const res = await fetch(this.url('/api/v1/agent/results'), {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ nodeId: this.cfg.nodeId, results: batch, dropped, facts: this.facts }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text().catch(() => '');
    let body: { rejected?: { id?: string; reason?: string }[]; error?: string } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      /* not JSON */
    }
    const named = new Set((body.rejected ?? []).map((r) => r.id).filter((id): id is string => typeof id === 'string'));
    if (res.ok) {
      // The bot stored the rest and reported `dropped`. Items trimmed from the spool while in flight were
      // counted as dropped, but the bot has them. Those it refused are dropped and counted like the results
      // of a refused batch (reported with the next post or heartbeat).
      const bad = batch.filter((r) => named.has(r.id));
      const missing = this.spool.ack(batch.filter((r) => !named.has(r.id)).map((r) => r.id));
      this.spool.setDropped(Math.max(0, this.spool.dropped - dropped - missing));
      if (bad.length) this.refuse(bad, res.status, body.rejected?.[0]?.reason);
      return;
    }
    if ((res.status !== 400 && res.status !== 413) || !batch.length) throw new Error(`HTTP ${res.status}${body.error ? `: ${body.error}` : ''}`);
    const bad = batch.filter((r) => named.has(r.id));
    if (bad.length) {
      this.refuse(bad, res.status, body.error);
      const rest = batch.filter((r) => !named.has(r.id));
      if (rest.length) await this.deliver(rest);
      return;
    }
    if (batch.length === 1) {
      this.refuse(batch, res.status, body.error);
      return;
    }
    const mid = Math.ceil(batch.length / 2);
    await this.deliver(batch.slice(0, mid));
    await this.deliver(batch.slice(mid));
  }

  private refuse(items: SpooledResult[], status: number, error?: string): void {
    const missing = this.spool.ack(items.map((r) => r.id));
    this.spool.setDropped(this.spool.dropped + items.length - missing);
    this.log('error', 'results refused by the bot; dropped', { status, count: items.length, sensors: [...new Set(items.map((r) => r.sensorId))], error: error?.slice(0, 300) });
  }

  private cdrBusy = false;
  private async pumpCdr(): Promise<void> {
    if (!this.cdr || !this.cdrEnabled || this.cdrBusy || Date.now() < this.cdrRetryAt) return;
    this.cdrBusy = true;
    try {
      // A backlog is drained read window by read window, each in posts that fit the bot's limits; the
      // position advances after every delivered post. Skipped lines and refused calls are counted when the
      // position passes them: a failed post re-reads (and re-posts) from the last committed position.
      for (let round = 0; round < 16 && !this.stopped; round++) {
        const got = this.cdr.read();
        if (!got) return;
        let k = 0;
        const passed = (offset: number): void => {
          const from = k;
          while (k < got.skippedEnds.length && got.skippedEnds[k]! <= offset) k++;
          if (k > from) {
            this.cdrSkipped += k - from;
            this.log('warn', 'CDR lines skipped (unparsable or longer than the read window)', { count: k - from });
          }
        };
        for (let i = 0; i < got.calls.length; ) {
          let bytes = 0;
          let j = i;
          while (j < got.calls.length && j - i < CDR_CHUNK_CALLS) {
            const b = Buffer.byteLength(JSON.stringify(got.calls[j])) + 1;
            if (j > i && bytes + b > this.cdrChunkBytes) break;
            bytes += b;
            j++;
          }
          const refused = await this.deliverCdr(got.calls.slice(i, j));
          this.cdrBackoff = BACKOFF_START_MS;
          this.cdr.commit(this.cdr.positionAt(got.ino, got.ends[j - 1]!));
          this.cdrSkipped += refused;
          passed(got.ends[j - 1]!);
          i = j;
        }
        this.cdr.commit(got.next);
        passed(Infinity);
        if (!got.more) return;
      }
    } catch (e) {
      // The same calls are posted again after the back-off (the position was not advanced past them).
      const retryMs = this.cdrBackoff;
      this.cdrRetryAt = Date.now() + retryMs;
      this.cdrBackoff = nextBackoff(retryMs, this.cfg.backoffMaxMs);
      this.log('warn', 'CDR upload failed; will retry', { err: (e as Error).message, retryMs });
    } finally {
      this.cdrBusy = false;
    }
  }

  /**
   * Post calls. A 400/413 refuses something in the post for good: it is halved down to single calls, and a
   * single refused call is skipped (returned in the count). Anything else (401, 403, 404, 429, 5xx, no
   * answer) throws: the caller backs off and posts the same calls again.
   */
  private async deliverCdr(calls: unknown[]): Promise<number> {
    const body = JSON.stringify({ nodeId: this.cfg.nodeId, calls });
    const res = await fetch(this.url('/api/v1/agent/cdr'), { method: 'POST', headers: this.headers({ 'content-type': 'application/json' }), body, signal: AbortSignal.timeout(15_000) });
    const text = await res.text().catch(() => '');
    if (res.ok) return 0;
    if (res.status !== 400 && res.status !== 413) {
      let error: unknown;
      try {
        error = (JSON.parse(text) as { error?: unknown }).error;
      } catch {
        /* not JSON (a proxy's page) */
      }
      throw new Error(`HTTP ${res.status}${typeof error === 'string' ? `: ${error.slice(0, 200)}` : ''}`);
    }
    if (calls.length > 1) {
      // Smaller posts from now on when the body was too large.
      if (res.status === 413) this.cdrChunkBytes = Math.max(4096, Math.floor(Buffer.byteLength(body) / 2));
      const mid = Math.ceil(calls.length / 2);
      const a = await this.deliverCdr(calls.slice(0, mid));
      return a + (await this.deliverCdr(calls.slice(mid)));
    }
    this.log('error', 'CDR call refused by the bot; skipped', { status: res.status, error: text.slice(0, 300), callId: (calls[0] as { callId?: string }).callId });
    return 1;
  }
}
