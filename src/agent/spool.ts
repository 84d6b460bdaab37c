// On-disk spool: every result is appended (JSON line) before it is sent, so nothing is lost when the bot
// is unreachable or the agent restarts. The uploader takes lines from the head in order and removes them
// by id once the bot acknowledged them. Size-capped: when full the oldest lines go, and the count is kept
// (persisted) until the bot has been told.
import fs from 'node:fs';
import path from 'node:path';

export class Spool {
  private file: string;
  private stateFile: string;
  dropped = 0;

  constructor(
    dir: string,
    private maxBytes: number,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, 'results.jsonl');
    this.stateFile = path.join(dir, 'spool-state.json');
    try {
      this.dropped = Number(JSON.parse(fs.readFileSync(this.stateFile, 'utf8')).dropped) || 0;
    } catch {
      /* none */
    }
  }

  append(items: unknown[]): void {
    if (!items.length) return;
    fs.appendFileSync(this.file, items.map((i) => `${JSON.stringify(i)}\n`).join(''), { mode: 0o600 });
    const size = fs.statSync(this.file).size;
    if (size > this.maxBytes) this.trim();
  }

  private trim(): void {
    const lines = this.lines();
    let size = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    let drop = 0;
    while (drop < lines.length && size > this.maxBytes * 0.9) size -= Buffer.byteLength(lines[drop++]!) + 1;
    this.rewrite(lines.slice(drop));
    this.setDropped(this.dropped + drop);
  }

  setDropped(n: number): void {
    this.dropped = n;
    fs.writeFileSync(this.stateFile, JSON.stringify({ dropped: n }), { mode: 0o600 });
  }

  private lines(): string[] {
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((l) => l.length > 0);
  }

  private rewrite(lines: string[]): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  /** The oldest n items (not removed). */
  peek<T>(n: number): T[] {
    const out: T[] = [];
    for (const l of this.lines().slice(0, n)) {
      try {
        out.push(JSON.parse(l) as T);
      } catch {
        /* torn line from a crash: skipped */
      }
    }
    return out;
  }

  /**
   * Remove exactly the items with these ids (the bot acknowledged or refused them), wherever they are now:
   * the spool may have been trimmed, and grown, while they were in flight. Lines are parsed only until all
   * the ids are found (normally the head of the spool); the rest is kept as it is. Torn lines (a crash
   * mid-write) met on the way go too and count as dropped. Returns how many of the ids were no longer there
   * (trimmed meanwhile, so already counted as dropped).
   */
  ack(ids: Iterable<string>): number {
    const want = new Set(ids);
    if (!want.size) return 0;
    const lines = this.lines();
    const keep: string[] = [];
    let found = 0;
    let torn = 0;
    let i = 0;
    for (; i < lines.length && found < want.size; i++) {
      const l = lines[i]!;
      let id: unknown;
      try {
        id = (JSON.parse(l) as { id?: unknown }).id;
      } catch {
        torn++;
        continue;
      }
      if (typeof id === 'string' && want.has(id)) found++;
      else keep.push(l);
    }
    this.rewrite(i < lines.length ? keep.concat(lines.slice(i)) : keep);
    if (torn) this.setDropped(this.dropped + torn);
    return want.size - found;
  }

  size(): number {
    return this.lines().length;
  }
}
