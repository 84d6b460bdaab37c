import type { Command, CommandContext } from '../src/app-types.js';
import { UserError } from '../src/core/command.js';
import { when } from '../src/core/format.js';
import { formatCall, recentCalls } from '../src/dhcp/callerid.js';

async function recent(ctx: CommandContext, n: number): Promise<string[]> {
  await ctx.app.services.callLog?.flush();
  return (await recentCalls(ctx.app.db, n)).map((r) => `${when(r.at)}  ${formatCall(r.number, r.matches, r.name)}`);
}

export const commands: Command[] = [
  {
    name: 'call last',
    usage: 'call last',
    example: 'call last',
    summary: 'the last call to the support line and its hosts',
    role: 'viewer',
    async run(ctx) {
      const r = await recent(ctx, 1);
      if (!r.length) throw new UserError('No calls recorded yet.');
      return r[0]!;
    },
  },
  {
    name: 'calls',
    usage: 'calls [n]',
    example: 'calls 10',
    summary: 'recent calls with their matching hosts',
    role: 'viewer',
    args: { positional: [{ name: 'n', type: 'integer', minimum: 1, maximum: 100, default: 10 }] },
    async run(ctx, args) {
      const r = await recent(ctx, Number(args.n ?? 10));
      if (!r.length) return 'No calls recorded yet.';
      return r.join('\n');
    },
  },
];
