// Tails Asterisk's CDR CSV (Master.csv) in cdr-csv's column order (or the one in the agent config). The
// position (inode + offset) is remembered in a state file so a restart neither re-sends nor skips calls; a new
// inode or a shorter file means rotation/truncation and reading restarts at 0. A line that is not a CDR of
// the layout, or whose start time is unreadable, is skipped and counted (never stored with a made-up time).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import { writePrivate } from './private-file.js';

export interface CdrCall {
  callId: string;
  at: number;
  src: string;
  dst: string;
  duration: number;
  /** Seconds answered, when the layout has the column. */
  billsec?: number;
  disposition: string;
  /** The dialplan context the call ended in (tells inbound from outbound), when the layout has the column. */
  dcontext?: string;
  raw: string;
}

export type CdrTimezone = 'local' | 'utc';

/** Longest `raw` the bot accepts (characters); longer lines are cut. */
export const CDR_RAW_MAX = 4000;

/**
 * Asterisk's cdr-csv layout (cdr_csv.c, build_csv_record): the 16 fixed columns, then `uniqueid` and
 * `userfield` (cdr.conf [csv] loguniqueid=yes / loguserfield=yes, as in Asterisk's sample cdr.conf), then
 * `peeraccount`, `linkedid`, `sequence` with newcdrcolumns=yes. Shorter lines simply lack the trailing ones.
 */
export const DEFAULT_CDR_COLUMNS = [
  'accountcode',
  'src',
  'dst',
  'dcontext',
  'clid',
  'channel',
  'dstchannel',
  'lastapp',
  'lastdata',
  'start',
  'answer',
  'end',
  'duration',
  'billsec',
  'disposition',
  'amaflags',
  'uniqueid',
  'userfield',
  'peeraccount',
  'linkedid',
  'sequence',
];

export interface CdrLayout {
  columns: string[];
  index: Map<string, number>;
  /** A line with fewer fields is not a CDR of this layout. */
  minFields: number;
}

/** A column order (cdrColumns): names, no duplicates, with at least dst and start (`calldate` is taken as start). */
export function cdrLayout(columns: string[] = DEFAULT_CDR_COLUMNS): CdrLayout {
  const index = new Map<string, number>();
  columns.forEach((raw, i) => {
    const c = raw.trim().toLowerCase();
    if (!/^[a-z_][a-z0-9_]*$/.test(c)) throw new Error(`column ${JSON.stringify(raw)} is not a plain name`);
    const name = c === 'calldate' ? 'start' : c;
    if (index.has(name)) throw new Error(`column ${name} appears twice`);
    index.set(name, i);
  });
  for (const need of ['dst', 'start']) if (!index.has(need)) throw new Error(`the layout has no ${need} column`);
  const used = ['src', 'dst', 'start', 'duration', 'disposition'].map((n) => index.get(n) ?? -1);
  return { columns, index, minFields: Math.max(...used) + 1 };
}

const DEFAULT_LAYOUT = cdrLayout();

/** Cut to at most n UTF-16 units without splitting a surrogate pair. */
function cut(s: string, n: number): string {
  if (s.length <= n) return s;
  const c = s.charCodeAt(n - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? n - 1 : n);
}

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/**
 * A CDR's id for the bot (which stores each (node, id) once). Asterisk writes one CDR per dialled leg, all with
 * the caller's `uniqueid` (a ring group, a trunk failover), so the id is the uniqueid plus the CDR's `sequence`
 * when the layout has it ("uniqueid, linkedid and sequence identify a CDR", Asterisk 12 CDR specification), or
 * else a short fingerprint of the record: another call, or another leg, is never taken for a replay. A value
 * that does not look like a uniqueid (`[system-]1763860000.42`: a layout without it, or a userfield in its place)
 * gives a fingerprint of the whole record.
 */
export function cdrCallId(uniqueid: string, sequence: string, record: string): string {
  const uid = uniqueid.trim();
  if (!/\d{9,}\.\d+$/.test(uid) || uid.length > 48) return sha(record).slice(0, 40);
  return `${uid}#${/^\d{1,12}$/.test(sequence.trim()) ? sequence.trim() : sha(record).slice(0, 10)}`;
}

/**
 * cdr-csv writes `start` as "YYYY-MM-DD HH:MM:SS" in the PBX's local time unless Asterisk runs with
 * `usegmtime=yes` (then UTC): `tz` says which. Anything else (empty, a date that does not exist) is null.
 */
export function parseCdrTime(s: string, tz: CdrTimezone = 'local'): number | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.\d+)?$/.exec(s.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (y < 1970 || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return null;
  const t = tz === 'utc' ? Date.UTC(y, mo - 1, d, h, mi, se) : new Date(y, mo - 1, d, h, mi, se).getTime();
  return Number.isFinite(t) ? t : null;
}

/** A CDR from named fields (a CSV line or a database row); null when its start time is unreadable. */
export function cdrFromFields(get: (name: string) => string, raw: string, tz: CdrTimezone): CdrCall | null {
  const at = parseCdrTime(get('start'), tz);
  if (at === null) return null;
  // Field lengths as the bot accepts them (a longer value would have the whole post refused).
  return {
    callId: cdrCallId(get('uniqueid'), get('sequence'), raw),
    at,
    src: cut(get('src'), 128),
    dst: cut(get('dst'), 128),
    duration: Math.max(0, Math.trunc(Number(get('duration')) || 0)),
    disposition: cut(get('disposition'), 32),
    ...(get('billsec') !== '' && Number.isFinite(Number(get('billsec'))) ? { billsec: Math.max(0, Math.trunc(Number(get('billsec')))) } : {}),
    ...(get('dcontext') ? { dcontext: cut(get('dcontext'), 128) } : {}),
    raw: cut(raw, CDR_RAW_MAX),
  };
}

/** One CSV line in the given layout; null when it is not a CDR (too few fields, unreadable start time). */
export function parseCdrLine(line: string, tz: CdrTimezone = 'local', layout: CdrLayout = DEFAULT_LAYOUT): CdrCall | null {
  let rec: string[];
  try {
    rec = (parse(line, { relax_quotes: true, relax_column_count: true }) as string[][])[0] ?? [];
  } catch {
    return null;
  }
  if (rec.length < layout.minFields) return null;
  return cdrFromFields(
    (name) => {
      const i = layout.index.get(name);
      return i === undefined ? '' : (rec[i] ?? '');
    },
    line,
    tz,
  );
}

/** Default read window: at most this many bytes of the CSV per read(). */
export const CDR_READ_BYTES = 4 * 1024 * 1024;

export interface CdrPosition {
  ino: number;
  offset: number;
  tail?: string;
  /** Inside a line longer than the read window: skip up to its newline. */
  skipping?: boolean;
}

export interface CdrRead {
  calls: CdrCall[];
  /** ends[i]: the file offset just after calls[i]'s line (commit it once calls[0..i] are delivered). */
  ends: number[];
  next: CdrPosition;
  /**
   * The file offset just after each line skipped (longer than the read window, or unparsable), ascending:
   * a skip counts once its offset is committed.
   */
  skippedEnds: number[];
  /** More of the file is waiting beyond this read. */
  more: boolean;
  ino: number;
}

export class CdrTail {
  private pos: CdrPosition;
  constructor(
    private file: string,
    private stateFile: string,
    private tz: CdrTimezone = 'local',
    private layout: CdrLayout = DEFAULT_LAYOUT,
  ) {
    try {
      this.pos = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    } catch {
      // First run: start at the end of an existing file (history is not news).
      let offset = 0;
      let ino = 0;
      try {
        const st = fs.statSync(file);
        offset = st.size;
        ino = st.ino;
      } catch {
        /* not there yet */
      }
      this.pos = { ino, offset };
      this.save();
    }
  }

  private save(): void {
    writePrivate(this.stateFile, JSON.stringify(this.pos));
  }

  /** New complete lines since the last commit (at most maxBytes of the file), and the position to commit after they were delivered. */
  read(maxBytes = CDR_READ_BYTES): CdrRead | null {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      return null;
    }
    let offset = this.pos.offset;
    let skipping = !!this.pos.skipping;
    if (st.ino !== this.pos.ino || st.size < offset || (offset > 0 && this.pos.tail !== undefined && this.tailAt(offset) !== this.pos.tail)) {
      offset = 0;
      skipping = false;
    }
    if (st.size === offset) {
      if (st.ino !== this.pos.ino) this.pos = { ino: st.ino, offset };
      return null;
    }
    const fd = fs.openSync(this.file, 'r');
    let buf: Buffer;
    try {
      const len = Math.min(st.size - offset, maxBytes);
      buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, offset);
    } finally {
      fs.closeSync(fd);
    }
    const full = buf.length === maxBytes;
    const at = (off: number, skip: boolean): CdrPosition => ({ ino: st.ino, offset: off, tail: this.tailAt(off), ...(skip ? { skipping: true } : {}) });
    let start = 0;
    const skippedEnds: number[] = [];
    if (skipping) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return full ? { calls: [], ends: [], next: at(offset + buf.length, true), skippedEnds: [], more: true, ino: st.ino } : null;
      start = nl + 1;
      skippedEnds.push(offset + start);
    }
    const end = buf.lastIndexOf(0x0a);
    if (end < start) {
      // No complete line after `start`: one longer than the read window is skipped (up to its newline).
      if (full) return { calls: [], ends: [], next: at(offset + buf.length, true), skippedEnds, more: true, ino: st.ino };
      return start > 0 ? { calls: [], ends: [], next: at(offset + start, false), skippedEnds, more: false, ino: st.ino } : null;
    }
    const calls: CdrCall[] = [];
    const ends: number[] = [];
    for (let p = start; p <= end; ) {
      const nl = buf.indexOf(0x0a, p);
      const line = buf.subarray(p, nl).toString('utf8');
      p = nl + 1;
      if (!line.trim()) continue;
      const c = parseCdrLine(line, this.tz, this.layout);
      if (!c) {
        skippedEnds.push(offset + p);
        continue;
      }
      calls.push(c);
      ends.push(offset + p);
    }
    const nextOff = offset + end + 1;
    return { calls, ends, next: at(nextOff, false), skippedEnds, more: nextOff < st.size, ino: st.ino };
  }

  /** The position just after a delivered line (offset from `ends`). */
  positionAt(ino: number, offset: number): CdrPosition {
    return { ino, offset, tail: this.tailAt(offset) };
  }

  /** The last (up to) 64 bytes before offset: a truncated-and-rewritten file no longer matches them. */
  private tailAt(offset: number): string {
    const fd = fs.openSync(this.file, 'r');
    try {
      const start = Math.max(0, offset - 64);
      const b = Buffer.alloc(offset - start);
      fs.readSync(fd, b, 0, b.length, start);
      return b.toString('hex');
    } finally {
      fs.closeSync(fd);
    }
  }

  commit(next: CdrPosition): void {
    this.pos = next;
    this.save();
  }
}
