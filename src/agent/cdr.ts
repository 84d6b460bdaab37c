// Tails Asterisk's CDR CSV (Master.csv). The position (inode + offset) is remembered in a state file so a
// restart neither re-sends nor skips calls; a new inode or a shorter file means rotation/truncation and
// reading restarts at 0.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parse } from 'csv-parse/sync';

export interface CdrCall {
  callId: string;
  at: number;
  src: string;
  dst: string;
  duration: number;
  disposition: string;
  raw: string;
}

export function parseCdrLine(line: string): CdrCall | null {
  let rec: string[];
  try {
    rec = (parse(line, { relax_quotes: true, relax_column_count: true }) as string[][])[0] ?? [];
  } catch {
    return null;
  }
  if (rec.length < 15) return null;
  // accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,duration,billsec,disposition,amaflags[,userfield,uniqueid]
  const start = Date.parse(`${rec[9]!.replace(' ', 'T')}Z`);
  const uniqueid = rec[17] ?? '';
  return {
    callId: uniqueid || crypto.createHash('sha256').update(line).digest('hex').slice(0, 40),
    at: Number.isFinite(start) ? start : Date.now(),
    src: rec[1] ?? '',
    dst: rec[2] ?? '',
    duration: Number(rec[12]) || 0,
    disposition: rec[14] ?? '',
    raw: line,
  };
}

export class CdrTail {
  private pos: { ino: number; offset: number; tail?: string };
  constructor(private file: string, private stateFile: string) {
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
    fs.writeFileSync(this.stateFile, JSON.stringify(this.pos), { mode: 0o600 });
  }

  /** New complete lines since the last commit, and the position to commit after they were delivered. */
  read(): { calls: CdrCall[]; next: { ino: number; offset: number; tail?: string } } | null {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      return null;
    }
    let offset = this.pos.offset;
    if (st.ino !== this.pos.ino || st.size < offset || (offset > 0 && this.pos.tail !== undefined && this.tailAt(offset) !== this.pos.tail)) offset = 0;
    if (st.size === offset) {
      if (st.ino !== this.pos.ino) this.pos = { ino: st.ino, offset };
      return null;
    }
    const fd = fs.openSync(this.file, 'r');
    try {
      const len = Math.min(st.size - offset, 4 * 1024 * 1024);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, offset);
      const end = buf.lastIndexOf(0x0a);
      if (end < 0) return null;
      const text = buf.subarray(0, end + 1).toString('utf8');
      const calls = text.split('\n').filter((l) => l.trim()).map(parseCdrLine).filter((c): c is CdrCall => c !== null);
      const nextOff = offset + end + 1;
      return { calls, next: { ino: st.ino, offset: nextOff, tail: this.tailAt(nextOff) } };
    } finally {
      fs.closeSync(fd);
    }
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

  commit(next: { ino: number; offset: number; tail?: string }): void {
    this.pos = next;
    this.save();
  }
}
