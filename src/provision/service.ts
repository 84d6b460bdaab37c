// Provisioned phones, as the commands and the HTTP route see them. The work is done by:
//   phone-store.ts    the phones table (rows <-> records, transactions publishing to the change feed, DHCP undo)
//   rendering.ts      settings, rendering through the drivers, the version rule
//   served-index.ts   what this process serves from memory, following the store's change feed
//   announcements.ts  fetch bookkeeping and "post once" announcements decided in the store
//   batch.ts          validate a batch against the store and DHCP, commit it all or nothing
//   pending-batches.ts  a sheet's validated rows (passwords sealed) between the command and its job
//   overrides.ts      vendor keys set per model, room or phone, resolved into each phone's row
//   override-changes.ts  `provision set/unset/diff`: an override change rendered, stored and published at once
import crypto from 'node:crypto';
import path from 'node:path';
import type { App } from '../app-types.js';
import type { Target } from '../core/types.js';
import { registerSecret } from '../secrets.js';
import { isLoopbackUrl } from '../http/base-url.js';
import { CLAIM_KEY_MAX } from '../store/claims.js';
import type { Sealer } from '../store/sealer.js';
import type { DriverSet } from './drivers.js';
import type { PhoneDriver, ProvisionSettings } from '../../drivers/phones/contract.js';
import type { ProvisionConfig } from './config.js';
import type { PhoneDraft, RowProblem } from './rows.js';
import { RequestLog } from './request-log.js';
import { PendingBatches } from './pending-batches.js';
import { PhoneStore, type Bump, type PhoneRecord } from './phone-store.js';
import { FIRMWARE_KEY, phoneOf, Renderer } from './rendering.js';
import { PhoneFiles } from './phone-files.js';
import { ServedIndex, type ServedFile, type Unreadable } from './served-index.js';
import { Announcer } from './announcements.js';
import { Batches, type BatchOutcome, type OnStored, type Plan } from './batch.js';
import { phoneAdminPassword } from './admin-password.js';
import { firmwarePath, FirmwareStore, type FirmwareImage } from './firmware.js';
import { OVERRIDES_KEY, OverrideStore, resolveFor, sameOverrides, withOverrides, type Applied, type OverrideRow } from './overrides.js';
import { OverrideChanges, type NextRender, type OverrideChange, type OverrideOutcome } from './override-changes.js';

export type { PhoneRecord } from './phone-store.js';

export type { NextRender, OverrideChange, OverrideOutcome } from './override-changes.js';
export type { BatchOutcome, OnStored, Plan, RowResult } from './batch.js';
export { standardOffsetMinutes } from './rendering.js';

const fmtMacShort = (mac: string): string => mac.match(/../g)!.join(':');

declare module '../app-types.js' {
  interface Services {
    provision: ProvisionService;
  }
}

export class ProvisionService {
  readonly cfg: ProvisionConfig;
  readonly dir: string;
  readonly sealer: Sealer;
  readonly log: RequestLog;
  /** A sheet's validated rows, waiting for their job. */
  readonly pending: PendingBatches;
  readonly store: PhoneStore;
  readonly renderer: Renderer;
  readonly index: ServedIndex;
  readonly announcer: Announcer;
  readonly firmware: FirmwareStore;
  readonly overrides: OverrideStore;
  /** The TFTP server while it runs: started by the provision feature after start() (src/provision/tftp.ts), stopped by stop(). */
  tftp: { port(): number; stop(): Promise<void> } | null = null;
  private batches: Batches;
  private overrideChanges: OverrideChanges;

  constructor(
    private app: App,
    readonly drivers: DriverSet,
  ) {
    this.cfg = app.config.provision;
    this.dir = path.resolve(this.cfg.dir ?? path.join(app.config.dataDir, 'provision'));
    this.sealer = app.sealer;
    this.log = new RequestLog(app);
    this.pending = new PendingBatches(app);
    registerSecret(this.cfg.auth?.password);
    this.store = new PhoneStore(app);
    this.renderer = new Renderer(app, this.cfg, drivers);
    const disk = new PhoneFiles(this.dir);
    this.index = new ServedIndex(app, drivers, this.renderer, this.store, disk);
    this.announcer = new Announcer(app, this.cfg, drivers, this.store);
    this.overrides = new OverrideStore(app.sealer);
    this.batches = new Batches(app, drivers, this.renderer, this.index, this.store, disk, this.overrides);
    this.firmware = new FirmwareStore(app);
    this.overrideChanges = new OverrideChanges(app, drivers, this.renderer, this.index, this.store, this.overrides, (mac) => this.unreadableReason(mac));
    if (this.cfg.tftp.enabled && this.cfg.auth)
      throw new Error('config key "provision.tftp.enabled" cannot be used with "provision.auth": TFTP cannot carry the credentials, so it would serve the files without them');
  }

  /** The admin password (config or the store), then every phone from the store; then follow the change feed. */
  async init(): Promise<void> {
    this.renderer.setAdminPassword(await phoneAdminPassword(this.app, this.drivers));
    await this.index.load();
  }

  /** Follow every process's writes to the phones (server mode, after the feed started). */
  async start(): Promise<void> {
    this.index.subscribe();
    // Changes committed between init's load and the feed's start are in no feed read: catch them up once.
    await this.index.refresh('*').catch((err) => this.app.log.warn({ err: String(err) }, 'could not re-read the phones after start; serving what was loaded'));
  }

  rootUrl(): string {
    return this.renderer.rootUrl();
  }

  configUrl(token: string): string {
    return this.renderer.configUrl(token);
  }

  settings(driver: PhoneDriver, token: string, version: number): ProvisionSettings {
    return this.renderer.settings(driver, token, version);
  }

  /**
   * The warning that phones are told a loopback URL, at most once an hour per channel across every process
   * (a claim in the store); undefined when the URL is fine or the channel was told within the hour.
   */
  async loopbackNote(where: { platform: string; channel: string } | null): Promise<string | undefined> {
    const root = this.rootUrl();
    if (!isLoopbackUrl(root)) return undefined;
    const fix = this.cfg.url ? 'set provision.url (SWITCHBOARD_PROVISION_URL)' : 'set http.publicUrl (SWITCHBOARD_PUBLIC_URL) or provision.url (SWITCHBOARD_PROVISION_URL)';
    const note = `⚠ Phones are told to fetch from ${root}, a loopback address; ${fix} to an address they can reach.`;
    if (!where) return note;
    let key = `loopback-warning:${where.platform}:${where.channel}`;
    if (key.length > CLAIM_KEY_MAX) key = `loopback-warning:${crypto.createHash('sha256').update(key).digest('hex')}`;
    try {
      return (await this.app.claims.claim(key, 3600_000)) ? note : undefined;
    } catch (err) {
      this.app.log.warn({ err: String(err) }, 'could not claim the loopback warning; showing it');
      return note;
    }
  }

  // ---- reads ------------------------------------------------------------------------------------

  get(mac: string): PhoneRecord | undefined {
    return this.index.get(mac);
  }

  all(): PhoneRecord[] {
    return this.index.all();
  }

  /** By MAC (any notation) or extension. */
  lookup(key: string): PhoneRecord[] {
    return this.index.lookup(key);
  }

  /** Phones kept in the store but not served because their password cannot be opened, by MAC or extension (or all). */
  unreadablePhones(key?: string): Unreadable[] {
    return this.index.unreadablePhones(key);
  }

  /** Why a stored phone's files are not served, when that is the case. */
  unreadableReason(mac: string): string | undefined {
    return this.index.unreadableOf(mac)?.reason;
  }

  driverOf(rec: PhoneRecord): PhoneDriver | undefined {
    return this.drivers.get(rec.model);
  }

  label(rec: { model: string }): string {
    return this.drivers.get(rec.model)?.label ?? rec.model;
  }

  /** Last fetches recorded by every process (listings and re-sync use the address a phone last fetched from). */
  async refreshFetches(): Promise<void> {
    this.index.mergeFetches(await this.store.readFetches());
  }

  // ---- writes -----------------------------------------------------------------------------------

  plan(drafts: PhoneDraft[], progress?: (done: number) => void): Promise<{ problems: RowProblem[]; plans: Plan[] }> {
    return this.batches.plan(drafts, progress);
  }

  commit(plans: Plan[], by: string, target: Target | null, progress?: (done: number, total: number) => void, onStored?: OnStored): Promise<BatchOutcome> {
    return this.batches.commit(plans, by, target, progress, onStored);
  }

  /** Validate then commit, all or nothing. */
  async provision(
    drafts: PhoneDraft[],
    opts: { by: string; target: Target | null; dryRun?: boolean; onValidated?: (n: number) => void; onWritten?: (done: number, files: number) => void; onStored?: OnStored },
  ): Promise<BatchOutcome & { plans: Plan[] }> {
    const { problems, plans } = await this.plan(drafts, opts.onValidated);
    if (problems.length) return { ok: false, problems, results: [], dhcp: { added: 0, changed: 0 }, plans };
    const warnings = plans.flatMap((p) => (p.warning ? [p.warning] : []));
    if (opts.dryRun) {
      return {
        ok: true,
        problems: [],
        dhcp: { added: plans.filter((p) => p.dhcp).length, changed: 0 },
        plans,
        warnings,
        results: plans.map((p) => ({
          row: p.draft.row,
          mac: p.draft.mac,
          extension: p.draft.extension,
          name: p.draft.name,
          room: p.draft.room ?? null,
          model: p.draft.driver.id,
          files: p.files.map((f) => f.name),
          version: p.version,
          action: p.action,
          ip: p.dhcp?.ip ?? p.existing?.ip ?? null,
        })),
      };
    }
    const out = await this.commit(plans, opts.by, opts.target, opts.onWritten, opts.onStored);
    return { ...out, plans, warnings: [...warnings, ...(out.warnings ?? [])] };
  }

  /** Re-render from the store (after a driver or config change); versions rise where content changed. */
  async regenerate(macs: string[] | 'all', by: string): Promise<{ changed: string[]; unchanged: string[]; failed: { mac: string; extension: string; reason: string }[] }> {
    const list = macs === 'all' ? [...this.index.macs(), ...this.index.unreadablePhones().map((u) => u.rec.mac)] : macs;
    const unchanged: string[] = [];
    const failed: { mac: string; extension: string; reason: string }[] = [];
    const raised: { s: { rec: PhoneRecord; sealed: string }; files: ReturnType<Renderer['render']>; stale: string[] }[] = [];
    const moved: Bump[] = [];
    const stamp = { by, at: Date.now() };
    // A phone's overrides are resolved again from the store (its room or the overrides may have moved since).
    const overrideRows = await this.overrides.all(this.app.db);
    for (const mac of list) {
      const s = await this.store.readOne(mac);
      if (!s) {
        this.index.drop(mac);
        continue;
      }
      const { rec } = s;
      const driver = this.drivers.get(rec.model);
      if (!driver) continue;
      const password = this.index.openPassword(s);
      if (password === null) {
        // Not served any more either: its files would carry a password nobody can check.
        this.index.unindex(mac);
        failed.push({ mac, extension: rec.extension, reason: this.unreadableReason(mac)! });
        continue;
      }
      const applied = resolveFor(overrideRows, rec);
      const overridesMoved = !sameOverrides(rec.extra[OVERRIDES_KEY], applied, this.sealer);
      if (overridesMoved) rec.extra = withOverrides(rec.extra, applied, this.sealer);
      const r = this.renderer.versioned(driver, phoneOf(rec, password), rec.token, rec.version, rec.digest);
      if (!r.changed) {
        if (overridesMoved) {
          Object.assign(rec, { updatedBy: by, updatedAt: stamp.at });
          moved.push({ mac, version: rec.version, digest: rec.digest, files: rec.files, generatedAt: rec.generatedAt, extra: rec.extra });
        }
        this.index.writeLocal(r.files, true);
        this.index.index(rec, r.files);
        unchanged.push(mac);
        continue;
      }
      const stale = rec.files.filter((f) => !r.files.some((x) => x.name === f));
      Object.assign(rec, { version: r.version, digest: r.digest, files: r.files.map((f) => f.name), generatedAt: stamp.at, updatedBy: by, updatedAt: stamp.at });
      raised.push({ s, files: r.files, stale });
      if (overridesMoved) moved.push({ mac, version: rec.version, digest: rec.digest, files: rec.files, generatedAt: rec.generatedAt, extra: rec.extra });
    }
    const bumps: Bump[] = [
      ...raised
        .filter(({ s: { rec } }) => !moved.some((m) => m.mac === rec.mac))
        .map(({ s: { rec } }) => ({ mac: rec.mac, version: rec.version, digest: rec.digest, files: rec.files, generatedAt: rec.generatedAt })),
      ...moved,
    ];
    await this.store.bumpVersions(bumps, stamp);
    for (const x of raised) {
      this.index.index(x.s.rec, x.files);
      this.index.writeLocal(x.files);
      this.index.removeLocal(x.stale);
    }
    return { changed: raised.map((x) => x.s.rec.mac), unchanged, failed };
  }

  // ---- firmware waves ---------------------------------------------------------------------------

  /**
   * The phones a wave `to` names among one model's phones: "n%" (the first n % in a fixed order spread by a
   * hash of the MAC, so a larger wave includes the smaller one), a room, or MACs/extensions separated by commas.
   */
  waveTargets(model: string, to: string | undefined): PhoneRecord[] {
    const mine = this.all().filter((p) => p.model === model);
    const order = (p: PhoneRecord) => crypto.createHash('sha256').update(p.mac).digest('hex');
    const spec = (to ?? '100%').trim();
    const pct = /^(\d{1,3})%$/.exec(spec);
    if (pct) {
      const n = Number(pct[1]);
      if (n < 1 || n > 100) throw new Error(`to=${spec}: a share from 1% to 100%`);
      return [...mine].sort((a, b) => order(a).localeCompare(order(b))).slice(0, Math.ceil((mine.length * n) / 100));
    }
    const room = mine.filter((p) => (p.room ?? '').toLowerCase() === spec.toLowerCase());
    if (room.length) return room;
    const out: PhoneRecord[] = [];
    for (const key of spec
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean)) {
      const found = this.lookup(key);
      if (!found.length) throw new Error(`to=${spec}: "${key}" is no room of a ${this.drivers.get(model)?.label ?? model} phone, nor a provisioned MAC or extension`);
      for (const p of found) {
        if (p.model !== model) throw new Error(`to=${spec}: ${fmtMacShort(p.mac)} is a ${this.label(p)}, not a ${this.drivers.get(model)?.label ?? model}`);
        if (!out.includes(p)) out.push(p);
      }
    }
    return out;
  }

  firmwareUrl(img: FirmwareImage): string {
    return `${this.rootUrl()}${firmwarePath(img)}`;
  }

  /** Records the wave, puts the image's URL into these phones' configs and re-renders them (versions rise). */
  async rollout(img: FirmwareImage, phones: PhoneRecord[], scope: string, by: string): Promise<{ changed: string[] }> {
    const macs = phones.map((p) => p.mac);
    await this.firmware.startWave({ model: img.model, version: img.version, sha256: img.sha256, macs, scope, startedBy: by });
    await this.store.setExtra(macs, FIRMWARE_KEY, this.firmwareUrl(img), { by, at: Date.now() });
    const r = await this.regenerate(macs, by);
    return { changed: r.changed };
  }

  /** Halts the active waves (of one model or all) and takes the firmware URL out of their phones' configs. */
  async haltWaves(model: string | undefined, by: string): Promise<{ waves: number; changed: string[] }> {
    const { waves } = await this.firmware.halt(model);
    const macs = [...new Set(waves.flatMap((w) => w.macs))].filter((m) => this.get(m) || this.unreadableOf(m));
    await this.store.setExtra(macs, FIRMWARE_KEY, null, { by, at: Date.now() });
    const r = await this.regenerate(macs, by);
    return { waves: waves.length, changed: r.changed };
  }

  // ---- overrides (src/provision/override-changes.ts) ----------------------------------------------

  /** Every override in the store. */
  overrideRows(): Promise<OverrideRow[]> {
    return this.overrides.all(this.app.db);
  }

  changeOverrides(change: OverrideChange, by: string, opts: { dryRun?: boolean } = {}): Promise<OverrideOutcome> {
    return this.overrideChanges.change(change, by, opts);
  }

  nextRender(mac: string, proposed: Applied[] = []): Promise<NextRender> {
    return this.overrideChanges.next(mac, proposed);
  }

  private unreadableOf(mac: string) {
    return this.index.unreadableOf(mac);
  }

  /** Forget a phone (every process stops serving it) and delete its local files. */
  async remove(mac: string): Promise<PhoneRecord | undefined> {
    const rec = this.index.get(mac) ?? this.index.unreadableOf(mac)?.rec;
    if (!rec) return undefined;
    await this.store.remove(mac);
    this.index.drop(mac);
    this.announcer.forget(mac);
    return rec;
  }

  // ---- serving (hot path: memory only) ----------------------------------------------------------

  fileByName(name: string): ServedFile | undefined {
    return this.index.fileByName(name);
  }

  macOfToken(token: string): string | undefined {
    return this.index.macOfToken(token);
  }

  /** A phone fetched one of its files: remember it, and have its channel told once per config version. */
  recordFetch(mac: string, ip: string, ua: string | null): void {
    const rec = this.index.get(mac);
    if (rec) this.announcer.recordFetch(rec, ip, ua);
  }

  /** A request for a phone file nobody provisioned: announced once an hour per MAC when configured. */
  unknownFetch(mac: string, file: string, ip: string, ua: string | null): void {
    this.announcer.unknownFetch(mac, file, ip, ua);
  }

  flushFetches(): Promise<void> {
    return this.announcer.flush();
  }

  async stop(): Promise<void> {
    await this.tftp?.stop();
    this.index.stop();
    await this.announcer.stop();
    await this.log.stop();
  }
}
