import { UsageError } from '../src/core/command.js';
import type { Command } from '../src/app-types.js';
import { ConsoleAuth } from '../src/console/auth.js';
import { table, when } from '../src/core/format.js';
import { recentAudit } from '../src/core/audit.js';

export const commands: Command[] = [
  {
    name: 'audit',
    usage: 'audit [n] [user=platform:id] [outcome=ok|denied|failed|invalid|confirm]',
    example: 'audit 20 outcome=denied',
    summary: 'recent command attempts (newest first)',
    role: 'admin',
    args: {
      positional: [{ name: 'n', type: 'integer', minimum: 1, maximum: 500, default: 20 }],
      named: { user: { pattern: '^[a-z]+:\\S+$' }, outcome: { enum: ['ok', 'denied', 'failed', 'invalid', 'confirm'] } },
    },
    async run(ctx, args) {
      const who = args.user ? String(args.user) : undefined;
      const i = who?.indexOf(':') ?? -1;
      const rows = await recentAudit(ctx.app.db, { limit: Number(args.n), platform: who?.slice(0, i), userId: who?.slice(i + 1), outcome: args.outcome ? String(args.outcome) : undefined });
      if (!rows.length) return 'No audit rows match.';
      return table(
        ['#', 'when', 'who', 'outcome', 'command line'],
        rows.map((r) => [String(r.id), when(r.at), `${r.platform}:${r.user_id}`, r.outcome, r.args.length > 80 ? `${r.args.slice(0, 77)}...` : r.args]),
      );
    },
  },
  {
    name: 'audit logins',
    usage: 'audit logins [user] [n]',
    example: 'audit logins admin 10',
    summary: 'recent web-console login attempts (newest first): time, name, source address, result',
    details:
      'A name that matches no console user is stored as a keyed hash, never as text (it may be a password typed into the wrong field): ' +
      'such rows show as "(unknown user #<hash>)". `audit logins <name>` still finds and counts the attempts made with that name.',
    role: 'admin',
    args: {
      positional: [
        { name: 'user', description: 'console user name (a lone number is taken as n)' },
        { name: 'n', type: 'integer', minimum: 1, maximum: 500, description: 'how many (default 20)' },
      ],
    },
    async run(ctx, args) {
      let user = args.user === undefined ? undefined : String(args.user);
      let n = args.n === undefined ? 20 : Number(args.n);
      if (user !== undefined && args.n === undefined && /^\d+$/.test(user)) {
        n = Number(user);
        user = undefined;
        if (n < 1 || n > 500) throw new UsageError('n must be a whole number from 1 to 500');
      }
      const auth = ctx.app.services.console.auth;
      const rows = await auth.attempts({ name: user, limit: n });
      const shown = (stored: string) => (ConsoleAuth.isHashedName(stored) ? `(unknown user ${stored.slice(0, 9)})` : stored);
      const body = rows.length
        ? table(
            ['when', 'user', 'source', 'result'],
            rows.map((r) => [when(r.at), shown(r.username), r.source, r.success ? 'ok' : 'failed']),
          )
        : '';
      if (user === undefined) return rows.length ? `Last ${rows.length} login attempt${rows.length === 1 ? '' : 's'}:\n${body}` : 'No login attempts recorded.';
      const c = await auth.countAttempts(user);
      const known = await auth.exists(user);
      const head = `${user}${known ? '' : ` (no console user of that name; its attempts are stored as ${(await auth.hashedName(user)).slice(0, 9)})`}: ${c.total} attempt${c.total === 1 ? '' : 's'}, ${c.failed} failed${c.first ? `, since ${when(c.first)}` : ''}.`;
      return rows.length ? `${head}\n${body}` : head;
    },
  },
];
