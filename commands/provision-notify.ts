// `provision resync|reboot`: SIP NOTIFY check-sync to the phones named; past five phones, as a job.
import type { Command, CommandContext, JobKind } from '../src/app-types.js';
import { UserError } from '../src/core/command.js';
import { table } from '../src/core/format.js';
import type { PhoneRecord, ProvisionService } from '../src/provision/service.js';
import { notifyLine, notifyOne, pool } from '../src/provision/resync.js';
import { targets } from '../src/provision/phone-lookup.js';

const svc = (ctx: { app: CommandContext['app'] }) => ctx.app.services.provision as ProvisionService;

export const jobKinds: Record<string, JobKind> = {
  'provision-notify': {
    title: (a: { macs: string[]; reboot?: boolean }) => `${a.reboot ? 'reboot' : 're-sync'} ${a.macs.length} phones`,
    async run(ctx) {
      const a = ctx.args as { macs: string[]; reboot: boolean };
      const s = svc(ctx);
      await s.refreshFetches();
      const phones = a.macs.map((m) => s.get(m)).filter((p): p is PhoneRecord => !!p);
      const res = await pool(
        phones,
        50,
        (p) => {
          ctx.throwIfCancelled();
          return notifyOne(s, p, a.reboot);
        },
        (d) => ctx.progress(d, phones.length),
      );
      const ok = res.filter((x) => x.r.status !== null && x.r.status < 300).length;
      const lines = res.map(notifyLine);
      return {
        text: `${a.reboot ? 'Reboot' : 'Re-sync'} sent to ${phones.length} phones: ${ok} answered 2xx, ${phones.length - ok} did not.\n${table(['mac', 'ext', 'address', 'result', 'time'], lines.slice(0, 50))}`,
        data: { ok, failed: phones.length - ok },
      };
    },
  },
};

export const commands: Command[] = [
  ...(['resync', 'reboot'] as const).map(
    (verb): Command => ({
      name: `provision ${verb}`,
      usage: `provision ${verb} <mac|ext|all>`,
      example: `provision ${verb} 201`,
      summary: verb === 'resync' ? 'SIP NOTIFY check-sync: the phone re-fetches its config now' : 'SIP NOTIFY check-sync;reboot=true: the phone re-fetches its config and reboots',
      role: 'operator',
      args: { positional: [{ name: 'key', required: true }] },
      // A reboot always asks; a re-sync asks when it goes to every phone (each one re-fetches at once).
      confirm: (args, ctx) => {
        const all = String(args.key) === 'all';
        if (verb === 'resync' && !all) return null;
        const l = targets(svc(ctx), String(args.key));
        const which = `${all ? 'all ' : ''}${l.length} phone${l.length === 1 ? '' : 's'} (${l
          .slice(0, 5)
          .map((p) => p.extension)
          .join(', ')}${l.length > 5 ? ', …' : ''})`;
        return verb === 'reboot' ? `reboot ${which}` : `re-sync ${which}: each re-fetches its config now`;
      },
      async run(ctx, args) {
        await svc(ctx).refreshFetches(); // the address a phone last fetched from, on any replica
        const list = targets(svc(ctx), String(args.key));
        if (list.length > 5) {
          await ctx.startJob('provision-notify', { macs: list.map((p) => p.mac), reboot: verb === 'reboot' }, { total: list.length });
          return;
        }
        const res = await Promise.all(list.map((p) => notifyOne(svc(ctx), p, verb === 'reboot')));
        const ok = res.every((x) => x.r.status !== null && x.r.status < 300);
        const text = `${verb === 'reboot' ? 'Reboot' : 'Re-sync'} (SIP NOTIFY Event: check-sync${verb === 'reboot' ? ';reboot=true' : ''}):\n${table(['mac', 'ext', 'address', 'result', 'time'], res.map(notifyLine))}`;
        if (!ok) throw new UserError(text);
        return text;
      },
    }),
  ),
];
