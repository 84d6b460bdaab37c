// Every command attempt is stored — allowed, denied or failed — with secrets redacted.
import type { Generated } from 'kysely';
import type { DB } from '../store/db.js';
import { now } from '../store/db.js';
import { scrub, SECRET_ARG_RE } from '../secrets.js';
import { tokenize } from './parser.js';
import type { Command } from './command.js';

declare module '../store/db.js' {
  interface Tables {
    audit_log: {
      id: Generated<number>;
      at: number;
      platform: string;
      user_id: string;
      user_name: string | null;
      channel: string;
      command: string;
      args: string;
      outcome: string; // ok | denied | failed | invalid | confirm
      detail: string | null;
    };
  }
}

export type Outcome = 'ok' | 'denied' | 'failed' | 'invalid' | 'confirm';

/** The command line with the value of every secret-looking or secret-declared key=value replaced by ***. */
export function redactLine(text: string, cmd?: Command): string {
  let tokens: string[];
  try {
    tokens = tokenize(text).map((t) => t.text);
  } catch {
    tokens = text.split(/\s+/);
  }
  const declared = new Set(
    Object.entries(cmd?.args?.named ?? {})
      .filter(([, s]) => s.secret)
      .map(([k]) => k),
  );
  const plain = new Set(Object.keys(cmd?.args?.named ?? {}).filter((k) => !declared.has(k)));
  const out = tokens.map((t) => {
    const m = /^(--)?([A-Za-z_][\w.-]*)=(.*)$/s.exec(t);
    if (m && (SECRET_ARG_RE.test(m[2]!) || declared.has(m[2]!))) return `${m[1] ?? ''}${m[2]}=***`;
    // Any other key=value word of such a command, whatever its key looks like (a/b, x[1], "A B/C").
    const eq = t.indexOf('=');
    if (cmd?.args?.secretPairs && eq > 0 && !t.startsWith('--') && !plain.has(t.slice(0, eq))) t = `${t.slice(0, eq)}=***`;
    return /\s/.test(t) ? JSON.stringify(t) : t;
  });
  return scrub(out.join(' ')).slice(0, 4000);
}

export interface AuditEntry {
  platform: string;
  userId: string;
  userName?: string;
  channel: string;
  command: string;
  args: string;
  outcome: Outcome;
  detail?: string;
}

/** The newest audit rows, optionally of one caller (`platform` + `userId`) or one outcome. */
export async function recentAudit(db: DB, opts: { limit: number; platform?: string; userId?: string; outcome?: string }) {
  let q = db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(opts.limit);
  if (opts.platform !== undefined && opts.userId !== undefined) q = q.where('platform', '=', opts.platform).where('user_id', '=', opts.userId);
  if (opts.outcome) q = q.where('outcome', '=', opts.outcome);
  return q.execute();
}

/** How often each command ran with outcome ok since `since` (ms), by command name. */
export async function commandUsage(db: DB, since: number): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('audit_log')
    .select(['command', (eb) => eb.fn.countAll<number>().as('n')])
    .where('at', '>', since)
    .where('outcome', '=', 'ok')
    .groupBy('command')
    .execute();
  return new Map(rows.map((r) => [r.command, Number(r.n)]));
}

export async function writeAudit(db: DB, e: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      at: now(),
      platform: e.platform,
      user_id: e.userId,
      user_name: e.userName ?? null,
      channel: e.channel.slice(0, 255),
      command: e.command.slice(0, 128),
      args: e.args,
      outcome: e.outcome,
      detail: e.detail ? scrub(e.detail).slice(0, 2000) : null,
    })
    .execute();
}
