// The agent's own YAML config (`/etc/switchboard/agent.yaml`): what `agent enroll` writes (server, node id,
// token) plus what the PBX admin sets — the spool, the CDR source, and what the agent may run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { registerSecret } from '../secrets.js';
import type { CdrTimezone } from './cdr.js';
import { cdrLayout } from './cdr.js';
import type { SensorKinds } from '../wire/sensor-kinds.js';
import { AGENT_KINDS } from './kinds.js';
import { writePrivate } from './private-file.js';
import { applyConfigFrom, type ApplyAgentConfig } from './apply.js';

export { DEFAULT_AGENT_CONFIG } from './defaults.js';

/** FreePBX's own CDR store (`asteriskcdrdb.cdr` on the PBX's MariaDB/MySQL). */
export interface CdrDbConfig {
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  /** A file holding the password (first line), or the name of an environment variable holding it. */
  passwordFile?: string;
  passwordEnv?: string;
  database: string;
  table: string;
  /** Rows are found by the time their call ended; a call longer than this (since it started) is missed. */
  lookbackHours: number;
  /** How late a row may be written after its call ended (cdr.conf batch mode holds rows up to `time`). */
  lateMinutes: number;
  pollMs: number;
}

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
  /** The time zone of the CDR timestamps: the PBX's local time (cdr-csv's default) or UTC (usegmtime=yes). */
  cdrTimezone: CdrTimezone;
  /** Where calls come from: the cdr-csv file (default), FreePBX's CDR database, or nowhere. */
  cdrSource?: 'csv' | 'mysql' | 'off';
  /** The CSV's column order when cdr.conf / cdr_custom.conf writes another layout than cdr-csv's default. */
  cdrColumns?: string[];
  cdrDb?: CdrDbConfig;
  /** What the agent runs (the PBX admin decides; see policy.ts): kinds, plugin directories, other commands. */
  allowKinds?: string[];
  pluginDirs?: string[];
  allowPlugins?: string[];
  denyPlugins?: string[];
  allowCommands?: boolean;
  /** On a DHCP/proxy server (node role `apply`): the backends this machine applies (see apply.ts). */
  apply?: ApplyAgentConfig;
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
  cdrSource: 'csv',
};

const CDR_DB_DEFAULTS = { database: 'asteriskcdrdb', table: 'cdr', lookbackHours: 24, lateMinutes: 10, pollMs: 5000 };

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0);
const IDENT = /^[A-Za-z_][A-Za-z0-9_$]{0,63}$/;

/** Check the admin's settings; every problem is a clear error naming the key. */
function validate(cfg: AgentConfig, file: string, kinds: SensorKinds): void {
  const bad = (msg: string): never => {
    throw new Error(`agent config ${file}: ${msg}`);
  };
  for (const k of ['server', 'nodeId', 'token'] as const) if (!cfg[k]) bad(`"${k}" is missing (run switchboard agent enroll first)`);
  if (cfg.cdrTimezone !== 'local' && cfg.cdrTimezone !== 'utc') bad(`cdrTimezone must be local or utc, not ${JSON.stringify(cfg.cdrTimezone)}`);
  if (!['csv', 'mysql', 'off'].includes(String(cfg.cdrSource))) bad(`cdrSource must be csv, mysql or off, not ${JSON.stringify(cfg.cdrSource)}`);
  if (typeof cfg.cdrColumns === 'string') cfg.cdrColumns = (cfg.cdrColumns as string).split(',').map((s) => s.trim());
  if (cfg.cdrColumns !== undefined) {
    if (!isStrings(cfg.cdrColumns)) bad('cdrColumns must be a list of column names, e.g. [accountcode, src, dst, …]');
    try {
      cdrLayout(cfg.cdrColumns);
    } catch (e) {
      bad(`cdrColumns: ${(e as Error).message}`);
    }
  }
  for (const k of ['allowKinds', 'pluginDirs', 'allowPlugins', 'denyPlugins'] as const)
    if (cfg[k] !== undefined && !(Array.isArray(cfg[k]) && (cfg[k].length === 0 || isStrings(cfg[k])))) bad(`${k} must be a list of names`);
  for (const k of cfg.allowKinds ?? []) if (!kinds.get(k)) bad(`allowKinds: unknown kind ${JSON.stringify(k)} (kinds: ${kinds.names().join(', ')})`);
  for (const d of cfg.pluginDirs ?? []) if (!path.isAbsolute(d)) bad(`pluginDirs: ${JSON.stringify(d)} is not an absolute path`);
  for (const k of ['allowPlugins', 'denyPlugins'] as const) for (const n of cfg[k] ?? []) if (n.includes('/')) bad(`${k}: ${JSON.stringify(n)} must be a plugin's file name, not a path`);
  if (cfg.allowCommands !== undefined && typeof cfg.allowCommands !== 'boolean') bad('allowCommands must be true or false');
  if (cfg.apply !== undefined) cfg.apply = applyConfigFrom(cfg.apply, bad);
  if (cfg.cdrSource === 'mysql') {
    const db = cfg.cdrDb as Partial<CdrDbConfig> | undefined;
    if (!db || typeof db !== 'object') return bad('cdrSource mysql needs cdrDb: {user, passwordFile or passwordEnv[, host, port, socketPath, database, table]}');
    if ('password' in db) bad('cdrDb.password is not read from this file: put the password in a file (cdrDb.passwordFile, mode 0600) or an environment variable (cdrDb.passwordEnv)');
    if (typeof db.user !== 'string' || !db.user) bad('cdrDb.user is missing');
    cfg.cdrDb = { ...CDR_DB_DEFAULTS, ...db } as CdrDbConfig;
    for (const k of ['database', 'table'] as const) if (!IDENT.test(cfg.cdrDb[k])) bad(`cdrDb.${k} ${JSON.stringify(cfg.cdrDb[k])} is not a plain table/database name`);
    for (const k of ['lookbackHours', 'lateMinutes', 'pollMs'] as const) if (!(Number(cfg.cdrDb[k]) > 0)) bad(`cdrDb.${k} must be a positive number`);
    if (!db.socketPath && !db.host) cfg.cdrDb.host = '127.0.0.1';
  }
}

/** The CDR database password, from its file or environment variable (registered with the log scrubber). */
export function cdrDbPassword(db: CdrDbConfig): string | undefined {
  let pw: string | undefined;
  if (db.passwordFile) {
    try {
      pw = fs.readFileSync(db.passwordFile, 'utf8').split(/\r?\n/)[0];
    } catch (e) {
      throw new Error(`cdrDb.passwordFile ${db.passwordFile} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else if (db.passwordEnv) {
    pw = process.env[db.passwordEnv];
    if (pw === undefined) throw new Error(`cdrDb.passwordEnv: the environment variable ${db.passwordEnv} is not set`);
  }
  if (pw) registerSecret(pw);
  return pw;
}

/** Read and check the agent's config; `allowKinds` must name kinds the agent has (`kinds`, default: its own). */
export function loadAgentConfig(file: string, kinds: SensorKinds = AGENT_KINDS): AgentConfig {
  let raw: Record<string, unknown>;
  try {
    raw = (YAML.parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cannot read agent config ${file}: ${(e as Error).message}`);
  }
  const cfg = { ...DEFAULTS, ...raw } as AgentConfig;
  validate(cfg, file, kinds);
  registerSecret(cfg.token);
  return cfg;
}

/** Trade a one-time enrolment code for the node's id and token and write the config file (mode 0600). */
export async function enroll(opts: { server: string; code: string; config: string }): Promise<{ nodeId: number; node: string }> {
  registerSecret(opts.code);
  const server = opts.server.replace(/\/$/, '');
  const res = await fetch(`${server}/api/v1/agent/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: opts.code, hostname: os.hostname() }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json().catch(() => ({}))) as { nodeId?: number; node?: string; token?: string; code?: string; error?: string };
  if (!res.ok || !body.token || !body.nodeId) throw new Error(`enrolment refused (${res.status}${body.code ? ` ${body.code}` : ''}): ${body.error ?? 'no token in the answer'}`);
  registerSecret(body.token);
  // The admin's settings and comments stay (the .deb installs a commented agent.yaml to enrol into).
  let doc = new YAML.Document({});
  try {
    const existing = YAML.parseDocument(fs.readFileSync(opts.config, 'utf8'));
    if (!existing.errors.length && (existing.contents === null || YAML.isMap(existing.contents))) doc = existing;
  } catch {
    /* new file */
  }
  fs.mkdirSync(path.dirname(path.resolve(opts.config)), { recursive: true });
  for (const [k, v] of Object.entries({ server, nodeId: body.nodeId, node: body.node, token: body.token })) if (v !== undefined) doc.set(k, v);
  // The token is written into a new 0600 file that replaces the old one by rename: an existing config
  // with wider permissions never holds it, not even for a moment.
  writePrivate(opts.config, doc.toString());
  return { nodeId: body.nodeId, node: body.node ?? '' };
}
