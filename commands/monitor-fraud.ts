// `monitor fraud …`: toll-fraud prefix rules and a node's business hours.
import type { Command, CommandContext } from '../src/app-types.js';
import { UserError, UsageError } from '../src/core/command.js';
import { table } from '../src/core/format.js';
import { span } from '../src/monitor/types.js';
import { parseHours } from '../src/monitor/fraud-rules.js';
import { NAME, durationArg as ms } from '../src/monitor/command-args.js';

const svc = (ctx: CommandContext) => ctx.app.services.monitor;

export const commands: Command[] = [
  {
    name: 'monitor fraud rules',
    usage: 'monitor fraud rules',
    example: 'monitor fraud rules',
    summary: 'toll-fraud prefix rules and limits, business hours',
    role: 'viewer',
    async run(ctx) {
      const f = svc(ctx).fraud;
      const c = ctx.app.config.monitor.fraud;
      const rows = await f.rules();
      const nodes = (await svc(ctx).nodes.overview()).filter((n) => n.node.business_hours);
      const hours = [
        `Business hours: ${f.formatHours(f.defaultHours())}${nodes.length ? `; ${nodes.map((n) => `${n.node.name}: ${f.formatHours(parseHours(n.node.business_hours!))}`).join('; ')}` : ''}.`,
      ];
      const foot = `Burst limit ${c.burstPerHour} outbound calls/hour per node; Wangiri: ${c.wangiri.minCalls}+ calls of ≤ ${c.wangiri.maxSeconds}s from one foreign prefix within ${span(c.wangiri.windowMs)}; a group resolves after ${span(c.quietMs)} without a new call.\n${hours.join('\n')}`;
      if (!rows.length) return `No fraud rules yet (monitor fraud add <prefix> premium|international|limit [cpm=…] [concurrent=…] [duration=…] [sequential=…] [note]).\n${foot}`;
      const limits = (r: (typeof rows)[number]) =>
        [r.cpm ? `${r.cpm}/min` : '', r.concurrent ? `${r.concurrent} at once` : '', r.total_seconds ? `${span(r.total_seconds * 1000)}/h` : '', r.sequential ? `${r.sequential} in a row` : '']
          .filter(Boolean)
          .join(', ');
      return `${table(
        ['id', 'prefix', 'kind', 'limits', 'note'],
        rows.map((r) => [String(r.id), r.prefix, r.kind, limits(r), r.note ?? '']),
      )}\n${foot}`;
    },
  },
  {
    name: 'monitor fraud add',
    usage: 'monitor fraud add <prefix> <premium|international|limit> [cpm=N] [concurrent=N] [duration=30m] [sequential=N] [note…]',
    example: 'monitor fraud add 00 international cpm=3 calls abroad',
    summary: 'flag calls to a prefix (premium/international: every call; limit: only beyond its thresholds)',
    role: 'operator',
    details:
      'Thresholds, per node and prefix (like OpenSIPS fraud_detection): cpm = calls per minute, concurrent = calls at once, duration = total call time within an hour, sequential = calls in a row to the prefix. Each counts as exceeded above N.',
    args: {
      positional: [
        { name: 'prefix', required: true, pattern: '^\\+?[0-9*#]{1,31}$' },
        { name: 'kind', required: true, enum: ['premium', 'international', 'limit'] },
        { name: 'note', rest: true },
      ],
      named: { cpm: { type: 'integer', minimum: 1 }, concurrent: { type: 'integer', minimum: 1 }, duration: {}, sequential: { type: 'integer', minimum: 1 } },
    },
    async run(ctx, args) {
      const f = svc(ctx).fraud;
      const prefix = String(args.prefix).replace(/^\+/, ctx.app.config.monitor.fraud.internationalPrefix);
      const note = ((args.note as string[] | undefined) ?? []).join(' ') || null;
      const totalSeconds = args.duration === undefined ? undefined : Math.round(ms(args.duration, 'duration', 0) / 1000);
      const id = await f.addRule({
        prefix,
        kind: args.kind as 'premium' | 'international' | 'limit',
        note,
        cpm: args.cpm as number | undefined,
        concurrent: args.concurrent as number | undefined,
        totalSeconds,
        sequential: args.sequential as number | undefined,
      });
      return `Fraud rule #${id} added: ${args.kind} prefix ${prefix}.`;
    },
  },
  {
    name: 'monitor fraud rm',
    usage: 'monitor fraud rm <id>',
    example: 'monitor fraud rm 1',
    summary: 'remove a fraud rule',
    role: 'operator',
    args: { positional: [{ name: 'id', required: true, type: 'integer', minimum: 1 }] },
    async run(ctx, args) {
      await svc(ctx).fraud.removeRule(Number(args.id));
      return `Fraud rule #${args.id} removed.`;
    },
  },
  {
    name: 'monitor fraud hours',
    usage: 'monitor fraud hours <node> [mon-fri 08:00-18:00 [tz=Area/City] | always | never | default]',
    example: 'monitor fraud hours pbx1 mon-fri 08:00-18:00 tz=Europe/Lisbon',
    summary: "a node's business hours for the off-hours fraud check (without a spec: show them)",
    role: 'operator',
    args: {
      positional: [
        { ...NAME, name: 'node' },
        { name: 'spec', rest: true },
      ],
      named: { tz: {} },
    },
    async run(ctx, args) {
      const m = svc(ctx);
      const n = await m.nodes.get(String(args.node));
      const words = (args.spec as string[] | undefined) ?? [];
      const spec = [...words, ...(args.tz !== undefined ? [`tz=${args.tz}`] : [])].join(' ');
      if (!words.length && args.tz !== undefined) throw new UsageError('tz= goes with business hours, e.g. monitor fraud hours pbx1 mon-fri 08:00-18:00 tz=America/Sao_Paulo');
      if (!spec) return `Business hours of ${n.name}: ${m.fraud.formatHours(await m.fraud.hoursOf(n.id))}${n.business_hours ? '' : ' (the default)'}.`;
      try {
        return `Business hours of ${n.name}: ${await m.fraud.setHours(n.id, spec)}.`;
      } catch (e) {
        if (e instanceof UserError) throw e;
        throw new UsageError((e as Error).message);
      }
    },
  },
];
