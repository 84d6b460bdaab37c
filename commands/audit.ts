import type { Command } from '../src/core/command.js';
import { table, when } from '../src/core/format.js';

export const commands: Command[] = [
  {
    name: 'audit',
    usage: 'audit [n] [user=platform:id] [outcome=ok|denied|failed|invalid|confirm]',
    summary: 'recent command attempts (newest first)',
    role: 'admin',
    args: {
      positional: [{ name: 'n', type: 'integer', minimum: 1, maximum: 500, default: 20 }],
      named: { user: { pattern: '^[a-z]+:\\S+$' }, outcome: { enum: ['ok', 'denied', 'failed', 'invalid', 'confirm'] } },
    },
    async run(ctx, args) {
      let q = ctx.app.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(Number(args.n));
      if (args.user) {
        const s = String(args.user);
        const i = s.indexOf(':');
        q = q.where('platform', '=', s.slice(0, i)).where('user_id', '=', s.slice(i + 1));
      }
      if (args.outcome) q = q.where('outcome', '=', String(args.outcome));
      const rows = await q.execute();
      if (!rows.length) return 'No audit rows match.';
      return table(
        ['#', 'when', 'who', 'outcome', 'command line'],
        rows.map((r) => [String(r.id), when(r.at), `${r.platform}:${r.user_id}`, r.outcome, r.args.length > 80 ? `${r.args.slice(0, 77)}...` : r.args]),
      );
    },
  },
];
