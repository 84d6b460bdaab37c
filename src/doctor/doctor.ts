// `switchboard doctor` and the `doctor` chat command: checks an install and says, per row, OK / WARN / FAIL and
// for every row that is not OK what to do. Rows: config valid; store reachable and migrated; public URL set and
// not loopback; each enabled chat platform's own checks (its descriptor's `doctor`: Slack auth.test, Telegram
// getMe, Discord /users/@me against the configured API base, and a non-empty allow-list); DHCP/proxy checkers present (or
// the apply agent that owns a backend connected); SMTP reachable; data dir permissions; secrets files 0600.
// Nothing secret is printed: tokens only go to their own API, and every detail passes the scrubber.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { openStore, type DB, type Store } from '../store/db.js';
import { pendingMigrations } from '../store/migrate.js';
import { isLoopbackUrl } from '../http/base-url.js';
import { registerSecret, scrub } from '../secrets.js';
import { CHAT_PLATFORMS, registerChatSecrets } from '../chat/feature.js';
import { platformEnabled } from '../chat/platform.js';
import { DhcpBackends } from '../dhcp/backends/index.js';

export type DoctorStatus = 'OK' | 'WARN' | 'FAIL';
export interface DoctorRow {
  check: string;
  status: DoctorStatus;
  detail: string;
  /** What to do (rows that are not OK). */
  fix?: string;
}

export interface DoctorOptions {
  /** Loads the config (throws ConfigError when it is not valid). */
  loadConfig: () => Config;
  /** The config file in use, if any (its permissions are checked when it holds secrets). */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** A store already open (the chat command); otherwise doctor opens its own and closes it. */
  db?: DB;
  store?: Store;
  /** Extra secrets files to check (e.g. the systemd EnvironmentFile). */
  secretFiles?: string[];
  /** An apply agent counts as connected when heard from within this (ms). */
  agentFreshMs?: number;
  timeoutMs?: number;
}

const SECRETS_ENV_FILE = '/etc/switchboard/switchboard.env';

/** Runs every check; never throws. */
export async function runDoctor(o: DoctorOptions): Promise<DoctorRow[]> {
  const rows: DoctorRow[] = [];
  const add = (check: string, status: DoctorStatus, detail: string, fix?: string) => rows.push({ check, status, detail: scrub(detail), ...(status !== 'OK' && fix ? { fix: scrub(fix) } : {}) });
  let cfg: Config;
  try {
    cfg = o.loadConfig();
    add('config valid', 'OK', o.configFile ? `${o.configFile} and the environment` : 'environment and defaults');
  } catch (e) {
    add('config valid', 'FAIL', (e as Error).message, 'correct the key named above in the config file or environment; the other checks need a valid config');
    return rows;
  }
  registerChatSecrets(cfg.chat);
  if (cfg.monitor.mail.password) registerSecret(cfg.monitor.mail.password);
  const timeoutMs = o.timeoutMs ?? 10_000;

  // Store
  let db = o.db;
  let own: Store | undefined;
  if (!db) {
    const sqlitePath = path.join(cfg.dataDir, 'switchboard.sqlite');
    if (!cfg.databaseUrl && !fs.existsSync(sqlitePath)) {
      add('store reachable and migrated', 'FAIL', `no store yet: ${sqlitePath} does not exist`, 'run `switchboard migrate` (or start the bot once), or set DATABASE_URL');
    } else {
      try {
        own = openStore({ databaseUrl: cfg.databaseUrl, sqlitePath, poolSize: 1 });
        db = own.db;
      } catch (e) {
        add('store reachable and migrated', 'FAIL', `cannot open the store: ${(e as Error).message}`, 'check DATABASE_URL (host, port, user, database) and that the server is running');
      }
    }
  }
  let storeOk = false;
  if (db) {
    try {
      const pending = await withTimeout(pendingMigrations(o.store ?? own ?? ({ db, engine: 'sqlite' } as Store)), timeoutMs, 'the store did not answer');
      if (pending.length)
        add(
          'store reachable and migrated',
          'FAIL',
          `reachable; ${pending.length} migration(s) not applied (${pending.slice(0, 3).join(', ')}${pending.length > 3 ? ', …' : ''})`,
          'run `switchboard migrate`',
        );
      else {
        add('store reachable and migrated', 'OK', `${cfg.databaseUrl ? 'MySQL/MariaDB' : 'SQLite'}, all migrations applied`);
        storeOk = true;
      }
    } catch (e) {
      add('store reachable and migrated', 'FAIL', `cannot read the store: ${(e as Error).message}`, 'check DATABASE_URL and that the database server is running and reachable from here');
    }
  }

  // Public URL
  const pub = cfg.http.publicUrl;
  if (!pub)
    add(
      'public URL',
      'FAIL',
      `http.publicUrl is not set: phones, agents and labels get http://${cfg.http.host}:${cfg.http.port}`,
      'set SWITCHBOARD_PUBLIC_URL (http.publicUrl) to the address phones and PBX agents reach, e.g. http://10.20.0.5:8080',
    );
  else if (isLoopbackUrl(pub)) add('public URL', 'FAIL', `${pub} is a loopback address; nothing else can reach it`, 'set SWITCHBOARD_PUBLIC_URL to an address other machines reach');
  else add('public URL', 'OK', pub);

  // Chat platforms
  // Chat platforms: each one that is on checks itself (its descriptor's `doctor`).
  const chat = cfg.chat as unknown as Record<string, Record<string, unknown>>;
  const on = CHAT_PLATFORMS.filter(({ name, platform }) => platformEnabled(platform, chat[name] ?? {}));
  // Probed at once, reported in the platforms' order.
  const found = await Promise.all(
    on.map(async ({ name, platform }) => {
      const mine: Parameters<typeof add>[] = [];
      await platform.doctor?.(chat[name] ?? {}, (...row) => void mine.push(row), timeoutMs);
      return mine;
    }),
  );
  for (const row of found.flat()) add(...row);
  if (!on.length) {
    const tokens = CHAT_PLATFORMS.flatMap(({ platform }) =>
      Object.entries(platform.config.env ?? {})
        .filter(([, key]) => key === 'botToken')
        .map(([variable]) => variable),
    );
    add(
      'chat platforms',
      'WARN',
      'no chat platform is enabled: only the web console and `switchboard exec` take commands',
      `set ${tokens.join(', ').replace(/, ([^,]*)$/, ' or $1')} (README, Chat platforms)`,
    );
  }

  // DHCP / proxy
  await checkDhcp(cfg, db && storeOk ? db : undefined, add, o.agentFreshMs ?? 5 * 60_000);

  // SMTP
  await checkSmtp(cfg, add, timeoutMs);

  // Data dir
  checkDataDir(cfg.dataDir, add);

  // Secrets files
  const files = [path.join(cfg.dataDir, 'provision.key'), cfg.renew.bootstrap.passwordFile, ...(o.secretFiles ?? [SECRETS_ENV_FILE])].filter((f): f is string => !!f && fs.existsSync(f));
  if (o.configFile && fs.existsSync(o.configFile) && configHoldsSecrets(o.configFile)) files.push(o.configFile);
  const open = files.filter((f) => (fs.statSync(f).mode & 0o077) !== 0);
  if (!files.length) add('secrets files 0600', 'OK', 'no secrets files here');
  else if (open.length) add('secrets files 0600', 'FAIL', `readable by others: ${open.map((f) => `${f} (${(fs.statSync(f).mode & 0o777).toString(8)})`).join(', ')}`, `chmod 600 ${open.join(' ')}`);
  else add('secrets files 0600', 'OK', files.join(', '));

  await own?.close().catch(() => undefined);
  return rows;
}

type Add = (check: string, status: DoctorStatus, detail: string, fix?: string) => void;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

/** Where argv[0] resolves (absolute, or the first match in PATH that is executable), or null. */
export function findExecutable(cmd: string, envPath = process.env.PATH ?? ''): string | null {
  const ok = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (cmd.includes('/')) return ok(cmd) ? cmd : null;
  for (const dir of envPath.split(':').filter(Boolean)) if (ok(path.join(dir, cmd))) return path.join(dir, cmd);
  return null;
}

async function checkDhcp(cfg: Config, db: DB | undefined, add: Add, freshMs: number): Promise<void> {
  let known: DhcpBackends;
  let b: ReturnType<DhcpBackends['resolveConfig']>;
  try {
    known = await DhcpBackends.load(...cfg.dhcp.backendDirs);
    b = known.resolveConfig(structuredClone(cfg.dhcp.backends));
  } catch (e) {
    add('DHCP backends', 'FAIL', (e as Error).message, 'fix dhcp.backends / dhcp.backendDirs: name only backends whose files are loaded');
    return;
  }
  const nodes = db
    ? await db
        .selectFrom('mon_nodes')
        .select(['name', 'apply_targets', 'last_seen', 'token_hash'])
        .where('role', '=', 'apply')
        .where('enabled', '=', 1)
        .execute()
        .catch(() => [])
    : [];
  const owned = new Set(nodes.flatMap((n) => (n.apply_targets ?? '').split(',').filter(Boolean)));
  let any = false;
  for (const backend of known.all()) {
    const name = backend.name;
    const s = b[name]!;
    if (!s.enabled || owned.has(name)) continue;
    any = true;
    if (backend.probe) {
      const p = await backend.probe(s);
      add(`${name} ${s.socket ? 'socket' : 'probe'}`, p.ok ? 'OK' : 'FAIL', p.detail, p.hint);
      continue;
    }
    if (!s.check?.length) {
      add(`${name} checker`, 'WARN', `dhcp.backends.${name}.check is empty: files are installed unchecked`, `set dhcp.backends.${name}.check to the daemon's own checker`);
      continue;
    }
    const found = findExecutable(s.check[0]!);
    if (found) add(`${name} checker`, 'OK', found);
    else
      add(
        `${name} checker`,
        'FAIL',
        `${s.check[0]} (dhcp.backends.${name}.check) is not installed or not executable here`,
        `${backend.installHint ? `install ${backend.installHint} here` : "install the daemon's checker here"}, or assign the backend to an apply agent on the server that runs the daemon (monitor enroll <name> role=apply targets=${name})`,
      );
  }
  for (const n of nodes) {
    any = true;
    const age = n.last_seen ? Date.now() - n.last_seen : Infinity;
    if (!n.token_hash)
      add(
        `apply agent ${n.name}`,
        'FAIL',
        `applies ${n.apply_targets}; not enrolled yet`,
        `run switchboard agent enroll on that server with the code from monitor enroll (or monitor token rotate ${n.name})`,
      );
    else if (age > freshMs)
      add(
        `apply agent ${n.name}`,
        'FAIL',
        `applies ${n.apply_targets}; ${n.last_seen ? `not heard from for ${Math.round(age / 60_000)} min` : 'never connected'}`,
        'check `systemctl status switchboard-agent` and its log on that server, and that it reaches the public URL',
      );
    else add(`apply agent ${n.name}`, 'OK', `applies ${n.apply_targets}; connected ${Math.round(age / 1000)} s ago`);
  }
  if (!any)
    add(
      'DHCP/proxy apply',
      'WARN',
      'no DHCP/proxy backend is enabled and no apply agent is enrolled: dhcp apply has nothing to write',
      'enable dhcp.backends.<name> here, or enrol an apply agent (monitor enroll <name> role=apply targets=…)',
    );
}

async function checkSmtp(cfg: Config, add: Add, timeoutMs: number): Promise<void> {
  const m = cfg.monitor.mail;
  if (!m.host) {
    add('SMTP', 'WARN', 'monitor.mail.host is not set: alerts are not e-mailed', 'set SWITCHBOARD_SMTP_HOST (and monitor.mail.to) to e-mail alerts');
    return;
  }
  const { createTransport } = await import('nodemailer');
  const t = createTransport({
    host: m.host,
    port: m.port,
    secure: m.secure,
    tls: { rejectUnauthorized: m.tlsRejectUnauthorized },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    ...(m.user ? { auth: { user: m.user, pass: m.password } } : {}),
  });
  try {
    await t.verify();
    add('SMTP', 'OK', `${m.host}:${m.port} answered${m.user ? ' and accepted the login' : ''}`);
  } catch (e) {
    const err = e as Error & { code?: string };
    add(
      'SMTP',
      'FAIL',
      `${m.host}:${m.port}: ${err.code ? `${err.code} ` : ''}${err.message}`,
      'check monitor.mail.host/port/secure (SWITCHBOARD_SMTP_HOST/PORT), the login, and that this machine may reach it',
    );
  } finally {
    t.close();
  }
}

function checkDataDir(dir: string, add: Add): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    add('data dir', 'WARN', `${dir} does not exist yet (the first start creates it)`, `mkdir -p ${dir} && chmod 700 ${dir}, owned by the bot's user`);
    return;
  }
  if (!st.isDirectory()) return void add('data dir', 'FAIL', `${dir} is not a directory`, 'point dataDir (SWITCHBOARD_DATA_DIR) at a directory');
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    return void add('data dir', 'FAIL', `${dir} is not writable by this user`, `chown the directory to the bot's user (chown -R switchboard: ${dir})`);
  }
  const mode = st.mode & 0o777;
  if (mode & 0o002) add('data dir', 'FAIL', `${dir} is writable by everyone (${mode.toString(8)})`, `chmod 700 ${dir}`);
  else if (mode & 0o005) add('data dir', 'WARN', `${dir} is readable by everyone (${mode.toString(8)}); it holds the store and keys`, `chmod 700 ${dir}`);
  else add('data dir', 'OK', `${dir} (${mode.toString(8)})`);
}

/** A config file that sets a token, password or secret is a secrets file too. */
function configHoldsSecrets(file: string): boolean {
  try {
    return /(token|password|secret)\s*["']?\s*[:=]/i.test(fs.readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

/** The table: check | status | detail, then the fix under each row that is not OK. */
export function formatDoctor(rows: DoctorRow[]): string {
  const w = Math.max(...rows.map((r) => r.check.length), 5);
  const lines = rows.flatMap((r) => [`${r.status.padEnd(4)}  ${r.check.padEnd(w)}  ${r.detail}`, ...(r.fix ? [`${' '.repeat(6 + w)}  fix: ${r.fix}`] : [])]);
  const fails = rows.filter((r) => r.status === 'FAIL').length;
  const warns = rows.filter((r) => r.status === 'WARN').length;
  return `${lines.join('\n')}\n\n${fails ? `${fails} check(s) failed` : 'all checks passed'}${warns ? `, ${warns} warning(s)` : ''}.`;
}

export const doctorExitCode = (rows: DoctorRow[]): number => (rows.some((r) => r.status === 'FAIL') ? 1 : 0);
