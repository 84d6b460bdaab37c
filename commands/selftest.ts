// `selftest`: a job that only reports progress, to check that job messages reach and update in a channel.
import type { Command, JobKind } from '../src/app-types.js';

export const jobKinds: Record<string, JobKind> = {
  selftest: {
    title: (a: { seconds: number }) => `selftest (${a.seconds} s)`,
    async run(ctx) {
      const { seconds } = ctx.args as { seconds: number };
      for (let i = 1; i <= seconds; i++) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          ctx.signal.addEventListener(
            'abort',
            () => {
              clearTimeout(t);
              resolve();
            },
            { once: true },
          );
        });
        ctx.throwIfCancelled();
        ctx.progress(i, seconds, `tick ${i}`);
      }
      return { text: `Progress reached ${seconds}/${seconds}; message edits work here.`, data: { seconds } };
    },
  },
};

export const commands: Command[] = [
  {
    name: 'selftest',
    usage: 'selftest [seconds]',
    example: 'selftest 2',
    summary: 'run a short job that edits its progress message every second (checks this channel)',
    role: 'operator',
    args: { positional: [{ name: 'seconds', type: 'integer', minimum: 1, maximum: 600, default: 5 }] },
    async run(ctx, args) {
      await ctx.startJob('selftest', { seconds: Number(args.seconds) }, { total: Number(args.seconds) });
    },
  },
];
