// A provisioning batch: validated against the store and DHCP as a whole (plan), then written all or nothing
// (commit): DHCP reservations, then the phone rows in one transaction that also publishes them to every
// process, then this process's index and local files.
import crypto from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Tables } from '../store/db.js';
import type { App } from '../app-types.js';
import type { Target } from '../core/types.js';
import type { HostInput, HostRecord } from '../dhcp/service.js';
import type { DriverSet } from './drivers.js';
import type { Phone, RenderedFile } from '../../drivers/phones/contract.js';
import { FIRMWARE_KEY } from './rendering.js';
import type { PhoneDraft, RowProblem } from './rows.js';
import { fmtMac } from '../util/mac.js';
import type { PhoneRecord, PhoneStore } from './phone-store.js';
import type { Renderer } from './rendering.js';
import type { ServedIndex } from './served-index.js';
import type { PhoneFiles } from './phone-files.js';
import { resolveFor, withOverrides, type OverrideStore } from './overrides.js';

/** What one validated row will do. */
export interface Plan {
  draft: PhoneDraft;
  action: 'added' | 'updated' | 'unchanged';
  version: number;
  token: string;
  files: RenderedFile[];
  digest: string;
  existing?: PhoneRecord;
  dhcp?: HostInput;
  /** Not a reason to refuse, worth a look: e.g. the MAC's OUI belongs to another vendor. */
  warning?: string;
}

export interface RowResult {
  row: number;
  mac: string;
  extension: string;
  name: string;
  room: string | null;
  model: string;
  files: string[];
  version: number;
  action: Plan['action'];
  ip: string | null;
}

/** Called last inside the transaction that stores a batch's phones, with the outcome that stands once it commits. */
export type OnStored = (tx: Transaction<Tables>, outcome: BatchOutcome) => Promise<void>;

export interface BatchOutcome {
  ok: boolean;
  problems: RowProblem[];
  results: RowResult[];
  dhcp: { added: number; changed: number };
  warnings?: string[];
}

export class Batches {
  constructor(
    private app: App,
    private drivers: DriverSet,
    private renderer: Renderer,
    private index: ServedIndex,
    private store: PhoneStore,
    private disk: PhoneFiles,
    private overrides: OverrideStore,
  ) {}

  private label(rec: { model: string }): string {
    return this.drivers.get(rec.model)?.label ?? rec.model;
  }

  /** Validate drafts against the store and DHCP and work out what each would do. Nothing is written. */
  async plan(drafts: PhoneDraft[], progress?: (done: number) => void): Promise<{ problems: RowProblem[]; plans: Plan[] }> {
    // What another process stored for these MACs moments ago may not have reached this one's index yet.
    await this.index.catchUp([...new Set(drafts.map((d) => d.mac))]);
    const problems: RowProblem[] = [];
    const plans: Plan[] = [];
    const batchMacs = new Set(drafts.map((d) => d.mac));
    const extOwner = new Map<string, string>();
    for (const p of [...this.index.all(), ...this.index.unreadablePhones().map((u) => u.rec)]) if (!batchMacs.has(p.mac)) extOwner.set(`${p.server.toLowerCase()}/${p.extension}`, p.mac);
    const dhcp = this.app.services.dhcp;
    const dhcpInputs: { index: number; input: HostInput }[] = [];
    // The overrides of each phone's model, room and MAC as the store holds them now.
    const overrideRows = await this.overrides.all(this.app.db);
    const hostnames = new Set<string>();
    let i = 0;
    for (const d of drafts) {
      const unreadable = this.index.unreadableOf(d.mac)?.rec;
      const existing = this.index.get(d.mac) ?? unreadable;
      if (existing && existing.model !== d.driver.id) {
        problems.push({
          row: d.row,
          field: 'mac',
          message: `${fmtMac(d.mac)} is already provisioned as a ${this.label(existing)} (ext ${existing.extension}); run provision rm ${fmtMac(d.mac)} first to change its model`,
        });
        continue;
      }
      const other = extOwner.get(`${d.server.toLowerCase()}/${d.extension}`);
      if (other) {
        problems.push({ row: d.row, field: 'extension', message: `extension ${d.extension} is already on phone ${fmtMac(other)}; run provision rm ${fmtMac(other)} first, or use another extension` });
        continue;
      }
      const token = existing?.token ?? this.app.sealer.random(16).toString('hex');
      // A firmware wave's URL stays with a re-provisioned phone of the same model until the wave is halted.
      if (existing?.extra[FIRMWARE_KEY] && existing.model === d.driver.id) d.extra = { ...d.extra, [FIRMWARE_KEY]: existing.extra[FIRMWARE_KEY] };
      d.extra = withOverrides(d.extra, resolveFor(overrideRows, { mac: d.mac, model: d.driver.id, room: d.room ?? null }), this.app.sealer);
      const phone: Phone = {
        mac: d.mac,
        model: d.driver.id,
        extension: d.extension,
        name: d.name,
        authUser: d.authUser,
        password: d.password,
        server: d.server,
        port: d.port,
        line: d.line,
        room: d.room,
        extra: d.extra,
      };
      const r = this.renderer.versioned(d.driver, phone, token, existing?.version ?? 1, existing?.digest ?? null);
      let action: Plan['action'] = !existing ? 'added' : r.changed ? 'updated' : 'unchanged';
      // An unreadable row gets its password sealed again.
      if (action === 'unchanged' && ((existing!.room ?? undefined) !== d.room || unreadable)) action = 'updated';
      const plan: Plan = { draft: d, action, version: r.version, token, files: r.files, digest: r.digest, existing };
      const ouiOf = this.drivers.byOui(d.mac);
      if (ouiOf.length && !ouiOf.includes(d.driver)) plan.warning = `row ${d.row}: ${fmtMac(d.mac)} has an OUI of ${ouiOf[0]!.vendor} but is provisioned as ${d.driver.label}`;
      if (d.ip) {
        const host = await dhcp.getByMac(fmtMac(d.mac));
        let hostname = host?.hostname;
        if (!hostname) {
          const base = `phone-${d.extension.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 50);
          const taken = async (h: string) => hostnames.has(h) || !!(await dhcp.lookup(h));
          hostname = (await taken(base)) ? `${base}-${d.mac.slice(6)}` : base;
        }
        hostnames.add(hostname);
        plan.dhcp = {
          mac: fmtMac(d.mac),
          ip: d.ip === 'auto' ? (host?.ip ?? 'auto') : d.ip,
          hostname,
          room: d.room ?? host?.room ?? undefined,
          phones: [...new Set([...(host?.phones ?? []), d.extension])],
          owner: host?.owner ?? d.name,
          access: host?.access ?? 0,
          comment: host?.comment ?? `${d.driver.label} ext ${d.extension}`,
          bootServer: this.renderer.configUrl(token),
        };
        dhcpInputs.push({ index: plans.length, input: plan.dhcp });
      }
      plans.push(plan);
      progress?.(++i);
    }
    if (dhcpInputs.length) {
      const r = await dhcp.upsertHosts(
        dhcpInputs.map((x) => x.input),
        'provision',
        { dryRun: true },
      );
      for (const e of r.errors) problems.push({ row: plans[dhcpInputs[e.index]!.index]!.draft.row, field: 'ip', message: `DHCP: ${e.message}` });
    }
    problems.sort((a, b) => a.row - b.row);
    return { problems, plans };
  }

  /**
   * Write validated plans: DHCP reservations, then the phone rows in one transaction, then the served index
   * and the files. If the phone rows cannot be stored, the reservations this batch wrote are put back as
   * they were and nothing else has been touched. Files come last: they are derived from the store (start-up,
   * regenerate and every process following the change feed rewrite missing or stale ones).
   */
  async commit(plans: Plan[], by: string, target: Target | null, progress?: (done: number, total: number) => void, onStored?: OnStored): Promise<BatchOutcome> {
    const dhcp = this.app.services.dhcp;
    const dhcpPlans = plans.filter((p) => p.dhcp);
    let dhcpOut = { added: 0, changed: 0 };
    let dhcpWritten: { added: HostRecord[]; changed: HostRecord[]; before: Map<string, HostRecord> } | null = null;
    if (dhcpPlans.length) {
      const r = await dhcp.upsertHosts(
        dhcpPlans.map((p) => p.dhcp!),
        by,
      );
      if (!r.ok) return { ok: false, problems: r.errors.map((e) => ({ row: dhcpPlans[e.index]!.draft.row, field: 'ip', message: `DHCP: ${e.message}` })), results: [], dhcp: dhcpOut };
      dhcpOut = { added: r.added.length, changed: r.changed.length };
      dhcpWritten = { added: r.added, changed: r.changed, before: r.before };
      const planOf = new Map(dhcpPlans.map((p) => [fmtMac(p.draft.mac), p]));
      for (const h of [...r.added, ...r.changed]) {
        const p = planOf.get(h.mac);
        if (p) p.draft.ip = h.ip;
      }
    }
    const t = Date.now();
    const records: { rec: PhoneRecord; sealed: string; files: RenderedFile[]; plan: Plan; isNew: boolean; unchanged: boolean }[] = [];
    const toWrite: RenderedFile[] = [];
    const stale: string[] = [];
    for (const p of plans) {
      const d = p.draft;
      stale.push(...(p.existing?.files ?? []).filter((f) => !p.files.some((x) => x.name === f)));
      if (p.action !== 'unchanged' || !p.existing) toWrite.push(...p.files);
      const rec: PhoneRecord = {
        mac: d.mac,
        model: d.driver.id,
        extension: d.extension,
        name: d.name,
        authUser: d.authUser,
        server: d.server,
        port: d.port,
        line: d.line,
        room: d.room ?? null,
        ip: d.ip && d.ip !== 'auto' ? d.ip : (p.existing?.ip ?? null),
        extra: d.extra,
        token: p.token,
        files: p.files.map((f) => f.name),
        version: p.version,
        digest: p.digest,
        target: target ?? p.existing?.target ?? null,
        generatedAt: p.action === 'unchanged' && p.existing ? p.existing.generatedAt : t,
        announcedVersion: p.existing?.announcedVersion ?? 0,
        lastFetchAt: p.existing?.lastFetchAt ?? null,
        lastFetchIp: p.existing?.lastFetchIp ?? null,
        lastFetchUa: p.existing?.lastFetchUa ?? null,
        updatedBy: by,
        updatedAt: t,
      };
      records.push({ rec, sealed: d.sealed ?? this.app.sealer.seal(d.password), files: p.files, plan: p, isNew: !p.existing, unchanged: p.action === 'unchanged' });
    }
    const results = records.map((r) => ({
      row: r.plan.draft.row,
      mac: r.rec.mac,
      extension: r.rec.extension,
      name: r.rec.name,
      room: r.rec.room,
      model: r.rec.model,
      files: r.rec.files,
      version: r.rec.version,
      action: r.plan.action,
      ip: r.rec.ip,
    }));
    const stored: BatchOutcome = { ok: true, problems: [], dhcp: dhcpOut, results, warnings: plans.flatMap((p) => (p.warning ? [p.warning] : [])) };
    try {
      await this.store.storeBatch(records, onStored && ((tx) => onStored(tx, stored)));
    } catch (err) {
      const ref = crypto.randomBytes(3).toString('hex');
      this.app.log.error({ err, ref }, "storing provisioned phones failed; putting the batch's DHCP reservations back");
      let undo = '';
      if (dhcpWritten) {
        const left = await this.store.undoDhcp(dhcpWritten, by);
        const n = dhcpWritten.added.length + dhcpWritten.changed.length;
        undo = left.length
          ? `; ⚠ ${left.length} DHCP reservation${left.length === 1 ? '' : 's'} written for this batch could not be put back (${left.slice(0, 10).join(', ')}${left.length > 10 ? ', …' : ''}): check them with dhcp show`
          : `; the ${n} DHCP reservation${n === 1 ? '' : 's'} it wrote were put back as they were`;
      }
      return {
        ok: false,
        problems: [{ row: 1, message: `storing the phones failed (ref ${ref}; details in the bot's log), so no phone and no file was written${undo}` }],
        results: [],
        dhcp: { added: 0, changed: 0 },
      };
    }
    if (dhcpWritten) dhcp.changed();
    // Unchanged phones were not written: they stay served as stored.
    for (const r of records) if (!r.unchanged) this.index.index(r.rec, r.files);
    const warnings: string[] = [];
    try {
      await this.disk.writeSliced(toWrite, progress);
      this.disk.remove(stale);
    } catch (err) {
      this.app.log.error({ err: String(err), dir: this.disk.dir }, 'could not write phone files; they are served from memory and rewritten at the next start');
      warnings.push(
        `the phones are stored and served, but their files could not be written to ${this.disk.dir} (${(err as NodeJS.ErrnoException).code ?? 'error'}); they are written again at the next start or by provision regenerate`,
      );
    }
    return {
      ok: true,
      problems: [],
      dhcp: dhcpOut,
      warnings,
      results,
    };
  }
}
