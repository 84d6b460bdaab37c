// `renew scan|run|log|forget|key`: sweep a network for SSH, renew the managed local account on each PC.
import dns from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import type { Command, CommandContext } from '../src/core/command.js';
import { UserError } from '../src/core/command.js';
import type { JobKind } from '../src/core/jobs.js';
import { table, when } from '../src/core/format.js';
import { checkAllowed, expandNetwork, pool, sweep } from '../src/renew/scanner.js';
import type { HostOutcome } from '../src/renew/service.js';
import { LEVELS, type Level } from '../src/renew/inventory.js';

const RANGE = { pattern: '^\\d{1,3},\\d{1,3}$', description: 'last-octet range a,b (default 2,254 for three octets)' } as const;
const PORT = { type: 'integer', minimum: 1, maximum: 65535 } as const;

async function resolveTargets(ctx: CommandContext, words: string[], range?: string): Promise<string[]> {
  if (!words.length) throw new UserError('give a network (192.168.122 or 192.168.122.0/24) or one or more hosts');
  const hosts: string[] = [];
  for (const w of words) {
    if (/^[\d.]+(\/\d+)?$/.test(w)) {
      hosts.push(...expandNetwork(w, range).hosts);
      continue;
    }
    let addr: string;
    try {
      addr = (await dns.lookup(w, { family: 4 })).address;
    } catch {
      throw new UserError(`cannot resolve host "${w}"`);
    }
    hosts.push(addr);
  }
  const uniq = [...new Set(hosts)];
  checkAllowed(uniq, ctx.app.config.renew.allow, words.join(' '));
  return uniq;
}

export const jobKinds: Record<string, JobKind> = {
  renew: {
    title: (a: { hosts: string[]; dryRun?: boolean }) => `renew ${a.hosts.length} host${a.hosts.length === 1 ? '' : 's'}${a.dryRun ? ' (dry run)' : ''}`,
    async run(ctx) {
      const { hosts, port, dryRun } = ctx.args as { hosts: string[]; port: number; dryRun?: boolean };
      const svc = ctx.app.services.renew;
      const requester = `${ctx.requester.platform}:${ctx.requester.userId}`;
      let done = 0;
      ctx.progress(0, hosts.length, 'starting');
      const results = await pool(hosts, svc.cfg.concurrency, async (host): Promise<HostOutcome> => {
        ctx.throwIfCancelled();
        const r = await svc.renewHost(host, port, { jobId: ctx.id, requester, dryRun });
        ctx.progress(++done, hosts.length, `${host}: ${r.status}`);
        if (r.status === 'refused') await ctx.post(`⛔ ${host}: ${r.error} (request #${r.requestId}; the other hosts continue)`);
        if (r.status === 'ok' && r.password && r.account && r.mac && r.facts) {
          const date = new Date();
          const { userSheetPdf, labelPng, labelPdf } = await import('../src/renew/sheets.js'); // PDF/canvas libraries load on first use
          const sheet = await userSheetPdf({ account: r.account, password: r.password, hostname: String(r.facts.hostname ?? ''), ip: host, mac: r.mac, date, requestId: r.requestId });
          await ctx.dm(
            {
              text: `New account on ${r.facts.hostname} (${host}, request #${r.requestId}): ${r.account} / password: ${r.password}`,
              files: [{ name: `account-${r.requestId}-${r.account}.pdf`, data: sheet, mime: 'application/pdf' }],
            },
            { secret: true },
          );
          const rec = { mac: r.mac, hostname: String(r.facts.hostname ?? ''), serial: String(r.facts.serial ?? 'unknown'), url: `${ctx.app.baseUrl()}/inventory/pc/${r.mac}` };
          const base = `label-${rec.hostname || r.mac.replace(/:/g, '')}`;
          await ctx.post({
            text: `🏷️ Label for ${rec.hostname} (${rec.mac}, S/N ${rec.serial}) — request #${r.requestId}`,
            files: [
              { name: `${base}.png`, data: labelPng(rec), mime: 'image/png' },
              { name: `${base}.pdf`, data: await labelPdf(rec), mime: 'application/pdf' },
            ],
          });
        }
        delete r.password;
        return r;
      });
      const ok = results.filter((r) => r.status === 'ok').length;
      const lines = table(
        ['host', 'request', 'status', 'account', 'mac', 'note'],
        results.map((r) => [r.host, `#${r.requestId}`, r.status, r.account ?? '', r.mac ?? '', (r.error ?? (r.keyStep ? `key ${r.keyStep}` : '')).slice(0, 120)]),
      );
      const head = dryRun ? `Dry run on ${results.length} host(s); nothing changed.` : `${ok}/${results.length} host(s) renewed; passwords and user sheets were sent to you by direct message. \`renew log <request>\` shows each host's steps.`;
      return {
        text: `${head}\n${lines}`,
        data: { results: results.map((r) => ({ host: r.host, request: r.requestId, status: r.status, account: r.account ?? null, mac: r.mac ?? null, error: r.error ?? null })) },
      };
    },
  },
};

export const commands: Command[] = [
  {
    name: 'renew scan',
    usage: 'renew scan <network> [range=a,b] [port=22]',
    summary: 'sweep a network (three octets or CIDR) for PCs answering on the SSH port',
    role: 'operator',
    args: { positional: [{ name: 'network', required: true, description: '192.168.122 or 192.168.122.0/24' }], named: { range: RANGE, port: PORT } },
    async run(ctx, args) {
      const cfg = ctx.app.config.renew;
      const t = expandNetwork(String(args.network), args.range as string | undefined);
      checkAllowed(t.hosts, cfg.allow, String(args.network));
      const port = Number(args.port ?? cfg.ssh.port);
      const r = await sweep(t.hosts, port, { concurrency: cfg.scan.concurrency, timeoutMs: cfg.scan.timeoutMs });
      const head = `${r.open.length} of ${t.hosts.length} host(s) in ${t.cidr} answer on port ${port} (${(r.ms / 1000).toFixed(1)} s)`;
      return r.open.length ? `${head}:\n${r.open.join('\n')}` : `${head}.`;
    },
  },
  {
    name: 'renew run',
    usage: 'renew run <network|host…> [range=a,b] [port=22] [--dry-run]',
    summary: 'replace the managed local account on each PC (job; passwords come to you by DM)',
    role: 'operator',
    details: 'Hosts are handled in parallel (renew.concurrency); one failure never stops the others. A changed host key is refused.',
    args: { positional: [{ name: 'targets', rest: true }], named: { range: RANGE, port: PORT }, flags: { 'dry-run': { description: 'probe and show the plan without changing anything' } } },
    async confirm(args, ctx) {
      if (args.flags['dry-run']) return null;
      const hosts = await resolveTargets(ctx, args.targets as string[], args.range as string | undefined);
      const shown = hosts.length > 5 ? `${hosts.slice(0, 5).join(', ')} … (${hosts.length} hosts)` : hosts.join(', ');
      return `renew the local account on ${shown}: end sessions and delete accounts matching the managed pattern, then create a new one`;
    },
    async run(ctx, args) {
      const hosts = await resolveTargets(ctx, args.targets as string[], args.range as string | undefined);
      const port = Number(args.port ?? ctx.app.config.renew.ssh.port);
      await ctx.startJob('renew', { hosts, port, dryRun: !!args.flags['dry-run'] }, { total: hosts.length });
    },
  },
  {
    name: 'renew log',
    usage: 'renew log <request> [level]',
    summary: "one renewal request's step log (DEBUG, INFO, WARNING, ERROR, CRITICAL)",
    role: 'viewer',
    args: { positional: [{ name: 'request', required: true, type: 'integer', minimum: 1 }, { name: 'level', enum: [...LEVELS], default: 'DEBUG' }] },
    async run(ctx, args) {
      const inv = ctx.app.services.renew.inventory;
      const req = await inv.request(Number(args.request));
      if (!req) throw new UserError(`no renewal request #${args.request}`);
      const lines = await inv.logLines(req.id, args.level as Level);
      const head = `Request #${req.id} ${req.host}:${req.port} — ${req.status}${req.account ? ` — ${req.account}` : ''} (job #${req.job_id ?? '-'}, ${when(req.created_at)})`;
      return `${head}\n${table(['time', 'level', 'message'], lines.map((l) => [new Date(l.at).toISOString().slice(11, 23), l.level, l.message]), { maxWidth: 200 })}`;
    },
  },
  {
    name: 'renew forget',
    usage: 'renew forget <host>',
    summary: "drop a PC's pinned SSH host key (after a reinstall), so the next renewal pins the new one",
    role: 'admin',
    args: { positional: [{ name: 'host', required: true }] },
    confirm: (args) => `forget the pinned host key of ${args.host}`,
    async run(ctx, args) {
      const host = String(args.host);
      if (!ipaddr.isValid(host)) throw new UserError(`"${host}" is not an IP address`);
      const n = await ctx.app.services.renew.inventory.forget(host);
      if (!n) throw new UserError(`no pinned host key for ${host}`);
      return `Forgot the pinned host key of ${host}.`;
    },
  },
  {
    name: 'renew key',
    usage: 'renew key',
    summary: "the bot's public SSH key (to pre-install it on PCs)",
    role: 'operator',
    async run(ctx) {
      return ctx.app.services.renew.keyPair().publicKey;
    },
  },
];
