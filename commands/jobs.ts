import type { Command } from '../src/app-types.js';
import { UserError } from '../src/core/command.js';
import { renderJob } from '../src/core/jobs.js';
import { when } from '../src/core/format.js';
import { structured, tablePart } from '../src/core/message.js';

const ID = { name: 'id', required: true, type: 'integer', minimum: 1 } as const;

export const commands: Command[] = [
  {
    name: 'jobs',
    usage: 'jobs [all] [n]',
    example: 'jobs all 10',
    summary: 'recent jobs (queued and running first; `all` includes finished ones)',
    role: 'viewer',
    args: {
      positional: [
        { name: 'scope', enum: ['all', 'active'], default: 'active' },
        { name: 'n', type: 'integer', minimum: 1, maximum: 200, default: 20 },
      ],
    },
    async run(ctx, args) {
      const rows = await ctx.app.jobs.recent({ limit: Number(args.n), activeOnly: args.scope !== 'all' });
      if (!rows.length) return args.scope === 'all' ? 'No jobs yet.' : 'No job is queued or running. `jobs all` shows finished ones.';
      return structured([
        tablePart(
          ['#', 'kind', 'status', 'progress', 'by', 'created'],
          rows.map((r) => [String(r.id), r.kind, r.status, r.total ? `${r.done}/${r.total}` : String(r.done || ''), `${r.requested_platform}:${r.requested_user}`, when(r.created_at)]),
          { align: ['right', 'left', 'left', 'right', 'left', 'left'] },
        ),
      ]);
    },
  },
  {
    name: 'job',
    usage: 'job <id>',
    example: 'job 1',
    summary: "one job's status, progress and result",
    role: 'viewer',
    args: { positional: [ID] },
    async run(ctx, args) {
      const row = await ctx.app.jobs.get(Number(args.id));
      if (!row) throw new UserError(`no job #${args.id}`, 'SB_NOT_FOUND');
      const title = ctx.app.registry.jobKinds.get(row.kind)?.title?.(JSON.parse(row.args));
      const lines = [renderJob(row, title), `requested by ${row.requested_platform}:${row.requested_user} at ${when(row.created_at)}`];
      if (row.started_at) lines.push(`started ${when(row.started_at)}${row.finished_at ? `, finished ${when(row.finished_at)} (${((row.finished_at - row.started_at) / 1000).toFixed(1)} s)` : ''}`);
      return lines.join('\n');
    },
  },
  {
    name: 'cancel',
    usage: 'cancel <id>',
    example: 'cancel 1',
    summary: 'cancel a queued or running job',
    role: 'operator',
    args: { positional: [ID] },
    async run(ctx, args) {
      const r = await ctx.app.jobs.cancel(Number(args.id));
      if (r === 'unknown') throw new UserError(`no job #${args.id}`, 'SB_NOT_FOUND');
      if (r === 'finished') throw new UserError(`job #${args.id} has already finished`);
      return r === 'cancelled' ? `Job #${args.id} cancelled.` : `Cancelling job #${args.id}…`;
    },
  },
];
