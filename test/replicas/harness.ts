// Several real `switchboard start` processes on one MariaDB database, and `switchboard exec` against it.
// Each replica has its own data dir, port and config file; all share DATABASE_URL, the store key and the
// public URL. As root, each replica runs in its own UTS namespace with its own host name (unshare --uts),
// so the replicas look like separate machines: "a dead process on this host" shortcuts never apply and the
// store's heartbeats and leases are what take over. Every child is tracked and killed in destroy() and,
// as a last resort, when the test worker exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { CLI, ROOT, tmpDir } from '../helpers/env.js';
import { createTestDatabase } from '../helpers/mysql.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { GaleraCluster } from '../galera/galera-cluster.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** Whether replicas can get their own host names (root with util-linux unshare). */
const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['--uts', 'true']).status === 0;

/**
 * A TCP port free on 127.0.0.1 right now, below the kernel's ephemeral range (20000-30999): a port the kernel
 * handed out for listen(0) may go to any outgoing connection (MariaDB clients) before the replica binds it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + crypto.randomInt(11_000);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

export interface HttpAnswer {
  status: number;
  body: Buffer;
  text: string;
  headers: Headers;
}

export async function httpGet(url: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, body, text: body.toString('utf8'), headers: r.headers };
}

/** Keeps the last `max` characters of a stream (enough to explain a failure, never the whole log). */
function tail(buf: string, add: string, max = 200_000): string {
  const s = buf + add;
  return s.length > max ? s.slice(s.length - max) : s;
}

export class Replica {
  child?: ChildProcess;
  stdout = '';
  stderr = '';
  /** Every stderr ever printed by this replica's starts (the admin-password lines live there). */
  allStderr = '';
  exited?: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly dataDir: string,
    readonly configFile: string,
    private env: NodeJS.ProcessEnv,
    readonly hostname: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  get running(): boolean {
    return this.pid !== undefined;
  }

  /** Spawns `switchboard start`; does not wait (see ready()). */
  start(extraEnv: NodeJS.ProcessEnv = {}): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.stdout = '';
    this.stderr = '';
    const env = { ...this.env, ...extraEnv };
    const node = [process.execPath, CLI, 'start'];
    // `exec` keeps the pid: signals sent to the child reach node itself.
    const [cmd, ...args] = canUnshare ? ['unshare', '--uts', '--', 'sh', '-c', `hostname "$SB_HOSTNAME" && exec "$@"`, 'sh', ...node] : node;
    const child = spawn(cmd!, args, { cwd: ROOT, env: { ...env, SB_HOSTNAME: this.hostname }, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.stdout!.on('data', (d: Buffer) => (this.stdout = tail(this.stdout, d.toString())));
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = tail(this.stderr, d.toString());
      this.allStderr = tail(this.allStderr, d.toString());
    });
    this.exited = new Promise((resolve) => child.once('close', (code) => (live.delete(child), resolve(code))));
    this.child = child;
  }

  /** Waits until the process printed that it runs and answers /healthz. */
  async ready(timeoutMs = 90_000): Promise<void> {
    await until(
      `${this.name} to start`,
      async () => {
        if (!this.running) throw new Error(`${this.name} exited (code ${this.child?.exitCode}, signal ${this.child?.signalCode}) while starting:\n${this.diagnostics()}`);
        if (!this.stderr.includes('is running.')) return false;
        const r = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
        return r?.status === 200;
      },
      timeoutMs,
      100,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${this.diagnostics()}`);
    });
  }

  /** The tail of this replica's output, for assertion messages. */
  diagnostics(chars = 4000): string {
    return `--- ${this.name} stderr ---\n${this.stderr.slice(-chars)}\n--- ${this.name} stdout ---\n${this.stdout.slice(-chars)}`;
  }

  private async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.exited) return true;
    const t = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    return (await Promise.race([this.exited, t])) !== 'timeout';
  }

  /** A clean stop (SIGTERM; a paused process is continued first); SIGKILL after 15 s. */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    c.kill('SIGCONT');
    c.kill('SIGTERM');
    if (!(await this.waitExit(15_000))) await this.kill();
  }

  async kill(): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    c.kill('SIGKILL');
    await this.waitExit(15_000);
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  get(p: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return httpGet(`${this.url}${p}`, headers);
  }
}

export interface ClusterOptions {
  replicas?: number;
  /** Extra config for replica i (0-based; i = -1 is exec's), merged over the common config. */
  config?: (i: number, dataDir: string) => Record<string, unknown>;
  /** Environment for every process (e.g. chat tokens, SWITCHBOARD_ADMIN_PASSWORD). */
  env?: NodeJS.ProcessEnv;
  /** Admin password of the console (default: a fixed one given to every replica; null: none, generated). */
  adminPassword?: string | null;
}

/** The runner's environment without anything that configures Switchboard or a chat platform. */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SWITCHBOARD_|SLACK_|TELEGRAM_|DISCORD_|DATABASE_URL$)/.test(k)));
}

export const ROOMS = ['general', 'support', 'alerts', 'calls', 'prov', 'jobs', 'apply', 'chat'];
export const CALLERID_TOKEN = 'replica-callerid-token';

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** The config every process gets: short job and schedule timings, rooms per test, caller ID, a DHCP backend. */
function baseConfig(dataDir: string): Record<string, unknown> {
  return {
    dataDir,
    http: { host: '127.0.0.1' },
    log: { level: 'info' },
    console: { rooms: ROOMS },
    jobs: { heartbeatMs: 250, staleAfterMs: 4000, editIntervalMs: 200 },
    monitor: { pruneCron: '*/4 * * * * *', staleCheckMs: 2000 },
    provision: { defaultServer: 'pbx.example.test' },
    dhcp: {
      subnets: [{ cidr: '10.0.0.0/24', pool: '10.0.0.100-10.0.0.200' }],
      callerid: { token: CALLERID_TOKEN, targets: ['console:calls'], dedupeSeconds: 10 },
      backends: { dnsmasq: { enabled: true, path: path.join(dataDir, 'apply', 'dnsmasq-hosts.conf'), check: [], reload: [] } },
    },
  };
}

export class Cluster {
  readonly replicas: Replica[] = [];
  readonly key = crypto.randomBytes(32).toString('hex');
  execDir = '';
  execEnv: NodeJS.ProcessEnv = {};
  private conn?: Connection;
  private dirs: string[] = [];

  private constructor(
    readonly databaseUrl: string,
    private dropDb: () => Promise<void>,
    readonly publicUrl: string,
  ) {}

  /** A fresh database, and n replicas (not started) with their data dirs, ports and config files. */
  static async create(opts: ClusterOptions = {}): Promise<Cluster> {
    const n = opts.replicas ?? 3;
    const db = await createTestDatabase();
    const ports: number[] = [];
    while (ports.length < n) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const cluster = new Cluster(db.url, db.drop, `http://127.0.0.1:${ports[0]}`);
    const common: NodeJS.ProcessEnv = {
      ...inheritedEnv(),
      ...opts.env,
      DATABASE_URL: db.url,
      SWITCHBOARD_PROVISION_KEY: cluster.key,
      SWITCHBOARD_PUBLIC_URL: cluster.publicUrl,
      SWITCHBOARD_ADMIN_PASSWORD: opts.adminPassword === null ? '' : (opts.adminPassword ?? ADMIN_PASSWORD),
      SWITCHBOARD_LOG_LEVEL: '',
    };
    const setup = (i: number) => {
      const dir = tmpDir(`sb-replica-${i < 0 ? 'exec' : i + 1}-`);
      cluster.dirs.push(dir);
      fs.mkdirSync(path.join(dir, 'apply'), { recursive: true });
      const cfg = merge(baseConfig(dir), opts.config?.(i, dir) ?? {});
      const file = path.join(dir, 'config.json');
      fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
      return { dir, file };
    };
    // On the Galera suite's cluster (SWITCHBOARD_TEST_GALERA): replica i prefers node i (its DATABASE_URL lists
    // every node, node i first), and the replicas write through different nodes (writeTo any).
    const galera = GaleraCluster.attach();
    const dbName = new URL(db.url).pathname.slice(1);
    const storeEnv = (i: number): NodeJS.ProcessEnv => (galera ? { DATABASE_URL: galera.hostListUrl(dbName, Math.max(i, 0) % galera.nodes.length), SWITCHBOARD_DB_WRITE_TO: 'any' } : {});
    for (let i = 0; i < n; i++) {
      const { dir, file } = setup(i);
      const env = { ...common, ...storeEnv(i), SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_CONFIG: file, SWITCHBOARD_HTTP_PORT: String(ports[i]) };
      cluster.replicas.push(new Replica(`replica ${i + 1}`, ports[i]!, dir, file, env, `sb-replica-${i + 1}`));
    }
    const ex = setup(-1);
    cluster.execDir = ex.dir;
    cluster.execEnv = { ...common, ...storeEnv(-1), SWITCHBOARD_DATA_DIR: ex.dir, SWITCHBOARD_CONFIG: ex.file, SWITCHBOARD_LOG_LEVEL: 'warn' };
    return cluster;
  }

  /** Starts every replica that is not running, all at once, and waits until each is ready. */
  async startAll(): Promise<void> {
    const idle = this.replicas.filter((r) => !r.running);
    for (const r of idle) r.start();
    await Promise.all(idle.map((r) => r.ready()));
  }

  /** Restarts whatever is not running and continues whatever is paused (tests leave the cluster whole). */
  async heal(): Promise<void> {
    for (const r of this.replicas) r.resume();
    await this.startAll();
  }

  /** `switchboard exec <words…>` against the cluster's store, from a data dir of its own. */
  exec(words: string[], opts: { yes?: boolean; timeoutMs?: number } = {}): Promise<CliResult> {
    return runCli(['exec', ...(opts.yes ? ['--yes'] : []), ...words], this.execEnv, { timeoutMs: opts.timeoutMs ?? 60_000 });
  }

  /** A query on the cluster's database (counts and checks; tests never write through this). */
  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (!this.conn) {
      const u = new URL(this.databaseUrl);
      this.conn = await createConnection({
        host: u.hostname,
        port: Number(u.port || 3306),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: u.pathname.slice(1),
        supportBigNumbers: true,
        bigNumberStrings: false,
      });
    }
    const [rows] = await this.conn.query<RowDataPacket[]>(sql, params);
    return rows as T[];
  }

  async tableExists(name: string): Promise<boolean> {
    const rows = await this.query('SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?', [name]);
    return rows.length > 0;
  }

  /** Which replica a row's owner (`host:pid:…`) names. */
  replicaOfOwner(owner: string | null | undefined): Replica | undefined {
    if (!owner) return undefined;
    const [host, pid] = owner.split(':');
    return this.replicas.find((r) => r.running && String(r.pid) === pid && (!canUnshare || r.hostname === host));
  }

  diagnostics(): string {
    return this.replicas.map((r) => r.diagnostics(2000)).join('\n');
  }

  /** Kills every replica (SIGKILL: paused ones too), closes the connection, drops the database. */
  async destroy(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.kill().catch(() => undefined)));
    await this.conn?.end().catch(() => undefined);
    await this.dropDb().catch(() => undefined);
    for (const d of this.dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

export const ADMIN_PASSWORD = 'replica-admin-pw-1234';

export interface ConsoleMessageRow {
  id: number;
  room: string;
  author: string;
  text: string;
}

/** The web console as a user: one login (sessions live in the store, so they work on every replica). */
export class ConsoleClient {
  private constructor(
    private cluster: Cluster,
    private cookie: string,
    private csrf: string,
  ) {}

  static async login(cluster: Cluster, via: Replica, username = 'admin', password = ADMIN_PASSWORD): Promise<ConsoleClient> {
    const r = await loginStatus(via, username, password);
    if (r.status !== 200) throw new Error(`console login on ${via.name} answered ${r.status}: ${r.text}`);
    return new ConsoleClient(cluster, r.cookie, (JSON.parse(r.text) as { csrf: string }).csrf);
  }

  /** Sends a command line to one replica; returns the id of the last message in the room before it. */
  async command(via: Replica, room: string, text: string): Promise<number> {
    const before = await this.lastId(room);
    const r = await fetch(`${via.url}/console/api/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: this.cookie, 'x-csrf-token': this.csrf },
      body: JSON.stringify({ room, text }),
      signal: AbortSignal.timeout(15_000),
    });
    if (r.status !== 202) throw new Error(`console command on ${via.name} answered ${r.status}: ${await r.text()}`);
    return before;
  }

  async lastId(room: string): Promise<number> {
    const [row] = await this.cluster.query<{ m: number | null }>('SELECT MAX(id) AS m FROM console_messages WHERE room = ?', [room]);
    return Number(row?.m ?? 0);
  }

  /** The bot's messages in a room after a message id, oldest first (current text: edits included). */
  async botMessages(room: string, afterId = 0): Promise<ConsoleMessageRow[]> {
    return this.cluster.query<ConsoleMessageRow>("SELECT id, room, author, text FROM console_messages WHERE room = ? AND author = 'bot' AND id > ? ORDER BY id", [room, afterId]);
  }

  /** Waits for the bot's first message in a room after afterId that matches re. */
  async waitReply(room: string, afterId: number, re: RegExp, timeoutMs = 30_000): Promise<ConsoleMessageRow> {
    return until(`a reply matching ${re} in console room ${room}`, async () => (await this.botMessages(room, afterId)).find((m) => re.test(m.text)), timeoutMs, 100).catch(async (e: Error) => {
      const got = (await this.botMessages(room, afterId)).map((m) => m.text).join('\n---\n');
      throw new Error(`${e.message}; the bot said:\n${got || '(nothing)'}\n${this.cluster.diagnostics()}`);
    });
  }
}

export async function loginStatus(via: Replica, username: string, password: string): Promise<{ status: number; text: string; cookie: string }> {
  const r = await fetch(`${via.url}/console/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
    signal: AbortSignal.timeout(15_000),
  });
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return { status: r.status, text: await r.text(), cookie };
}
