// A real 3-node MariaDB Galera cluster on 127.0.0.1 for the Galera suite: each node its own data dir, socket,
// pid file and ports (SQL, group communication, IST, rsync SST). The nodes run as the `mysql` user (rsync state
// transfer writes the joiner's data dir as that user), so the work dir lives under a directory it can enter.
// Node 1 bootstraps the cluster (--wsrep-new-cluster); nodes 2 and 3 join it and receive a state transfer.
// kill(i) is `kill -9` of a node; start(i) brings it back the way a service manager would (it rejoins by
// itself). Every mariadbd started here is killed when the test worker exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { freePort } from '../replicas/harness.js';
import { sleep, until } from '../helpers/wait.js';

const PROVIDER = '/usr/lib/galera/libgalera_smm.so';
const TOOLS = ['/usr/sbin/mariadbd', '/usr/bin/mariadb-install-db', '/usr/bin/rsync', '/usr/bin/mariadb', PROVIDER];

/** Why the Galera suite cannot run here, or undefined when it can. In CI a reason is a failure, not a skip. */
export function galeraUnavailable(): string | undefined {
  const missing = TOOLS.filter((t) => !fs.existsSync(t));
  if (missing.length) return `missing ${missing.join(', ')} (Debian packages mariadb-server, galera-4, rsync)`;
  if (process.getuid?.() !== 0) return 'the Galera nodes run as the mysql user: the suite must run as root';
  if (spawnSync('id', ['mysql']).status !== 0) return 'no mysql user';
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

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

export interface GaleraNode {
  index: number;
  name: string;
  dir: string;
  datadir: string;
  socket: string;
  port: number;
  gport: number;
  istPort: number;
  sstPort: number;
  child?: ChildProcess;
  log: string;
}

/** What a test worker needs to reach and handle the cluster the suite's global setup started. */
export interface GaleraDescription {
  root: string;
  nodes: Omit<GaleraNode, 'child' | 'log'>[];
}

export const GALERA_ENV = 'SWITCHBOARD_TEST_GALERA';

export class GaleraCluster {
  readonly nodes: GaleraNode[] = [];
  private constructor(readonly root: string) {}

  describe(): GaleraDescription {
    return { root: this.root, nodes: this.nodes.map(({ child: _c, log: _l, ...n }) => n) };
  }

  /** The cluster the global setup started (from SWITCHBOARD_TEST_GALERA), or undefined. */
  static attach(desc = process.env[GALERA_ENV]): GaleraCluster | undefined {
    if (!desc) return undefined;
    const d = JSON.parse(desc) as GaleraDescription;
    const c = new GaleraCluster(d.root);
    for (const n of d.nodes) c.nodes.push({ ...n, log: '' });
    return c;
  }

  /** The pid of node i's mariadbd (from its pid file), if it runs. */
  pid(i: number): number | undefined {
    try {
      const pid = Number(fs.readFileSync(path.join(this.nodes[i]!.dir, 'mysqld.pid'), 'utf8').trim());
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /** Creates the data dirs (mariadb-install-db) and picks the ports; starts nothing. */
  static async create(size = 3): Promise<GaleraCluster> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-galera-'));
    fs.chmodSync(root, 0o755); // every directory above it (/, /tmp) is enterable by mysql already
    const c = new GaleraCluster(root);
    const used = new Set<number>();
    const port = async () => {
      for (;;) {
        const p = await freePort();
        if (!used.has(p)) return (used.add(p), p);
      }
    };
    for (let i = 0; i < size; i++) {
      const dir = path.join(root, `node${i + 1}`);
      const node: GaleraNode = {
        index: i,
        name: `node${i + 1}`,
        dir,
        datadir: path.join(dir, 'data'),
        socket: path.join(dir, 'mysqld.sock'),
        port: await port(),
        gport: await port(),
        istPort: await port(),
        sstPort: await port(),
        log: '',
      };
      fs.mkdirSync(node.datadir, { recursive: true });
      c.nodes.push(node);
    }
    spawnSync('chown', ['-R', 'mysql:mysql', root]);
    // Only node 1 needs system tables: the joiners receive node 1's data by state transfer.
    const r = spawnSync(
      'mariadb-install-db',
      ['--no-defaults', '--user=mysql', `--datadir=${c.nodes[0]!.datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr || r.stdout}`);
    return c;
  }

  private args(n: GaleraNode, bootstrap: boolean): string[] {
    const members = this.nodes.map((m) => `127.0.0.1:${m.gport}`).join(',');
    return [
      '--no-defaults',
      '--user=mysql',
      `--datadir=${n.datadir}`,
      `--socket=${n.socket}`,
      `--pid-file=${path.join(n.dir, 'mysqld.pid')}`,
      `--port=${n.port}`,
      '--bind-address=127.0.0.1',
      '--skip-name-resolve',
      `--log-error=${path.join(n.dir, 'error.log')}`,
      // What Galera needs (see README "Running on a cluster").
      '--binlog-format=ROW',
      '--default-storage-engine=InnoDB',
      '--innodb-autoinc-lock-mode=2',
      // A dead node is evicted after ~1 s (evs.suspect_timeout; default 5 s): until then the others' commits wait.
      // Small and fast: scratch data on a test machine.
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=16M',
      '--innodb-flush-log-at-trx-commit=0',
      '--performance-schema=OFF',
      '--max-connections=400',
      '--wsrep-on=ON',
      `--wsrep-provider=${PROVIDER}`,
      `--wsrep-cluster-address=gcomm://${members}`,
      '--wsrep-cluster-name=switchboard-test',
      `--wsrep-node-name=${n.name}`,
      `--wsrep-node-address=127.0.0.1:${n.gport}`,
      `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${n.gport};ist.recv_addr=127.0.0.1:${n.istPort};gcache.size=64M;evs.keepalive_period=PT0.2S;evs.inactive_check_period=PT0.2S;evs.suspect_timeout=PT1S;evs.inactive_timeout=PT2S;evs.install_timeout=PT2S`,
      '--wsrep-sst-method=rsync',
      `--wsrep-sst-receive-address=127.0.0.1:${n.sstPort}`,
      ...(bootstrap ? ['--wsrep-new-cluster'] : []),
    ];
  }

  /** Starts node i (not waiting); bootstrap only for the first start of the cluster's first node. */
  spawn(i: number, bootstrap = false): void {
    const n = this.nodes[i]!;
    if (this.running(i)) throw new Error(`${n.name} is running`);
    const child = spawn('/usr/sbin/mariadbd', this.args(n, bootstrap), { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    n.log = '';
    const keep = (d: Buffer) => (n.log = (n.log + d.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('close', () => live.delete(child));
    n.child = child;
  }

  /** Waits until node i is Synced and sees `size` members. */
  async waitSynced(i: number, size = this.nodes.length, timeoutMs = 90_000): Promise<void> {
    const n = this.nodes[i]!;
    await until(
      `${n.name} to be synced in a cluster of ${size}`,
      async () => {
        if (n.child && n.child.exitCode !== null) throw new Error(`${n.name} exited (${n.child.exitCode ?? n.child.signalCode}):\n${this.errorLog(i)}`);
        const s = await this.status(i).catch(() => undefined);
        return s && s.wsrep_local_state_comment === 'Synced' && Number(s.wsrep_cluster_size) === size && s.wsrep_ready === 'ON';
      },
      timeoutMs,
      200,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${this.errorLog(i)}`);
    });
  }

  errorLog(i: number, chars = 4000): string {
    const f = path.join(this.nodes[i]!.dir, 'error.log');
    const text = fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : this.nodes[i]!.log;
    return `--- ${this.nodes[i]!.name} error log ---\n${text.slice(-chars)}`;
  }

  /** Bootstraps node 1, lets root connect over TCP, then joins the others. */
  async start(): Promise<void> {
    this.spawn(0, true);
    await until(
      'node1 to take connections',
      () => fs.existsSync(this.nodes[0]!.socket) && spawnSync('mariadb', ['--no-defaults', '-S', this.nodes[0]!.socket, '-uroot', '-e', 'select 1']).status === 0,
      60_000,
      100,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${this.errorLog(0)}`);
    });
    const sqlText = "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;";
    const r = spawnSync('mariadb', ['--no-defaults', '-S', this.nodes[0]!.socket, '-uroot', '-e', sqlText], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`granting root@127.0.0.1 failed: ${r.stderr}`);
    await this.waitSynced(0, 1);
    for (let i = 1; i < this.nodes.length; i++) {
      this.spawn(i);
      await this.waitSynced(i, i + 1);
    }
    for (let i = 0; i < this.nodes.length; i++) await this.waitSynced(i);
  }

  /** `kill -9` of node i's mariadbd (by its pid file: the node may have been started by another process). */
  async kill(i: number): Promise<void> {
    const pid = this.pid(i);
    if (!pid) return;
    process.kill(pid, 'SIGKILL');
    await until(`${this.nodes[i]!.name} to die`, () => this.pid(i) === undefined || !alive(pid), 10_000, 20);
  }

  running(i: number): boolean {
    return this.pid(i) !== undefined;
  }

  /** Restarts node i as a service manager would (no bootstrap flag): it rejoins and catches up by itself. */
  async restart(i: number): Promise<void> {
    this.spawn(i);
    await this.waitSynced(i);
  }

  url(i: number, db: string): string {
    return `mysql://root@127.0.0.1:${this.nodes[i]!.port}/${db}`;
  }

  /** All nodes as one DATABASE_URL host list, node `first` first (`mysql://root@h:p,h:p,h:p/db`). */
  hostListUrl(db: string, first = 0): string {
    const order = [...this.nodes.slice(first), ...this.nodes.slice(0, first)];
    return `mysql://root@${order.map((n) => `127.0.0.1:${n.port}`).join(',')}/${db}`;
  }

  async connect(i: number, db?: string): Promise<Connection> {
    return createConnection({ host: '127.0.0.1', port: this.nodes[i]!.port, user: 'root', database: db, supportBigNumbers: true, bigNumberStrings: false, connectTimeout: 3000 });
  }

  async query<T = Record<string, unknown>>(i: number, sqlText: string, params: unknown[] = [], db?: string): Promise<T[]> {
    const c = await this.connect(i, db);
    try {
      const [rows] = await c.query<RowDataPacket[]>(sqlText, params);
      return rows as T[];
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async status(i: number): Promise<Record<string, string>> {
    const rows = await this.query<{ Variable_name: string; Value: string }>(i, "SHOW GLOBAL STATUS LIKE 'wsrep_%'");
    return Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
  }

  /** Drops and creates a database (replicated to every node by Galera's total-order DDL). */
  async freshDatabase(name: string): Promise<void> {
    await this.query(0, `DROP DATABASE IF EXISTS \`${name}\``);
    await this.query(0, `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  }

  /** Kills every node this suite started (SIGKILL: the data is thrown away, a clean shutdown only costs time) and removes the work dir. */
  async stop(): Promise<void> {
    const pids = this.nodes.map((_, i) => this.pid(i)).filter((p): p is number => p !== undefined);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    while (pids.some(alive) && Date.now() - t0 < 20_000) await sleep(50);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
