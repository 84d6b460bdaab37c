// Render → check with the daemons' own checkers → atomic rename → reload. A failed check touches no live file.
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import type { App } from '../app-types.js';
import type { DhcpStore, HostRecord } from './service.js';
import { hostSubnetIndex, type Subnet } from './validate.js';
import { renderIsc } from '../../drivers/dhcp/isc.js';
import { renderKea, parseKeaTemplate } from '../../drivers/dhcp/kea.js';
import { ConfigError } from '../config.js';
import { renderDnsmasq } from '../../drivers/dhcp/dnsmasq.js';
import { renderProxyList, squidWrapper } from '../../drivers/proxy/squid.js';
import type { RenderSubnet } from '../../drivers/dhcp/types.js';
import { now } from '../store/db.js';

export type Target = 'isc' | 'kea' | 'dnsmasq' | 'proxy1' | 'proxy2' | 'proxy3';
export const TARGETS: Target[] = ['isc', 'kea', 'dnsmasq', 'proxy1', 'proxy2', 'proxy3'];

export function renderSubnets(nets: Subnet[]): RenderSubnet[] {
  return nets.map((s) => ({ cidr: s.cfg.cidr, network: s.cfg.cidr.split('/')[0]!, netmask: s.netmask, pool: s.cfg.pool, gateway: s.cfg.gateway, dns: s.cfg.dns }));
}

/** A render that cannot be done (e.g. an unreadable Kea template): the message is for the chat. */
export class RenderError extends Error {}

export function renderTarget(target: Target, hosts: HostRecord[], nets: Subnet[], keaTemplate?: Record<string, unknown>): string {
  switch (target) {
    case 'isc':
      return renderIsc(hosts);
    case 'kea':
      return renderKea(hosts, renderSubnets(nets), (ip) => hostSubnetIndex(ip, nets), keaTemplate);
    case 'dnsmasq':
      return renderDnsmasq(hosts);
    default:
      return renderProxyList(hosts, Number(target.slice(5)) as 1 | 2 | 3);
  }
}

/** Read and parse dhcp.backends.kea.template (undefined when not set). Throws RenderError. */
export function loadKeaTemplate(file: string | undefined): Record<string, unknown> | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new RenderError(`dhcp.backends.kea.template = ${JSON.stringify(file)}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return parseKeaTemplate(text);
  } catch (e) {
    throw new RenderError(`dhcp.backends.kea.template = ${JSON.stringify(file)}: ${(e as Error).message}`);
  }
}

/** Hosts whose address lies in no configured subnet (Kea has no subnet to put them in). */
export function hostsOutsideSubnets(hosts: HostRecord[], nets: Subnet[]): HostRecord[] {
  return hosts.filter((h) => hostSubnetIndex(h.ip, nets) < 0);
}

export function outsideNote(out: HostRecord[]): string {
  if (!out.length) return '';
  const names = out.slice(0, 20).map((h) => `${h.hostname} (${h.ip})`).join(', ');
  return `${out.length} host(s) lie in no configured subnet (dhcp.subnets) and are left out of the Kea config: ${names}${out.length > 20 ? ` … and ${out.length - 20} more` : ''}`;
}

/** What `dhcp render` prints and `dhcp apply` writes for one target, from the app's config. */
export function renderForApp(app: App, target: Target, hosts: HostRecord[], nets: Subnet[]): { text: string; note: string } {
  if (target !== 'kea') return { text: renderTarget(target, hosts, nets), note: '' };
  const tpl = loadKeaTemplate(app.config.dhcp.backends.kea.template);
  return { text: renderTarget('kea', hosts, nets, tpl), note: outsideNote(hostsOutsideSubnets(hosts, nets)) };
}

/** dhcpd wrapper: the configured subnets (so fixed addresses resolve) and the include of the hosts file. */
export function iscWrapper(nets: Subnet[], hostsFile: string, leaseFile: string): string {
  const subs = nets.map((s) => {
    const range = s.cfg.pool ? `  range ${s.cfg.pool.replace('-', ' ')};\n` : '';
    const gw = s.cfg.gateway ? `  option routers ${s.cfg.gateway};\n` : '';
    return `subnet ${s.cfg.cidr.split('/')[0]} netmask ${s.netmask} {\n${range}${gw}}`;
  });
  return [`lease-file-name "${leaseFile}";`, ...subs, `include "${hostsFile}";`, ''].join('\n');
}

/** The checker's own message: blank lines and dhcpd's banner and bug-report boilerplate dropped, last 15 lines. */
export function checkerMessage(output: string): string {
  const noise = /^(Internet Systems Consortium|Copyright \d|All rights reserved|For info, please visit|If you think you have received|than a configuration issue|bugs on either our web page|before submitting a bug|process and the information we find|exiting\.)/;
  const lines = output.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() && !noise.test(l.trim()));
  return (lines.length ? lines : output.split('\n')).slice(-15).join('\n');
}

export interface CheckResult { ok: boolean; output: string }

export function run(argv: string[], timeoutMs = 120_000): Promise<CheckResult> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (err) resolve({ ok: false, output: output || String((err as Error).message) });
      else resolve({ ok: true, output });
    });
  });
}

const subst = (argv: string[], vars: Record<string, string>) => argv.map((a) => a.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m));

/** Run the real checker for one backend on candidate files in dir. Used by apply and by tests. */
export async function checkBackend(kind: 'isc' | 'kea' | 'proxy', file: string | [string, string, string], nets: Subnet[], checkCmd: string[]): Promise<CheckResult> {
  const dir = path.dirname(Array.isArray(file) ? file[0] : file);
  const work = fs.mkdtempSync(path.join(dir, '.sb-check-'));
  try {
    let wrapper = '';
    if (kind === 'isc') {
      wrapper = path.join(work, 'dhcpd.conf');
      fs.writeFileSync(wrapper, iscWrapper(nets, file as string, path.join(work, 'dhcpd.leases')));
      fs.writeFileSync(path.join(work, 'dhcpd.leases'), '');
    } else if (kind === 'proxy') {
      wrapper = path.join(work, 'squid.conf');
      fs.writeFileSync(wrapper, squidWrapper(file as [string, string, string], work));
    }
    if (!checkCmd.length) return { ok: true, output: '' };
    return await run(subst(checkCmd, { wrapper, file: Array.isArray(file) ? file[0] : file, dir: work }));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export interface ApplyReport { ok: boolean; text: string; added: number; changed: number; removed: number }

const SNAP_KEY = 'dhcp.lastApply';

/** One apply at a time per process: a manual apply and a debounced auto-apply never interleave. */
let applyChain: Promise<unknown> = Promise.resolve();
export function applyAll(app: App, svc: DhcpStore, opts: { dryRun?: boolean } = {}): Promise<ApplyReport> {
  const run = applyChain.then(() => applyOnce(app, svc, opts));
  applyChain = run.catch(() => undefined);
  return run;
}

async function applyOnce(app: App, svc: DhcpStore, opts: { dryRun?: boolean }): Promise<ApplyReport> {
  const cfg = app.config.dhcp.backends;
  const hosts = await svc.all();
  const nets = svc.subnets();
  // What changed since the last apply.
  const prevRow = await app.db.selectFrom('kv').select('v').where('k', '=', SNAP_KEY).executeTakeFirst();
  const prev: Record<string, string> = prevRow ? JSON.parse(prevRow.v) : {};
  const snap: Record<string, string> = {};
  let added = 0, changed = 0;
  for (const h of hosts) {
    const sig = JSON.stringify([h.ip, h.hostname, h.room, h.owner, h.comment, h.access, h.bootServer, h.phones]);
    snap[h.mac] = sig;
    if (!(h.mac in prev)) added++;
    else if (prev[h.mac] !== sig) changed++;
  }
  const removed = Object.keys(prev).filter((m) => !(m in snap)).length;
  const summary = `${added} added, ${changed} changed, ${removed} removed since the last apply`;

  const plan: { live: string; tmp: string; data: string }[] = [];
  const notes: string[] = [];
  const stamp = `.sb-new-${process.pid}-${Date.now()}`;
  const add = (live: string, target: Target) => {
    const r = renderForApp(app, target, hosts, nets);
    if (r.note) notes.push(r.note);
    plan.push({ live, tmp: path.join(path.dirname(live), `.${path.basename(live)}${stamp}`), data: r.text });
  };
  try {
    if (cfg.isc.enabled) add(cfg.isc.path, 'isc');
    if (cfg.kea.enabled) add(cfg.kea.path, 'kea');
    if (cfg.dnsmasq.enabled) add(cfg.dnsmasq.path, 'dnsmasq');
    if (cfg.proxy.enabled) for (const l of [1, 2, 3] as const) add(path.join(cfg.proxy.dir, `proxy${l}`), `proxy${l}`);
  } catch (e) {
    if (e instanceof RenderError) return { ok: false, text: `Apply aborted; no live file was changed.\n${e.message}`, added, changed, removed };
    throw e;
  }
  if (!plan.length) return { ok: false, text: 'No backend is enabled (dhcp.backends.*.enabled).', added, changed, removed };
  const noteText = notes.length ? `\n${notes.join('\n')}` : '';

  const failures: string[] = [];
  try {
    for (const p of plan) fs.writeFileSync(p.tmp, p.data);
    let i = 0;
    const checks: [string, Promise<CheckResult>][] = [];
    if (cfg.isc.enabled) checks.push(['dhcpd', checkBackend('isc', plan[i++]!.tmp, nets, cfg.isc.check)]);
    if (cfg.kea.enabled) checks.push(['kea-dhcp4', checkBackend('kea', plan[i++]!.tmp, nets, cfg.kea.check)]);
    if (cfg.dnsmasq.enabled) checks.push(['dnsmasq', cfg.dnsmasq.check.length ? run(subst(cfg.dnsmasq.check, { file: plan[i]!.tmp })) : Promise.resolve({ ok: true, output: '' })]), i++;
    if (cfg.proxy.enabled) checks.push(['squid', checkBackend('proxy', [plan[i]!.tmp, plan[i + 1]!.tmp, plan[i + 2]!.tmp], nets, cfg.proxy.check)]);
    for (const [name, pr] of checks) {
      const r = await pr;
      if (!r.ok) failures.push(`${name} check failed:\n${checkerMessage(r.output)}`);
    }
    if (failures.length) return { ok: false, text: `Apply aborted; no live file was changed.\n${failures.join('\n')}${noteText}`, added, changed, removed };
    if (opts.dryRun) return { ok: true, text: `Dry run: all checks passed; ${summary}. Nothing written.${noteText}`, added, changed, removed };
    for (const p of plan) fs.renameSync(p.tmp, p.live);
  } finally {
    for (const p of plan) fs.rmSync(p.tmp, { force: true });
  }
  const v = JSON.stringify(snap);
  await app.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('kv').where('k', '=', SNAP_KEY).execute();
    await tx.insertInto('kv').values({ k: SNAP_KEY, v, updated_at: now() }).execute();
  });
  const reloads: string[] = [];
  for (const b of ['isc', 'kea', 'dnsmasq', 'proxy'] as const) {
    if (!cfg[b].enabled || !cfg[b].reload.length) continue;
    const r = await run(cfg[b].reload);
    reloads.push(`${b} reload ${r.ok ? 'ok' : `FAILED: ${r.output.slice(0, 500)}`}`);
  }
  return { ok: true, text: `Applied ${plan.length} file(s) (${hosts.length} hosts): ${summary}.${noteText}${reloads.length ? `\n${reloads.join('\n')}` : ''}`, added, changed, removed };
}

/** Start-up checks of the apply settings (a bad value stops the bot naming the key). */
export function checkApplyConfig(app: App): void {
  const kea = app.config.dhcp.backends.kea;
  if (!kea.template) return;
  if (path.resolve(kea.template) === path.resolve(kea.path)) throw new ConfigError(`invalid configuration: dhcp.backends.kea.template = ${JSON.stringify(kea.template)}: must not be the file apply writes (dhcp.backends.kea.path); keep your base config in its own file`);
  try {
    loadKeaTemplate(kea.template);
  } catch (e) {
    throw new ConfigError(`invalid configuration: ${(e as Error).message}`);
  }
}

export function attachApply(app: App, svc: DhcpStore): void {
  checkApplyConfig(app);
  svc.onAutoApply = async () => {
    const r = await applyAll(app, svc);
    await app.notifier.notify(app.config.dhcp.callerid.targets.length ? app.config.dhcp.callerid.targets : [], { text: `DHCP auto-apply: ${r.text}` });
  };
}
