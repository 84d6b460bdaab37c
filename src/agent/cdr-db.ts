// Reads new calls from FreePBX's own CDR store: the `cdr` table of `asteriskcdrdb` on the PBX's MariaDB/MySQL
// (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration, billsec, disposition,
// amaflags, accountcode, uniqueid, userfield, did, recordingfile, cnum, cnam, …, linkedid, peeraccount,
// sequence). mysql2 is pure JavaScript (no native module).
//
// Position: Asterisk writes a row when the call ENDS, but `calldate` is when it STARTED, so a long call lands
// behind shorter ones that ended before it; the table has no insertion order either. Rows are therefore read
// in order of their end (calldate + duration), from `lateMinutes` before the latest end already taken (rows
// held back by cdr.conf batch mode still come), and the rows of that window already taken are remembered by
// id (uniqueid#sequence). Both are persisted (mode 0600, atomic) like the CSV position. Only calls that
// started within `lookbackHours` of that point are looked at (so the calldate index bounds the scan).
import fs from 'node:fs';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import type { CdrDbConfig } from './config.js';
import { cdrCallId, cdrFromFields, type CdrCall, type CdrTimezone } from './cdr.js';
import { writePrivate } from './private-file.js';

export interface CdrDbPosition {
  /** The latest call end taken (the database's own "YYYY-MM-DD HH:MM:SS"), null before the first row. */
  endAt: string | null;
  /** Rows taken whose call ended in the last lateMinutes before endAt: id → end. */
  seen: Record<string, string>;
}

export interface CdrDbRead {
  calls: CdrCall[];
  /** skipped[k]: how many calls come before the k-th row skipped (unreadable calldate). */
  skipped: number[];
  more: boolean;
  /** The first n calls were delivered (n = calls.length: everything read). */
  commit(n: number): void;
}

const FMT = '%Y-%m-%d %H:%i:%s';
const pad = (n: number) => String(n).padStart(2, '0');

/** "YYYY-MM-DD HH:MM:SS" minus minutes, as the same kind of string (plain calendar arithmetic). */
export function minusMinutes(at: string, minutes: number): string {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(at);
  if (!m) return at;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) - minutes * 60_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export class CdrDbReader {
  private conn?: Connection;
  private cols?: Set<string>;
  private pos: CdrDbPosition | null = null;
  /** Within one drain: the sort key of the last row of a full page, to read the next page after it. */
  private after: unknown[] | null = null;

  constructor(
    private db: CdrDbConfig,
    private password: string | undefined,
    private stateFile: string,
    private tz: CdrTimezone = 'local',
    private pageSize = 1000,
  ) {
    try {
      const p = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as CdrDbPosition;
      if (p && typeof p === 'object' && typeof p.seen === 'object') this.pos = p;
    } catch {
      /* first run */
    }
  }

  private get table(): string {
    return `\`${this.db.database}\`.\`${this.db.table}\``;
  }

  private async connection(): Promise<Connection> {
    if (this.conn) return this.conn;
    const c = await createConnection({
      host: this.db.socketPath ? undefined : this.db.host,
      port: this.db.socketPath ? undefined : this.db.port,
      socketPath: this.db.socketPath,
      user: this.db.user,
      password: this.password,
      database: this.db.database,
      dateStrings: true,
      connectTimeout: 10_000,
    });
    c.on('error', () => {
      if (this.conn === c) this.conn = undefined;
    });
    try {
      const [rows] = await c.query<RowDataPacket[]>(`SHOW COLUMNS FROM ${this.table}`);
      const cols = new Set(rows.map((r) => String(r.Field).toLowerCase()));
      for (const need of ['calldate', 'dst', 'uniqueid', 'duration']) if (!cols.has(need)) throw new Error(`${this.db.database}.${this.db.table} has no ${need} column: is it FreePBX's CDR table?`);
      this.cols = cols;
    } catch (e) {
      await c.end().catch(() => undefined);
      throw e;
    }
    this.conn = c;
    return c;
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    await c?.end().catch(() => undefined);
  }

  private save(): void {
    writePrivate(this.stateFile, JSON.stringify(this.pos));
  }

  /** The sort key: call end, then what tells the legs of one call apart (as strings, NULL as ''). */
  private keyExprs(): string[] {
    const end = `DATE_FORMAT(calldate + INTERVAL COALESCE(duration, 0) SECOND, '${FMT}')`;
    return [end, ...['uniqueid', 'sequence', 'channel', 'dstchannel'].filter((c) => this.cols!.has(c)).map((c) => `COALESCE(CAST(\`${c}\` AS CHAR), '')`)];
  }

  private async query(pos: CdrDbPosition): Promise<RowDataPacket[]> {
    const c = await this.connection();
    const keys = this.keyExprs();
    const where: string[] = [];
    const params: unknown[] = [];
    if (pos.endAt) {
      where.push(`calldate >= CAST(? AS DATETIME) - INTERVAL ? HOUR`, `calldate + INTERVAL COALESCE(duration, 0) SECOND >= CAST(? AS DATETIME) - INTERVAL ? MINUTE`);
      params.push(pos.endAt, this.db.lookbackHours, pos.endAt, this.db.lateMinutes);
    }
    if (this.after) {
      where.push(`(${keys.join(', ')}) > (${keys.map(() => '?').join(', ')})`);
      params.push(...this.after);
    }
    const sql = `SELECT *, DATE_FORMAT(calldate, '${FMT}') AS __start, ${keys.map((k, i) => `${k} AS __k${i}`).join(', ')} FROM ${this.table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${keys.map((_k, i) => `__k${i}`).join(', ')} LIMIT ${Number(this.pageSize)}`;
    try {
      const [rows] = await c.query<RowDataPacket[]>(sql, params);
      return rows;
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  private toCall(r: RowDataPacket): { id: string; end: string; call: CdrCall | null } {
    const row: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (!k.startsWith('__')) row[k] = v;
    const { __start, __k0: __end } = r as Record<string, unknown>;
    const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));
    const raw = JSON.stringify(row);
    const get = (name: string) => str(name === 'start' ? __start : row[name]);
    const call = cdrFromFields(get, raw, this.tz);
    return { id: call?.callId ?? cdrCallId(get('uniqueid'), get('sequence'), raw), end: str(__end), call };
  }

  /** New calls (at most one page), or null when there are none. Throws when the database cannot be read. */
  async read(): Promise<CdrDbRead | null> {
    if (!this.pos) {
      // First run: what is in the table is history, not news (as with the CSV). Take the position at the
      // latest call end, with the calls that ended just before it marked as taken.
      const c = await this.connection();
      const [[last]] = await c.query<RowDataPacket[]>(`SELECT DATE_FORMAT(MAX(calldate), '${FMT}') AS m FROM ${this.table}`);
      const pos: CdrDbPosition = { endAt: null, seen: {} };
      if (last?.m) {
        const [[e]] = await c.query<RowDataPacket[]>(
          `SELECT DATE_FORMAT(MAX(calldate + INTERVAL COALESCE(duration, 0) SECOND), '${FMT}') AS m FROM ${this.table} WHERE calldate >= CAST(? AS DATETIME) - INTERVAL ? HOUR`,
          [last.m, this.db.lookbackHours],
        );
        pos.endAt = e?.m ?? last.m;
        for (let rows = await this.query(pos); ; rows = await this.query(pos)) {
          for (const r of rows) {
            const x = this.toCall(r);
            if (x.end >= minusMinutes(pos.endAt!, this.db.lateMinutes)) pos.seen[x.id] = x.end;
          }
          if (rows.length < this.pageSize) break;
          this.after = this.keyOf(rows[rows.length - 1]!);
        }
        this.after = null;
      }
      this.pos = pos;
      this.save();
    }
    const pos = this.pos;
    const rows = await this.query(pos);
    const full = rows.length === this.pageSize;
    const taken = rows.map((r) => this.toCall(r)).filter((x) => !(x.id in pos.seen));
    const lastKey = full ? this.keyOf(rows[rows.length - 1]!) : null;
    if (!taken.length) {
      this.after = lastKey;
      return full ? { calls: [], skipped: [], more: true, commit: () => undefined } : null;
    }
    const calls: CdrCall[] = [];
    const skipped: number[] = [];
    const upto: number[] = []; // upto[i]: rows of `taken` passed once calls[0..i] are delivered
    taken.forEach((x, i) => {
      if (x.call) {
        calls.push(x.call);
        upto.push(i + 1);
      } else skipped.push(calls.length);
    });
    return {
      calls,
      skipped,
      more: full,
      commit: (n) => {
        const rowsPassed = n >= calls.length ? taken.length : (upto[n - 1] ?? 0);
        for (const x of taken.slice(0, rowsPassed)) {
          pos.seen[x.id] = x.end;
          if (!pos.endAt || x.end > pos.endAt) pos.endAt = x.end;
        }
        const floor = minusMinutes(pos.endAt ?? '', this.db.lateMinutes);
        for (const [id, end] of Object.entries(pos.seen)) if (end < floor) delete pos.seen[id];
        if (n >= calls.length) this.after = lastKey;
        this.save();
      },
    };
  }

  private keyOf(r: RowDataPacket): unknown[] {
    return this.keyExprs().map((_k, i) => (r as Record<string, unknown>)[`__k${i}`]);
  }
}
