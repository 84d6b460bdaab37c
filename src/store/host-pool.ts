// A MySQL/MariaDB connection pool over SEVERAL hosts (the nodes of a Galera cluster), for Kysely's
// MysqlDialect. mysql2's pool talks to one host; this keeps one mysql2 pool per host and hands out each
// connection from the first host of the list that is usable:
// - a host that refuses, resets or loses connections, or answers 1047 (WSREP: node not ready), is marked down
//   for `retryDownMs` and the next host is taken; once the mark lapses the host is tried first again, so the
//   pool goes back to the preferred host when it is healthy;
// - a new connection is checked before use: a Galera node that is not ready (`wsrep_ready` OFF: joining, or cut
//   off from the primary component) counts as down;
// - a connection that failed with a host failure is destroyed, not returned to its pool;
// - with `writeTo: 'any'` (replicas write through different nodes) each new Galera session sets
//   `wsrep_sync_wait = 1`: a read sees every transaction committed anywhere in the cluster before it, so a
//   read-then-write (ingest's "what is stored already") does not miss a peer's rows.
// When no host gives a usable connection the pool fails with StoreUnavailableError.
import type * as Mysql2 from 'mysql2';
import type { MysqlPool, MysqlPoolConnection } from 'kysely';
import { StoreUnavailableError, isHostFailure, storeErrorReason } from './store-errors.js';

export interface StoreHost {
  host: string;
  port: number;
}

export interface MysqlTarget {
  hosts: StoreHost[];
  user: string;
  password: string;
  database: string;
}

/**
 * Parses `mysql://user:pass@host1:3306,host2:3307,[::1]:3308/db` (or `mariadb://`): one or more hosts, comma
 * separated, each with an optional port (default 3306). The order is the order of preference.
 */
export function parseMysqlUrl(url: string): MysqlTarget {
  const m = /^(?:mysql|mariadb):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?[^#]*)?$/i.exec(url);
  if (!m) throw new Error('DATABASE_URL is not a mysql:// URL of the form mysql://user:password@host[:port][,host[:port]…]/database');
  const [user = '', password = ''] = (m[1] ?? '').split(/:(.*)/s);
  const hostList = m[2] ?? '';
  if (!hostList) throw new Error('DATABASE_URL names no host (mysql://user@host[:port][,host[:port]…]/database)');
  const hosts = hostList.split(',').map((h, i) => {
    const hm = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(h.trim());
    const port = hm?.[2] ? Number(hm[2]) : 3306;
    if (!hm || port < 1 || port > 65535) throw new Error(`DATABASE_URL host ${i + 1} ("${h}") is not host or host:port`);
    return { host: hm[1]!.replace(/^\[|\]$/g, ''), port };
  });
  return { hosts, user: decodeURIComponent(user), password: decodeURIComponent(password), database: decodeURIComponent((m[3] ?? '').replace(/^\//, '')) };
}

export type WriteTo = 'first' | 'any';

export interface HostPoolOptions {
  connectionLimit: number;
  writeTo: WriteTo;
  /** How long a failed host is passed over before it is tried first again (default 1000 ms). */
  retryDownMs?: number;
  /** Told when a host goes down or comes back (for the log). */
  onHostChange?: (host: string, up: boolean, reason?: string) => void;
  /** mysql2 pool options shared by every host (charset, timezone…). */
  poolOptions: Mysql2.PoolOptions;
  createPool: typeof Mysql2.createPool;
}

export interface HostState {
  host: string;
  up: boolean;
  reason?: string;
}

type Raw = Mysql2.PoolConnection;
type Callback = (err: unknown, result?: unknown) => void;

interface Entry {
  label: string;
  pool: Mysql2.Pool;
  downUntil: number;
  reason?: string;
  wasDown: boolean;
}

/** The subset of a mysql2 pool connection Kysely's MysqlDriver uses. */
type KyselyRawConnection = MysqlPoolConnection;

export class HostPool implements MysqlPool {
  private entries: Entry[];
  private checked = new WeakSet<Raw>();
  private wrapped = new WeakMap<Raw, KyselyRawConnection>();
  private retryDownMs: number;

  constructor(
    target: MysqlTarget,
    private opts: HostPoolOptions,
  ) {
    this.retryDownMs = opts.retryDownMs ?? 1000;
    this.entries = target.hosts.map((h) => ({
      label: `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`,
      downUntil: 0,
      wasDown: false,
      pool: opts.createPool({ ...opts.poolOptions, host: h.host, port: h.port, user: target.user, password: target.password, database: target.database, connectionLimit: opts.connectionLimit }),
    }));
  }

  /** Each host and whether it is usable now (for /healthz and the log). */
  hosts(): HostState[] {
    const t = Date.now();
    return this.entries.map((e) => ({ host: e.label, up: e.downUntil <= t, ...(e.downUntil > t && e.reason ? { reason: e.reason } : {}) }));
  }

  getConnection(cb: (err: unknown, conn: KyselyRawConnection) => void): void {
    this.acquire().then(
      (c) => cb(null, c),
      (err: unknown) => cb(err, undefined as unknown as KyselyRawConnection),
    );
  }

  end(cb: (err: unknown) => void): void {
    Promise.all(this.entries.map((e) => new Promise<void>((r) => e.pool.end(() => r())))).then(() => cb(null), cb);
  }

  private async acquire(): Promise<KyselyRawConnection> {
    const t = Date.now();
    // Usable hosts in the list's order first, then the marked ones (a mark is a hint, not a verdict).
    const order = [...this.entries.filter((e) => e.downUntil <= t), ...this.entries.filter((e) => e.downUntil > t).sort((a, b) => a.downUntil - b.downUntil)];
    const reasons: string[] = [];
    for (const e of order) {
      try {
        const raw = await this.connect(e);
        if (e.wasDown) {
          e.wasDown = false;
          e.reason = undefined;
          this.opts.onHostChange?.(e.label, true);
        }
        return this.wrap(e, raw);
      } catch (err) {
        const reason = storeErrorReason(err);
        this.markDown(e, reason);
        reasons.push(`${e.label}: ${reason}`);
      }
    }
    throw new StoreUnavailableError(reasons);
  }

  private markDown(e: Entry, reason: string): void {
    e.downUntil = Date.now() + this.retryDownMs;
    e.reason = reason;
    if (!e.wasDown) {
      e.wasDown = true;
      this.opts.onHostChange?.(e.label, false, reason);
    }
  }

  private connect(e: Entry): Promise<Raw> {
    return new Promise<Raw>((resolve, reject) => {
      e.pool.getConnection((err, raw) => (err ? reject(err) : resolve(raw)));
    }).then(async (raw) => {
      if (this.checked.has(raw)) return raw;
      try {
        await this.prepare(raw);
      } catch (err) {
        raw.destroy();
        throw err;
      }
      this.checked.add(raw);
      return raw;
    });
  }

  /** A new session: refuse a Galera node that is not ready; with several writers, make reads causal. */
  private async prepare(raw: Raw): Promise<void> {
    const rows = await query<{ Variable_name: string; Value: string }[]>(raw, "SHOW STATUS LIKE 'wsrep_ready'");
    const ready = rows[0]?.Value;
    if (ready === undefined) return; // not a Galera node (or wsrep off): nothing to check
    const on = await query<{ on: number | string }[]>(raw, 'SELECT @@wsrep_on AS `on`');
    if (Number(on[0]?.on) !== 1) return;
    if (ready !== 'ON') throw Object.assign(new Error('WSREP has not yet prepared node for application use'), { errno: 1047, code: 'ER_UNKNOWN_COM_ERROR' });
    if (this.opts.writeTo === 'any') await query(raw, 'SET SESSION wsrep_sync_wait = 1');
  }

  private wrap(e: Entry, raw: Raw): KyselyRawConnection {
    let w = this.wrapped.get(raw);
    if (w) return w;
    let broken = false;
    w = {
      query: ((sql: string, params: unknown[], cb?: Callback) => {
        if (!cb) return (raw.query as unknown as (s: string, p: unknown[]) => unknown)(sql, params);
        (raw.query as unknown as (s: string, p: unknown[], c: Callback) => void)(sql, params, (err, result) => {
          if (err && isHostFailure(err)) {
            broken = true;
            this.markDown(e, storeErrorReason(err));
          }
          cb(err, result);
        });
      }) as unknown as KyselyRawConnection['query'],
      release: () => {
        if (broken) {
          this.wrapped.delete(raw);
          raw.destroy();
        } else raw.release();
      },
    };
    this.wrapped.set(raw, w);
    return w;
  }
}

function query<T>(raw: Raw, sql: string): Promise<T> {
  return new Promise((resolve, reject) => raw.query(sql, (err: unknown, rows: unknown) => (err ? reject(err) : resolve(rows as T))));
}
