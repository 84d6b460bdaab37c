// `renew scan|run|log|forget|key`: sweep a network for SSH, renew the managed local account on each PC.
import dns from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import type { Command, CommandContext, JobContext, JobKind } from '../src/app-types.js';
import { UserError } from '../src/core/command.js';
import { scrub } from '../src/secrets.js';
import { table, when } from '../src/core/format.js';
import { checkAllowed, expandNetwork, pool, sweep } from '../src/renew/scanner.js';
import { noteProblem, type HostOutcome } from '../src/renew/service.js';
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

/**
 * The job's first line, from what happened: every host refused or failed → the job fails (and no password is
 * said to have been sent); some → a warning naming how many were not renewed; passwords are said to be sent
 * only as far as their direct messages went out.
 */
export function renewHeadline(results: Pick<HostOutcome, 'status'>[], dm: { sent: number; kept: number }): { failed: boolean; text: string } {
  const n = results.length;
  const count = (...st: string[]) => results.filter((r) => st.includes(r.status)).length;
  const renewed = count('ok', 'warning');
  const warned = count('warning');
  const notRenewed = [count('refused') && `${count('refused')} refused`, count('failed') && `${count('failed')} failed`].filter(Boolean).join(', ');
  const passwords = dm.kept
    ? `${dm.sent ? `${dm.sent} password(s) and user sheet(s) were sent to you by direct message; ` : ''}${dm.kept} could not be sent and wait for \`renew resend <request>\``
    : dm.sent
      ? 'passwords and user sheets were sent to you by direct message'
      : 'no password was sent';
  const logHint = "`renew log <request>` shows each host's steps.";
  if (!renewed) return { failed: true, text: `No host renewed (${notRenewed || 'nothing to do'}, of ${n}); no account was replaced${dm.sent || dm.kept ? `; ${passwords}` : ''}. ${logHint}` };
  if (renewed < n)
    return {
      failed: false,
      text: `⚠️ ${renewed}/${n} host(s) renewed, ${n - renewed} not (${notRenewed}: see the table)${warned ? `, ${warned} with warnings` : ''}; ${passwords} for the renewed host(s). ${logHint}`,
    };
  return { failed: false, text: `${renewed}/${n} host(s) renewed${warned ? ` (${warned} with warnings: see the note and \`renew log <request>\`)` : ''}; ${passwords}. ${logHint}` };
}

/**
 * Hand one renewed host's password out: secret DM with the user sheet, then the PC label in the channel.
 * Never throws: every failure becomes a warning on the outcome (and in the host's step log), so one host's
 * DM or label problem neither fails the job nor keeps another host's password from its requester. Says
 * whether the password went out by DM ('sent'), was kept for `renew resend` ('kept'), or there was none.
 */
async function deliver(ctx: JobContext, r: HostOutcome): Promise<'sent' | 'kept' | 'none'> {
  const inv = ctx.app.services.renew.inventory;
  const problem = (msg: string, level: Level = 'ERROR') => noteProblem(inv, r, msg, level);
  if (!r.password || !r.account) return 'none';
  const date = new Date();
  const hostname = r.hostname || String(r.facts?.hostname ?? '') || r.host;
  let sheets: typeof import('../src/renew/sheets.js') | undefined;
  let sheet: Buffer | undefined;
  try {
    sheets = await import('../src/renew/sheets.js'); // PDF/canvas libraries load on first use
    sheet = await sheets.userSheetPdf({ account: r.account, password: r.password, hostname, ip: r.host, mac: r.mac ?? 'unknown', date, requestId: r.requestId });
  } catch (e) {
    await problem(`the user sheet could not be made: ${(e as Error).message}`, 'WARNING');
  }
  const note = r.status === 'warning' ? `⚠️ renewed with warnings, see \`renew log ${r.requestId}\`\n` : '';
  const text = `${note}New account on ${hostname} (${r.host}, request #${r.requestId}): ${r.account} / password: ${r.password}`;
  const files = sheet ? [{ name: `account-${r.requestId}-${r.account}.pdf`, data: sheet, mime: 'application/pdf' }] : [];
  let sent = false;
  let lastErr = '';
  for (const attempt of [files, []]) {
    try {
      await ctx.dm({ text, files: attempt }, { secret: true });
      sent = true;
      if (attempt !== files && files.length) await problem('the user sheet could not be attached to the direct message (sent without it)', 'WARNING');
      break;
    } catch (e) {
      lastErr = (e as Error).message;
      if (!files.length) break;
    }
  }
  if (!sent) {
    const requester = `${ctx.requester.platform}:${ctx.requester.userId}`;
    const kept = await ctx.app.services.renew.undelivered.keep({ requestId: r.requestId, requester, account: r.account, host: r.host, password: r.password, text, files });
    const until = new Date(kept.expiresAt).toISOString().slice(0, 16).replace('T', ' ');
    await problem(
      `the direct message with the password of ${r.account} could not be sent (${lastErr}): it is kept (sealed) until ${until} UTC; ${requester} can have it sent again with \`renew resend ${r.requestId}\``,
      'ERROR',
    );
  }
  const outcome = sent ? 'sent' : 'kept';
  if (!r.mac || !sheets) return outcome; // no inventory record (or no PDF/canvas libraries), so no label
  try {
    const rec = { mac: r.mac, hostname: r.hostname ?? '', serial: String(r.facts?.serial ?? 'unknown'), url: `${ctx.app.baseUrl()}/inventory/pc/${r.mac}` };
    const base = `label-${rec.hostname || r.mac.replace(/:/g, '')}`;
    await ctx.post({
      text: `🏷️ Label for ${rec.hostname} (${rec.mac}, S/N ${rec.serial}) — request #${r.requestId}`,
      files: [
        { name: `${base}.png`, data: sheets.labelPng(rec), mime: 'image/png' },
        { name: `${base}.pdf`, data: await sheets.labelPdf(rec), mime: 'application/pdf' },
      ],
    });
  } catch (e) {
    await problem(`the PC label could not be posted: ${(e as Error).message}`, 'WARNING');
  }
  return outcome;
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
      const delivered: HostOutcome[] = [];
      const dm = { sent: 0, kept: 0, none: 0 };
      let results: HostOutcome[];
      try {
        // pool waits for every host in flight even when one throws (a cancel): those still get their DM.
        results = await pool(hosts, svc.cfg.concurrency, async (host): Promise<HostOutcome> => {
          ctx.throwIfCancelled();
          let r: HostOutcome;
          try {
            r = await svc.renewHost(host, port, { jobId: ctx.id, requester, dryRun });
          } catch (e) {
            r = { host, port, requestId: 0, status: 'failed', warnings: [], error: scrub((e as Error).message) };
          }
          if (r.password) delivered.push(r);
          dm[await deliver(ctx, r)]++;
          ctx.progress(++done, hosts.length, `${host}: ${r.status}`);
          if (r.status === 'refused') await ctx.post(`⛔ ${host}: ${r.error} (request #${r.requestId}; the other hosts continue)`).catch(() => undefined);
          return r;
        });
      } finally {
        // Delivered (or lost): the passwords leave the scrubber, so it does not grow with every renewal.
        for (const r of delivered) {
          if (!(await svc.undelivered.has(r.requestId).catch(() => false))) svc.release(r); // a kept one stays scrubbed until resent
          delete r.password;
        }
      }
      const lines = table(
        ['host', 'request', 'status', 'account', 'mac', 'note'],
        results.map((r) => [
          r.host,
          `#${r.requestId}`,
          r.status,
          r.account ?? '',
          r.mac ?? '',
          (r.error ?? (r.warnings.length ? r.warnings.join('; ') : r.keyStep ? `key ${r.keyStep}` : '')).slice(0, 120),
        ]),
      );
      const data = {
        results: results.map((r) => ({ host: r.host, request: r.requestId, status: r.status, account: r.account ?? null, mac: r.mac ?? null, error: r.error ?? null, warnings: r.warnings })),
      };
      if (dryRun) return { text: `Dry run on ${results.length} host(s); nothing changed.\n${lines}`, data };
      const { failed, text: head } = renewHeadline(results, dm);
      // Nothing renewed: the job fails (❌ in chat, exit 1 from `switchboard exec`), with the table.
      if (failed) throw new UserError(`${head}\n${lines}`);
      return {
        text: `${head}\n${lines}`,
        data,
      };
    },
  },
};

export const commands: Command[] = [
  {
    name: 'renew scan',
    usage: 'renew scan <network> [range=a,b] [port=22]',
    example: 'renew scan 192.168.122.0/24 range=10,60',
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
    example: 'renew run 192.168.122.15 --dry-run',
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
    example: 'renew log 1',
    summary: "one renewal request's step log (DEBUG, INFO, WARNING, ERROR, CRITICAL)",
    role: 'viewer',
    args: {
      positional: [
        { name: 'request', required: true, type: 'integer', minimum: 1 },
        { name: 'level', enum: [...LEVELS], default: 'DEBUG' },
      ],
    },
    async run(ctx, args) {
      const inv = ctx.app.services.renew.inventory;
      const req = await inv.request(Number(args.request));
      if (!req) throw new UserError(`no renewal request #${args.request}`, 'SB_NOT_FOUND');
      const lines = await inv.logLines(req.id, args.level as Level);
      const head = `Request #${req.id} ${req.host}:${req.port} — ${req.status}${req.account ? ` — ${req.account}` : ''} (job #${req.job_id ?? '-'}, ${when(req.created_at)})`;
      return `${head}\n${table(
        ['time', 'level', 'message'],
        lines.map((l) => [new Date(l.at).toISOString().slice(11, 23), l.level, l.message]),
        { maxWidth: 200 },
      )}`;
    },
  },
  {
    name: 'renew resend',
    usage: 'renew resend <request>',
    example: 'renew resend 1',
    summary: 'send again, by direct message, a new password whose direct message failed (only to whoever ran the renewal)',
    role: 'operator',
    args: { positional: [{ name: 'request', required: true, type: 'integer', minimum: 1 }] },
    async run(ctx, args) {
      const id = Number(args.request);
      const kept = ctx.app.services.renew.undelivered;
      const u = await kept.get(id);
      if (!u) throw new UserError(`no password is waiting for request #${id}: it was delivered, or it expired after ${kept.ttlMs / 3600_000} h (then renew the PC again)`);
      if (u.requester !== `${ctx.incoming.platform}:${ctx.incoming.user.id}`) throw new UserError(`only the person who ran request #${id} can have its password sent`);
      try {
        await ctx.dm({ text: u.text, files: u.files }, { secret: true });
      } catch (e) {
        throw new UserError(`the direct message could not be sent either (${scrub((e as Error).message)}); the password is still kept, try again later`);
      }
      await kept.delivered(id, u.password);
      await ctx.app.services.renew.inventory.log(id, 'INFO', 'password sent by direct message on renew resend').catch(() => undefined);
      return `The password of ${u.account} on ${u.host} (request #${id}) was sent to you by direct message.`;
    },
  },
  {
    name: 'renew forget',
    usage: 'renew forget <host>',
    example: 'renew forget pc-reception',
    summary: "drop a PC's pinned SSH host key (after a reinstall), so the next renewal pins the new one",
    role: 'admin',
    args: { positional: [{ name: 'host', required: true }] },
    confirm: (args) => `forget the pinned host key of ${args.host}`,
    async run(ctx, args) {
      const host = String(args.host);
      if (!ipaddr.isValid(host)) throw new UserError(`"${host}" is not an IP address`);
      const n = await ctx.app.services.renew.inventory.forget(host);
      if (!n) throw new UserError(`no pinned host key for ${host}`, 'SB_NOT_FOUND');
      return `Forgot the pinned host key of ${host}.`;
    },
  },
  {
    name: 'renew key',
    usage: 'renew key',
    example: 'renew key',
    summary: "the bot's public SSH key (to pre-install it on PCs)",
    role: 'operator',
    async run(ctx) {
      return (await ctx.app.services.renew.keyPair()).publicKey;
    },
  },
];
