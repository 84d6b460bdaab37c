// `switchboard agent`: the small process on each PBX. Needs only its own YAML config (server URL, node id,
// token; see config.ts); no store, no bot config. Fetches its sensors (ETag) and keeps the last list on disk
// (run when the bot is unreachable at start), runs what its config allows (policy.ts) on their intervals with
// jitter, spools every result on disk and uploads in order with exponential back-off, sends heartbeats with
// host facts, and moves CDRs (the cdr-csv file or FreePBX's CDR database) to the bot.
import { v7 as uuidv7 } from 'uuid';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VERSION } from '../version.js';
import type { AgentConfigBody, AgentResult, AgentSensor, CheckResult, ResultsBody } from '../wire/results.js';
import type { SensorKinds } from '../wire/sensor-kinds.js';
import { runCheck, runCommand } from './checks.js';
import { AGENT_KINDS } from './kinds.js';
import { Spool } from './spool.js';
import { CdrTail, cdrLayout } from './cdr.js';
import { CdrDbReader } from './cdr-db.js';
import { BACKOFF_START_MS, CdrPump, csvSource, nextBackoff, type CdrSource } from './cdr-pump.js';
import { cdrDbPassword, type AgentConfig } from './config.js';
import { policyFrom, refusedOutput, vet, type AgentPolicy } from './policy.js';
import { SensorCache } from './sensor-cache.js';
import { ApplyRunner } from './apply.js';

export { DEFAULT_AGENT_CONFIG, enroll, loadAgentConfig, type AgentConfig } from './config.js';
export { BACKOFF_START_MS, CDR_CHUNK_BYTES, CDR_CHUNK_CALLS, nextBackoff } from './cdr-pump.js';

/** The Asterisk version is asked for at most this often (it runs `asterisk -rx`). */
export const ASTERISK_FACT_MS = 10 * 60_000;
/** A config fetch that takes longer is given up (a bot that does not answer at all). */
export const CONFIG_FETCH_TIMEOUT_MS = 15_000;

/** Delay to a sensor's next run: its interval ±10 % jitter, less the time the run took, at least 100 ms. */
export function nextRunDelay(intervalMs: number, elapsedMs: number, rand: () => number = Math.random): number {
  const jitter = intervalMs * 0.1 * (rand() * 2 - 1);
  return Math.max(100, intervalMs + jitter - elapsedMs);
}

/** A result as spooled and posted. */
type SpooledResult = AgentResult;

export type AgentLog = (level: string, msg: string, extra?: Record<string, unknown>) => void;

const stderrLog: AgentLog = (level, msg, extra = {}) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...extra })}\n`);
};

export class Agent {
  private spool: Spool;
  private sensors = new Map<number, AgentSensor>();
  private timers = new Map<number, NodeJS.Timeout>();
  private etag = '';
  private stopped = false;
  private cdr?: CdrPump;
  private cdrSource?: CdrSource;
  private cdrEnabled = true;
  private wake?: () => void;
  private facts: Record<string, unknown> = {};
  private asteriskAt = 0;
  private factsBusy = false;
  private others: NodeJS.Timeout[] = [];
  private log: AgentLog;
  private policy: AgentPolicy;
  private cache: SensorCache;
  /** The DHCP/proxy apply side, when agent.yaml has an `apply:` section (a node with role apply). */
  readonly applier?: ApplyRunner;
  /** What was last logged about each sensor's vetting (so a refusal is logged once, not every run). */
  private vetted = new Map<number, string>();

  /** The kinds this agent runs (default: src/agent/sensors/). */
  private kinds: SensorKinds;

  constructor(
    private cfg: AgentConfig,
    opts: { log?: AgentLog; kinds?: SensorKinds } = {},
  ) {
    this.spool = new Spool(cfg.spoolDir, cfg.spoolMaxBytes);
    this.log = opts.log ?? stderrLog;
    this.kinds = opts.kinds ?? AGENT_KINDS;
    this.policy = policyFrom(cfg, this.kinds);
    this.cache = new SensorCache(cfg.spoolDir, cfg.server.replace(/\/$/, ''), cfg.nodeId);
    if (cfg.apply)
      this.applier = new ApplyRunner(cfg.apply, { server: cfg.server.replace(/\/$/, ''), nodeId: cfg.nodeId, spoolDir: cfg.spoolDir, headers: (extra) => this.headers(extra), log: this.log });
  }

  /** Results waiting in the spool, and how many were dropped and not yet reported to the bot. */
  get spoolState(): { size: number; dropped: number } {
    return { size: this.spool.size(), dropped: this.spool.dropped };
  }

  /** CDR records given up on (unreadable, or refused by the bot even alone), counted once each. */
  get cdrSkipped(): number {
    return this.cdr?.skipped ?? 0;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.cfg.token}`, ...extra };
  }

  private url(p: string): string {
    return `${this.cfg.server.replace(/\/$/, '')}${p}`;
  }

  async start(): Promise<void> {
    // The saved list first: checks run even if the bot does not answer now.
    const { saved, problem } = this.cache.load();
    if (problem) this.log('warn', 'saved sensor list not used', { file: this.cache.file, problem });
    if (saved) {
      this.apply(saved.sensors, saved.cdr, saved.etag);
      this.log('info', 'running the saved sensor list until the bot answers', { sensors: saved.sensors.length, etag: saved.etag, savedAt: new Date(saved.savedAt).toISOString() });
    }
    await this.refreshFacts();
    await this.fetchConfig().catch((e) =>
      this.log('warn', saved ? 'config fetch failed; running the saved sensor list' : 'config fetch failed and no sensor list is saved; will retry', { err: (e as Error).message }),
    );
    this.others.push(setInterval(() => void this.fetchConfig().catch((e) => this.log('warn', 'config fetch failed', { err: (e as Error).message })), this.cfg.configPollMs));
    this.others.push(
      setInterval(() => {
        void this.refreshFacts();
        this.kick();
      }, this.cfg.heartbeatMs),
    );
    this.startCdr();
    this.applier?.start();
    void this.uploadLoop();
  }

  private startCdr(): void {
    const source = this.cfg.cdrSource ?? 'csv';
    if (source === 'off') return;
    try {
      fs.mkdirSync(this.cfg.spoolDir, { recursive: true });
      let pollMs = this.cfg.cdrPollMs;
      if (source === 'mysql') {
        const db = this.cfg.cdrDb!;
        this.cdrSource = new CdrDbReader(db, cdrDbPassword(db), path.join(this.cfg.spoolDir, 'cdr-db-position.json'), this.cfg.cdrTimezone);
        pollMs = db.pollMs;
      } else {
        this.cdrSource = csvSource(new CdrTail(this.cfg.cdrPath, path.join(this.cfg.spoolDir, 'cdr-position.json'), this.cfg.cdrTimezone, cdrLayout(this.cfg.cdrColumns)));
      }
      const post = (body: string) => fetch(this.url('/api/v1/agent/cdr'), { method: 'POST', headers: this.headers({ 'content-type': 'application/json' }), body, signal: AbortSignal.timeout(15_000) });
      this.cdr = new CdrPump(this.cdrSource, post, this.cfg.nodeId, this.cfg.backoffMaxMs, this.log, () => this.stopped);
      this.others.push(setInterval(() => void (this.cdrEnabled && this.cdr?.pump()), pollMs));
    } catch (e) {
      this.log('warn', 'CDR source disabled', { source, err: (e as Error).message });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    for (const t of this.others) clearInterval(t);
    await this.applier?.stop();
    this.kick();
    await this.cdrSource?.close();
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
    const res = await fetch(this.url('/api/v1/agent/config'), { headers: this.headers(this.etag ? { 'if-none-match': this.etag } : {}), signal: AbortSignal.timeout(CONFIG_FETCH_TIMEOUT_MS) });
    if (res.status === 304) return;
    if (!res.ok) throw new Error(`config: HTTP ${res.status}`);
    const body = (await res.json()) as AgentConfigBody;
    const etag = res.headers.get('etag') ?? '';
    this.apply(body.sensors, body.cdr, etag);
    try {
      this.cache.save(etag, body.sensors, body.cdr);
    } catch (e) {
      this.log('warn', 'sensor list could not be saved', { file: this.cache.file, err: (e as Error).message });
    }
    this.log('info', 'sensor list loaded', { sensors: this.sensors.size, etag });
  }

  /** Take a sensor list: unchanged sensors keep their timer, changed ones restart, removed ones stop. */
  private apply(sensors: AgentSensor[], cdr: { enabled?: boolean } | undefined, etag: string): void {
    this.etag = etag;
    this.cdrEnabled = cdr?.enabled !== false;
    const next = new Map<number, AgentSensor>();
    for (const s of sensors) {
      const old = this.sensors.get(s.id);
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
  }

  /** Run one sensor as the agent's config allows: refused → UNKNOWN with the reason, nothing run. */
  private async runVetted(s: AgentSensor): Promise<CheckResult> {
    const v = vet(s, this.policy);
    const note = v.ok ? (v.ignored.length ? `ignored ${v.ignored.join(', ')}` : '') : `refused: ${v.reason}`;
    if (note && this.vetted.get(s.id) !== note) {
      this.log('warn', v.ok ? "sensor overrides ignored (not allowed by the agent's config)" : "sensor refused by the agent's config", {
        sensor: s.name,
        kind: s.kind,
        ...(v.ok ? { ignored: v.ignored } : { reason: v.reason }),
      });
    }
    this.vetted.set(s.id, note);
    if (!v.ok) return { status: 3, output: refusedOutput(v.reason), perfdata: [] };
    const r = await runCheck(v.sensor, this.kinds);
    return v.ignored.length ? { ...r, output: `${r.output} (ignored by the agent's config: ${v.ignored.join(', ')})` } : r;
  }

  private schedule(s: AgentSensor, delay: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      const at = Date.now();
      void (async () => {
        try {
          const r = await this.runVetted(s);
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
        const asked = (e as { retryAfterMs?: number }).retryAfterMs;
        const wait = asked ? Math.min(this.cfg.backoffMaxMs, Math.max(backoff, asked)) : backoff;
        this.log('warn', 'upload failed; spooling', { err: (e as Error).message, spooled: this.spool.size(), retryMs: wait });
        await new Promise((r) => setTimeout(r, wait));
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
      body: JSON.stringify({ nodeId: this.cfg.nodeId, results: batch, dropped, facts: this.facts, clock: Date.now() } satisfies ResultsBody),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text().catch(() => '');
    let body: { rejected?: { id?: string; reason?: string }[]; code?: string; error?: string } = {};
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
    if ((res.status !== 400 && res.status !== 413) || !batch.length) {
      // A busy bot (503/429) says when to come back; the results stay in the spool meanwhile.
      const after = Number(res.headers.get('retry-after'));
      throw Object.assign(
        new Error(`HTTP ${res.status}${body.code ? ` ${body.code}` : ''}${body.error ? `: ${body.error}` : ''}`),
        Number.isFinite(after) && after > 0 ? { retryAfterMs: after * 1000 } : {},
      );
    }
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
}
