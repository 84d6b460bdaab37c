// The apply side of `switchboard agent` on a DHCP/proxy server (a node enrolled with role `apply`): it pulls the
// newest apply generation for its node (ETag, like the sensor list), runs each daemon's own checker on this
// machine, swaps all files or none, runs the reload commands from ITS OWN config (`apply.backends` in
// agent.yaml; the bot sends file contents only, never a command or a path) and reports the outcome, which the
// bot posts where the apply was asked. What it applied and whether the bot has the outcome is kept on disk
// (apply-state.json in spoolDir, 0600), so a generation is applied once even when the bot or the agent restarts
// in the middle, and an outcome the bot did not take is reported again until it does.
import fs from 'node:fs';
import path from 'node:path';
import type { BackendName, BackendSettings, RenderedFile } from '../dhcp/backends/types.js';
import { BACKEND_SETTING_KEYS, type DhcpBackends } from '../dhcp/backends/index.js';
import { AGENT_BACKENDS } from './backends.js';
import { installAll, type PlanItem } from '../dhcp/backends/engine.js';
import type { RenderSubnet } from '../../drivers/dhcp/types.js';
import { writePrivate } from './private-file.js';

export interface ApplyAgentConfig {
  pollMs: number;
  /** The backends this machine applies, with its own paths, checkers and reload commands. */
  backends: Record<BackendName, BackendSettings>;
}

const isArgv = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0);

/** Checks agent.yaml's `apply:` section against the loaded backends (each one's defaults under the admin's keys); every problem names the key. */
export function applyConfigFrom(raw: unknown, bad: (msg: string) => never, known: DhcpBackends = AGENT_BACKENDS): ApplyAgentConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return bad('apply must be a mapping: {backends: {isc: {path, check, reload}, …}, pollMs}');
  const r = raw as { pollMs?: unknown; backends?: unknown };
  const pollMs = r.pollMs === undefined ? 10_000 : Number(r.pollMs);
  if (!(pollMs >= 500)) bad('apply.pollMs must be a number of milliseconds, at least 500');
  if (!r.backends || typeof r.backends !== 'object' || Array.isArray(r.backends))
    return bad('apply.backends must name the backends this machine applies, e.g. {isc: {reload: [systemctl, restart, isc-dhcp-server]}}');
  const backends: Record<BackendName, BackendSettings> = {};
  for (const [name, v] of Object.entries(r.backends as Record<string, unknown>)) {
    const unknown = known.unknown(name, `apply.backends.${name}`);
    if (unknown) bad(unknown);
    const s = { ...structuredClone(known.get(name)!.defaults), ...((v ?? {}) as BackendSettings) };
    for (const k of Object.keys(s)) if (!BACKEND_SETTING_KEYS.includes(k)) bad(`apply.backends.${name}.${k}: unknown key (${BACKEND_SETTING_KEYS.join(', ')})`);
    for (const k of ['path', 'dir', 'socket'] as const) if (s[k] !== undefined && (typeof s[k] !== 'string' || !path.isAbsolute(s[k]))) bad(`apply.backends.${name}.${k} must be an absolute path`);
    for (const k of ['check', 'reload'] as const)
      if (s[k] !== undefined && !(Array.isArray(s[k]) && (s[k].length === 0 || isArgv(s[k])))) bad(`apply.backends.${name}.${k} must be a command as a list of words, e.g. [systemctl, reload, squid]`);
    backends[name] = s;
  }
  return { pollMs, backends };
}

interface Payload {
  generation: number;
  dryRun: boolean;
  backends: { name: string; files: RenderedFile[] }[];
  subnets: RenderSubnet[];
  summary: string;
  hosts: number;
  notes: string;
}

interface State {
  server: string;
  nodeId: number;
  generation: number;
  phase: 'started' | 'finished';
  outcome?: { ok: boolean; text: string };
  reported: boolean;
}

export const APPLY_STATE_FILE = 'apply-state.json';
const SUBNET_FIELD = /^[0-9./ -]*$/;

export class ApplyRunner {
  private etag = '';
  private busy: Promise<void> | null = null;
  private timer?: NodeJS.Timeout;
  readonly stateFile: string;

  constructor(
    private cfg: ApplyAgentConfig,
    private opts: {
      server: string;
      nodeId: number;
      spoolDir: string;
      headers: (extra?: Record<string, string>) => Record<string, string>;
      log: (level: string, msg: string, extra?: Record<string, unknown>) => void;
    },
    private known: DhcpBackends = AGENT_BACKENDS,
  ) {
    this.stateFile = path.join(opts.spoolDir, APPLY_STATE_FILE);
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.cfg.pollMs);
    void this.poll();
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.busy ?? Promise.resolve();
  }

  /** One look at the bot (never two at once; never throws). Resolves when it is done. */
  poll(): Promise<void> {
    this.busy ??= this.pollOnce()
      .catch((e) => this.opts.log('warn', 'apply: the bot could not be asked or told; trying again later', { err: (e as Error).message }))
      .finally(() => (this.busy = null));
    return this.busy;
  }

  private loadState(): State | null {
    try {
      const s = JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as State;
      return s.server === this.opts.server && s.nodeId === this.opts.nodeId ? s : null;
    } catch {
      return null;
    }
  }

  private saveState(s: State): void {
    fs.mkdirSync(this.opts.spoolDir, { recursive: true });
    writePrivate(this.stateFile, JSON.stringify(s));
  }

  private async pollOnce(): Promise<void> {
    let state = this.loadState();
    if (state && state.phase === 'started') {
      // This agent stopped in the middle of an apply: it is not run again (the reload may have run); the bot is told.
      state = {
        ...state,
        phase: 'finished',
        outcome: {
          ok: false,
          text: `The agent stopped while applying generation ${state.generation}; it was not run again. Check the live files and the daemons on this machine, then run dhcp apply again.`,
        },
        reported: false,
      };
      this.saveState(state);
    }
    if (state && !state.reported) await this.report(state);
    const res = await fetch(`${this.opts.server}/api/v1/agent/apply`, { headers: this.opts.headers(this.etag ? { 'if-none-match': this.etag } : {}), signal: AbortSignal.timeout(30_000) });
    if (res.status === 304) return;
    if (!res.ok) throw new Error(`GET /api/v1/agent/apply: HTTP ${res.status} ${(await res.text().catch(() => '')).slice(0, 300)}`);
    const etag = res.headers.get('etag') ?? '';
    const body = (await res.json()) as Payload | { generation: null };
    if (body.generation === null) {
      this.etag = etag;
      return;
    }
    const p = body as Payload;
    if (state && p.generation <= state.generation) {
      // Applied already; the bot has not taken the outcome yet (or lost it): say it again.
      if (state.generation === p.generation) await this.report({ ...state, reported: false });
      this.etag = etag;
      return;
    }
    const started: State = { server: this.opts.server, nodeId: this.opts.nodeId, generation: p.generation, phase: 'started', reported: false };
    this.saveState(started);
    const outcome = await this.applyGeneration(p);
    const done: State = { ...started, phase: 'finished', outcome };
    this.saveState(done);
    this.opts.log(outcome.ok ? 'info' : 'warn', `apply: generation ${p.generation} ${outcome.ok ? 'applied' : 'failed'}`, { text: outcome.text.slice(0, 500) });
    this.etag = etag;
    await this.report(done);
  }

  /** Check, swap all or none, reload — with this machine's own settings. Never throws. */
  async applyGeneration(p: Payload): Promise<{ ok: boolean; text: string }> {
    try {
      if (!Array.isArray(p.backends) || !Array.isArray(p.subnets)) return { ok: false, text: 'The bot sent an apply this agent cannot read (no backends or subnets); nothing was changed.' };
      for (const s of p.subnets) {
        if (![s.network, s.netmask, s.pool ?? '', s.gateway ?? ''].every((v) => typeof v === 'string' && SUBNET_FIELD.test(v)))
          return { ok: false, text: `The bot sent a subnet this agent will not write into a checker config (${JSON.stringify(s).slice(0, 100)}); nothing was changed.` };
      }
      const plan: PlanItem[] = [];
      const missing: string[] = [];
      for (const b of p.backends) {
        const settings = Object.hasOwn(this.cfg.backends, b.name) ? this.cfg.backends[b.name] : undefined;
        const backend = this.known.get(b.name);
        if (!settings || !backend) {
          missing.push(b.name);
          continue;
        }
        if (!Array.isArray(b.files) || b.files.length !== backend.targets.length || b.files.some((f, i) => f.target !== backend.targets[i] || typeof f.text !== 'string'))
          return { ok: false, text: `The bot sent files for ${b.name} that do not match the backend (${backend.targets.join(', ')}); nothing was changed.` };
        plan.push({ backend, settings, files: b.files });
      }
      if (missing.length)
        return {
          ok: false,
          text: `This agent's config does not apply ${missing.join(', ')} (add apply.backends.${missing[0]} to its agent.yaml, or assign the backend to another node); nothing was changed.`,
        };
      const r = await installAll(plan, { subnets: p.subnets, dryRun: p.dryRun, summary: p.summary, notes: p.notes, what: ` (${p.hosts} hosts)` });
      return { ok: r.ok, text: r.text };
    } catch (e) {
      return { ok: false, text: `The apply failed on the agent: ${(e as Error).message}` };
    }
  }

  private async report(s: State): Promise<void> {
    if (!s.outcome) return;
    const res = await fetch(`${this.opts.server}/api/v1/agent/apply/${s.generation}`, {
      method: 'POST',
      headers: this.opts.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ ok: s.outcome.ok, text: s.outcome.text.slice(0, 20_000) }),
      signal: AbortSignal.timeout(30_000),
    });
    if (res.status === 404) this.opts.log('warn', `apply: the bot does not know generation ${s.generation} (removed?); its outcome is dropped`, {});
    else if (!res.ok) throw new Error(`POST /api/v1/agent/apply/${s.generation}: HTTP ${res.status}`);
    this.saveState({ ...s, reported: true });
  }
}
