// Render → check with the daemons' own checkers → atomic rename → reload. A failed check touches no live file.
// Each backend is one file in backends/ (render, check, install, reload); backends assigned to an apply node
// are handed to its agent (apply-agents.ts) instead of being written here.
import fs from 'node:fs';
import path from 'node:path';
import type { App } from '../app-types.js';
import type { DhcpStore, HostRecord } from './service.js';
import { hostSubnetIndex, type Subnet } from './validate.js';
import { parseKeaTemplate } from '../../drivers/dhcp/kea.js';
import { ConfigError } from '../config.js';
import type { RenderSubnet } from '../../drivers/dhcp/types.js';
import { now } from '../store/db.js';
import { writeTransaction } from '../store/conflict-retry.js';
import type { BackendName, BackendSettings, CheckResult, RenderInput, Target } from './backends/types.js';
import { installAll, type PlanItem } from './backends/engine.js';
import { DhcpBackends } from './backends/index.js';

export type { Target } from './backends/types.js';

export function renderSubnets(nets: Subnet[]): RenderSubnet[] {
  return nets.map((s) => ({ cidr: s.cfg.cidr, network: s.cfg.cidr.split('/')[0]!, netmask: s.netmask, pool: s.cfg.pool, gateway: s.cfg.gateway, dns: s.cfg.dns }));
}

/** A render that cannot be done (e.g. an unreadable Kea template): the message is for the chat. */
export class RenderError extends Error {}

export function renderInput(hosts: HostRecord[], nets: Subnet[], keaTemplate?: Record<string, unknown>): RenderInput {
  return { hosts, subnets: renderSubnets(nets), subnetOf: (ip) => hostSubnetIndex(ip, nets), keaTemplate };
}

/** One rendered target's text (the backend that renders it, from the loaded set). */
export function renderTarget(backends: DhcpBackends, target: Target, hosts: HostRecord[], nets: Subnet[], keaTemplate?: Record<string, unknown>): string {
  const b = backends.byTarget(target);
  if (!b) throw new RenderError(`no backend renders ${JSON.stringify(target)} (targets: ${backends.targets().join(', ')})`);
  return b.render(renderInput(hosts, nets, keaTemplate)).find((f) => f.target === target)!.text;
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
  const names = out
    .slice(0, 20)
    .map((h) => `${h.hostname} (${h.ip})`)
    .join(', ');
  return `${out.length} host(s) lie in no configured subnet (dhcp.subnets) and are left out of the Kea config: ${names}${out.length > 20 ? ` … and ${out.length - 20} more` : ''}`;
}

/** What `dhcp render` prints and `dhcp apply` writes for one target, from the app's config. */
export function renderForApp(app: App, target: Target, hosts: HostRecord[], nets: Subnet[]): { text: string; note: string } {
  const set = app.services.dhcpBackends;
  if (target !== 'kea') return { text: renderTarget(set, target, hosts, nets), note: '' };
  const tpl = loadKeaTemplate(app.config.dhcp.backends.kea?.template);
  return { text: renderTarget(set, 'kea', hosts, nets, tpl), note: outsideNote(hostsOutsideSubnets(hosts, nets)) };
}

/** Run the real checker for one backend on candidate files in dir. Used by tests. */
export async function checkBackend(kind: BackendName, file: string | string[], nets: Subnet[], checkCmd: string[]): Promise<CheckResult> {
  const files = Array.isArray(file) ? file : [file];
  const backend = (await DhcpBackends.load()).get(kind);
  if (!backend) throw new Error(`no DHCP backend ${kind}`);
  return backend.check({ texts: files.map((f) => fs.readFileSync(f, 'utf8')), files, subnets: renderSubnets(nets) }, { check: checkCmd });
}

export interface ApplyReport {
  ok: boolean;
  text: string;
  added: number;
  changed: number;
  removed: number;
}

export const SNAP_KEY = 'dhcp.lastApply';
/** max(dhcp_history.id) when the last apply read the hosts: later history rows are changes not applied yet. */
export const APPLIED_HISTORY_KEY = 'dhcp.lastApplyHistory';

export async function historyHead(app: App): Promise<number> {
  const r = await app.db
    .selectFrom('dhcp_history')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  return Number(r?.id ?? 0);
}

export interface ApplyOptions {
  dryRun?: boolean;
  /** Asked right before the first live file is replaced; false aborts (this process lost the apply lock). */
  stillHolder?: () => Promise<boolean>;
  /** The request row (apply-queue.ts) and where it was asked: an apply agent's outcome is posted there. */
  requestId?: number;
  replyTo?: string | null;
}

/** Runs an apply where the cluster runs them (the apply lease's holder, see apply-queue.ts) and returns its report. */
export function applyAll(app: App, _svc: DhcpStore, opts: { dryRun?: boolean; replyTo?: { platform: string; channel: string; thread?: string } } = {}): Promise<ApplyReport> {
  return app.services.dhcpApply.request(opts);
}

/**
 * What a host change asked in chat (dhcp add/edit/rm) replies after the store write. With dhcp.autoApply the change
 * is applied now, through the cluster's apply queue, and the reply waits for the render, the daemons' checks and
 * the swap: ok only when they succeeded (a failed apply left the live files as they were). Without autoApply the
 * reply says the change is not live yet.
 */
export async function applyAfterChange(app: App, svc: DhcpStore, replyTo: { platform: string; channel: string; thread?: string }): Promise<{ ok: boolean; text: string }> {
  if (!app.config.dhcp.autoApply) return { ok: true, text: 'Not live yet: `dhcp apply` writes it to the DHCP/proxy files (dhcp.autoApply is off).' };
  const r = await applyAll(app, svc, { replyTo });
  return r.ok ? { ok: true, text: r.text } : { ok: false, text: `It is in the store but NOT live: the apply failed and the live files are as they were.\n${r.text}` };
}

/** The bot's own settings of each locally enabled backend (those no apply node owns), in the loaded set's order. */
export function localBackends(app: App, agentOwned: Set<BackendName>): { name: BackendName; settings: BackendSettings }[] {
  const cfg = app.config.dhcp.backends;
  return app.services.dhcpBackends
    .names()
    .filter((name) => cfg[name]?.enabled && !agentOwned.has(name))
    .map((name) => ({ name, settings: cfg[name]! }));
}

/**
 * One apply in this process: render, check, install all or nothing, record, reload — and hand the backends an
 * apply node owns to its agent. Callers go through the cluster's apply queue (apply-queue.ts), so only the
 * holder of the apply lease runs this.
 */
export async function applyOnce(app: App, svc: DhcpStore, opts: ApplyOptions = {}): Promise<ApplyReport> {
  const history = await historyHead(app);
  const hosts = await svc.all();
  const nets = svc.subnets();
  // What changed since the last apply.
  const prevRow = await app.db.selectFrom('kv').select('v').where('k', '=', SNAP_KEY).executeTakeFirst();
  const prev: Record<string, string> = prevRow ? JSON.parse(prevRow.v) : {};
  const snap: Record<string, string> = {};
  let added = 0,
    changed = 0;
  for (const h of hosts) {
    const sig = JSON.stringify([h.ip, h.hostname, h.room, h.owner, h.comment, h.access, h.bootServer, h.phones]);
    snap[h.mac] = sig;
    if (!(h.mac in prev)) added++;
    else if (prev[h.mac] !== sig) changed++;
  }
  const removed = Object.keys(prev).filter((m) => !(m in snap)).length;
  const summary = `${added} added, ${changed} changed, ${removed} removed since the last apply`;
  const report = (ok: boolean, text: string): ApplyReport => ({ ok, text, added, changed, removed });

  const agents = app.services.dhcpAgents;
  const nodes = (await agents.nodes()).filter((n) => n.backends.length);
  const owned = new Set(nodes.flatMap((n) => n.backends));
  const locals = localBackends(app, owned);
  if (!locals.length && !nodes.length) return report(false, 'No backend is enabled (dhcp.backends.*.enabled).');

  let input: RenderInput;
  const notes: string[] = [];
  const plan: PlanItem[] = [];
  try {
    const needsKea = [...locals.map((l) => l.name), ...owned].some((n) => n === 'kea' || n === 'keaControl');
    input = renderInput(hosts, nets, needsKea ? loadKeaTemplate(app.config.dhcp.backends.kea?.template) : undefined);
    if (needsKea) {
      const note = outsideNote(hostsOutsideSubnets(hosts, nets));
      if (note) notes.push(note);
    }
    for (const l of locals) {
      const backend = app.services.dhcpBackends.get(l.name)!;
      plan.push({ backend, settings: l.settings, files: backend.render(input) });
    }
  } catch (e) {
    if (e instanceof RenderError) return report(false, `Apply aborted; no live file was changed.\n${e.message}`);
    throw e;
  }
  const noteText = notes.length ? `\n${notes.join('\n')}` : '';
  const record = async () => {
    await writeTransaction(app.db, async (tx) => {
      await tx.deleteFrom('kv').where('k', 'in', [SNAP_KEY, APPLIED_HISTORY_KEY]).execute();
      await tx
        .insertInto('kv')
        .values([
          { k: SNAP_KEY, v: JSON.stringify(snap), updated_at: now() },
          { k: APPLIED_HISTORY_KEY, v: String(history), updated_at: now() },
        ])
        .execute();
    });
  };
  let text = '';
  if (plan.length) {
    const r = await installAll(plan, {
      subnets: input.subnets,
      dryRun: opts.dryRun,
      summary,
      notes: noteText,
      what: ` (${hosts.length} hosts)`,
      stillHolder: opts.stillHolder,
      record,
      recordStep: { step: 'record the applied hosts in the store', file: `kv ${SNAP_KEY}` },
    });
    // A local failure stops here: the agents get nothing from an apply that did not happen.
    if (!r.ok || !nodes.length) return report(r.ok, r.text);
    text = r.text;
  } else if (!opts.dryRun) {
    if (opts.stillHolder && !(await opts.stillHolder()))
      return report(false, 'Apply aborted: another process took over the apply lock before the files were handed over; nothing was changed. Run dhcp apply again.');
    await record();
  }
  const handed: string[] = [];
  for (const n of nodes) {
    const id = await agents.handOver(n, input, { requestId: opts.requestId ?? null, dryRun: !!opts.dryRun, replyTo: opts.replyTo ?? null, summary, notes: noteText });
    const seen = n.lastSeen ? '' : n.enrolled ? ' (it has not reported yet)' : ' (its agent is not enrolled yet)';
    handed.push(`Handed ${n.backends.join(', ')} to the apply agent on ${n.name} (generation ${id})${seen}; it checks, installs and reloads on its own machine, and its result will be posted here.`);
  }
  const head = text || (opts.dryRun ? `Dry run: ${summary}.` : `${summary}.`);
  return report(true, `${head}\n${handed.join('\n')}${text ? '' : noteText}`);
}

/** Start-up checks of the apply settings (a bad value stops the bot naming the key). */
export function checkApplyConfig(app: App): void {
  const kea = app.config.dhcp.backends.kea;
  if (!kea?.template) return;
  if (path.resolve(kea.template) === path.resolve(kea.path ?? ''))
    throw new ConfigError(
      `invalid configuration: dhcp.backends.kea.template = ${JSON.stringify(kea.template)}: must not be the file apply writes (dhcp.backends.kea.path); keep your base config in its own file`,
    );
  try {
    loadKeaTemplate(kea.template);
  } catch (e) {
    throw new ConfigError(`invalid configuration: ${(e as Error).message}`);
  }
}
