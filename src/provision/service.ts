// Provisioned phones: validation against the store and DHCP, versioned rendering through the drivers,
// atomic file writes, an in-memory index the HTTP server answers from, fetch announcements.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { App } from '../app-types.js';
import type { Target } from '../core/types.js';
import { registerSecret } from '../secrets.js';
import { now } from '../store/db.js';
import type { HostInput, HostRecord } from '../dhcp/service.js';
import type { DriverSet } from './drivers.js';
import type { Phone, PhoneDriver, ProvisionSettings, RenderedFile } from './driver.js';
import type { ProvisionConfig } from './config.js';
import { Sealer } from './sealer.js';
import { fmtMac, type PhoneDraft, type RowProblem } from './rows.js';
import { RequestLog } from './request-log.js';

declare module '../store/db.js' {
  interface Tables {
    phones: {
      id: import('kysely').Generated<number>;
      mac: string;
      model: string;
      extension: string;
      name: string;
      auth_user: string;
      server: string;
      port: number;
      line: number;
      room: string | null;
      ip: string | null;
      extra: string;
      password_sealed: string;
      token: string;
      files: string;
      version: number;
      digest: string;
      target: string | null;
      generated_at: number;
      announced_version: import('kysely').Generated<number>;
      last_fetch_at: number | null;
      last_fetch_ip: string | null;
      last_fetch_ua: string | null;
      updated_by: string;
      updated_at: number;
    };
  }
}

declare module '../app-types.js' {
  interface Services { provision: ProvisionService }
}

export interface PhoneRecord {
  mac: string;
  model: string;
  extension: string;
  name: string;
  authUser: string;
  server: string;
  port: number;
  line: number;
  room: string | null;
  ip: string | null;
  extra: Record<string, string>;
  token: string;
  files: string[];
  version: number;
  digest: string;
  target: Target | null;
  generatedAt: number;
  announcedVersion: number;
  lastFetchAt: number | null;
  lastFetchIp: string | null;
  lastFetchUa: string | null;
  updatedBy: string;
  updatedAt: number;
}

interface ServedFile {
  mac: string;
  name: string;
  contentType: string;
  /** Kept as a string: Node writes a string body together with the headers in one syscall. */
  body: string;
}

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

export interface BatchOutcome {
  ok: boolean;
  problems: RowProblem[];
  results: RowResult[];
  dhcp: { added: number; changed: number };
  warnings?: string[];
}

const digestOf = (files: RenderedFile[]) => crypto.createHash('sha256').update(files.map((f) => `${f.name}\0${f.body}`).join('\0\0')).digest('hex');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toRecord(r: Record<string, any>): PhoneRecord {
  return {
    mac: r.mac,
    model: r.model,
    extension: r.extension,
    name: r.name,
    authUser: r.auth_user,
    server: r.server,
    port: Number(r.port),
    line: Number(r.line),
    room: r.room,
    ip: r.ip,
    extra: JSON.parse(r.extra || '{}'),
    token: r.token,
    files: JSON.parse(r.files || '[]'),
    version: Number(r.version),
    digest: r.digest,
    target: r.target ? (JSON.parse(r.target) as Target) : null,
    generatedAt: Number(r.generated_at),
    announcedVersion: Number(r.announced_version),
    lastFetchAt: r.last_fetch_at === null ? null : Number(r.last_fetch_at),
    lastFetchIp: r.last_fetch_ip,
    lastFetchUa: r.last_fetch_ua,
    updatedBy: r.updated_by,
    updatedAt: Number(r.updated_at),
  };
}

/** Standard-time UTC offset of an IANA zone in minutes (the smaller of January's and July's). */
export function standardOffsetMinutes(zone: string, year = new Date().getUTCFullYear()): number {
  const off = (d: Date) => {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(d);
    const tz = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(tz);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) : 0;
  };
  return Math.min(off(new Date(Date.UTC(year, 0, 15))), off(new Date(Date.UTC(year, 6, 15))));
}

/** A `provision show|rm|…` key written as a MAC (any notation) → 12 lower-case hex digits; null for an extension. */
function macKey(key: string): string | null {
  const hex = key.toLowerCase().replace(/[^0-9a-f]/g, '');
  return hex.length === 12 && /^[0-9a-f:.\-]+$/i.test(key.trim()) ? hex : null;
}

export class ProvisionService {
  readonly cfg: ProvisionConfig;
  readonly dir: string;
  readonly sealer: Sealer;
  readonly log: RequestLog;
  private phones = new Map<string, PhoneRecord>();
  private files = new Map<string, ServedFile>();
  private tokens = new Map<string, string>();
  private pendingFetch = new Map<string, { at: number; ip: string; ua: string | null; announced: number }>();
  private fetchTimer: NodeJS.Timeout | null = null;
  private adminPassword: string;
  private timezone: string;
  private offset: number;
  private unknownAnnounced = new Map<string, number>();
  /** Phones whose sealed SIP password this key cannot open (key changed, row damaged): kept, not served. */
  private unreadable = new Map<string, { rec: PhoneRecord; reason: string }>();

  constructor(private app: App, readonly drivers: DriverSet) {
    this.cfg = app.config.provision;
    this.dir = path.resolve(this.cfg.dir ?? path.join(app.config.dataDir, 'provision'));
    this.sealer = Sealer.fromEnvOrFile(process.env, app.config.dataDir);
    this.log = new RequestLog(app);
    this.adminPassword = this.cfg.adminPassword ?? loadOrCreateSecret(path.join(app.config.dataDir, 'phone-admin.secret'));
    registerSecret(this.adminPassword);
    registerSecret(this.cfg.auth?.password);
    // What the config schema lets through may still be something a vendor format cannot carry (AudioCodes
    // cuts a value at ';'). Checked against every installed driver; the message names the key, never the value.
    if (this.cfg.adminPassword !== undefined) {
      for (const d of drivers.list) {
        const p = d.validateSettings?.({ adminPassword: this.cfg.adminPassword })[0];
        if (p) throw new Error(`config key "provision.${p.field}" (SWITCHBOARD_PHONE_ADMIN_PASSWORD) cannot be used with ${d.label} phones: it ${p.message}`);
      }
    }
    this.timezone = this.cfg.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
    try {
      this.offset = standardOffsetMinutes(this.timezone);
    } catch {
      throw new Error(`config key "provision.timezone" has value "${this.timezone}": must be an IANA time zone such as America/Sao_Paulo`);
    }
    for (const d of drivers.list) if (this.cfg.drivers[d.id] && d.optionsSchema) validateOptions(d, this.cfg.drivers[d.id]!);
    for (const k of Object.keys(this.cfg.drivers)) if (!drivers.get(k)) throw new Error(`config key "provision.drivers.${k}" names no phone driver (known: ${drivers.names()})`);
  }

  /** URL of the provisioning root as phones reach it. */
  rootUrl(): string {
    return this.cfg.url ?? `${this.app.baseUrl().replace(/\/+$/, '')}/provision/`;
  }

  configUrl(token: string): string {
    return this.cfg.tokenUrls ? `${this.rootUrl()}t/${token}/` : this.rootUrl();
  }

  settings(driver: PhoneDriver, token: string, version: number): ProvisionSettings {
    return {
      configUrl: this.configUrl(token),
      auth: this.cfg.auth ? { ...this.cfg.auth } : undefined,
      ntpServer: this.cfg.ntpServer,
      timezone: this.timezone,
      utcOffsetMinutes: this.offset,
      adminPassword: this.adminPassword,
      version,
      options: { ...(this.cfg.drivers[driver.id] ?? {}) },
    };
  }

  private render(driver: PhoneDriver, phone: Phone, token: string, version: number): RenderedFile[] {
    return driver.render(phone, this.settings(driver, token, version));
  }

  /** Load every phone, re-render it from the store, raise its version if its content changed (config edits), rewrite stale files. */
  async init(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    const rows = await this.app.db.selectFrom('phones').selectAll().execute();
    this.phones.clear();
    this.files.clear();
    this.tokens.clear();
    this.unreadable.clear();
    const bumped: { mac: string; version: number; digest: string; files: string }[] = [];
    for (const r of rows) {
      const rec = toRecord(r);
      const driver = this.drivers.get(rec.model);
      if (!driver) {
        this.app.log.warn({ mac: rec.mac, model: rec.model }, 'phone of a model with no driver; not served');
        continue;
      }
      const password = this.openPassword(rec, r.password_sealed);
      if (password === null) continue;
      const phone = this.phoneOf(rec, password);
      let files = this.render(driver, phone, rec.token, rec.version);
      let digest = digestOf(files);
      if (digest !== rec.digest) {
        rec.version += 1;
        files = this.render(driver, phone, rec.token, rec.version);
        digest = digestOf(files);
        rec.digest = digest;
        rec.files = files.map((f) => f.name);
        bumped.push({ mac: rec.mac, version: rec.version, digest, files: JSON.stringify(rec.files) });
      }
      this.index(rec, files);
      this.writeFiles(files, true);
    }
    for (const b of bumped) await this.app.db.updateTable('phones').set({ version: b.version, digest: b.digest, files: b.files, generated_at: now() }).where('mac', '=', b.mac).execute();
    if (bumped.length) this.app.log.info({ phones: bumped.length }, 'phone configs changed with the config; versions raised');
    this.app.log.info({ phones: this.phones.size, unreadable: this.unreadable.size, dir: this.dir }, 'provisioning ready');
  }

  /** The phone's SIP password, or null (logged, the phone set aside as unreadable) when this key cannot open it. */
  private openPassword(rec: PhoneRecord, sealed: string): string | null {
    try {
      const pw = this.sealer.open(sealed);
      this.unreadable.delete(rec.mac);
      return pw;
    } catch {
      const reason = 'its sealed SIP password cannot be opened with this key (was SWITCHBOARD_PROVISION_KEY or provision.key changed?), so its files are not served; put the old key back, or provision the phone again with its password';
      this.unreadable.set(rec.mac, { rec, reason });
      this.app.log.error({ mac: rec.mac, model: rec.model, extension: rec.extension }, 'a phone\'s sealed SIP password cannot be opened with this key; its files are not served');
      return null;
    }
  }

  /** Phones kept in the store but not served because their password cannot be opened, by MAC or extension (or all). */
  unreadablePhones(key?: string): { rec: PhoneRecord; reason: string }[] {
    const all = [...this.unreadable.values()];
    if (key === undefined) return all;
    const hex = macKey(key);
    return all.filter((u) => (hex ? u.rec.mac === hex : u.rec.extension === key));
  }

  /** Why a stored phone's files are not served, when that is the case. */
  unreadableReason(mac: string): string | undefined {
    return this.unreadable.get(mac)?.reason;
  }

  private phoneOf(rec: Omit<PhoneRecord, 'token'> | PhoneRecord, password: string): Phone {
    return { mac: rec.mac, model: rec.model, extension: rec.extension, name: rec.name, authUser: rec.authUser, password, server: rec.server, port: rec.port, line: rec.line, room: rec.room ?? undefined, extra: rec.extra };
  }

  private index(rec: PhoneRecord, files: RenderedFile[]): void {
    this.unindex(rec.mac);
    this.phones.set(rec.mac, rec);
    this.tokens.set(rec.token, rec.mac);
    for (const f of files) this.files.set(f.name.toLowerCase(), { mac: rec.mac, name: f.name, contentType: f.contentType, body: f.body });
  }

  /** Atomic: write to a temp name beside the target, then rename. With onlyIfChanged, leave identical files alone. */
  private writeFiles(files: RenderedFile[], onlyIfChanged = false): void {
    for (const f of files) {
      const target = path.join(this.dir, f.name);
      if (path.dirname(target) !== this.dir) throw new Error(`driver produced a file name outside the provisioning dir: ${f.name}`);
      if (onlyIfChanged) {
        try {
          if (fs.readFileSync(target, 'utf8') === f.body) continue;
        } catch {
          /* missing: write it */
        }
      }
      const tmp = path.join(this.dir, `.${f.name}.${process.pid}.tmp`);
      fs.writeFileSync(tmp, f.body, { mode: 0o640 });
      fs.renameSync(tmp, target);
    }
  }

  /** writeFiles in slices, yielding between them so progress edits and HTTP requests go on during big batches. */
  private async writeFilesSliced(files: RenderedFile[], progress?: (done: number, total: number) => void): Promise<void> {
    progress?.(0, files.length);
    for (let i = 0; i < files.length; i += 500) {
      this.writeFiles(files.slice(i, i + 500));
      progress?.(Math.min(i + 500, files.length), files.length);
      await new Promise((r) => setImmediate(r));
    }
  }

  private removeFiles(names: string[]): void {
    for (const n of names) fs.rmSync(path.join(this.dir, n), { force: true });
  }

  get(mac: string): PhoneRecord | undefined {
    return this.phones.get(mac);
  }

  all(): PhoneRecord[] {
    return [...this.phones.values()].sort((a, b) => a.extension.localeCompare(b.extension, undefined, { numeric: true }) || a.mac.localeCompare(b.mac));
  }

  /** By MAC (any notation) or extension. */
  lookup(key: string): PhoneRecord[] {
    const hex = macKey(key);
    if (hex) {
      const p = this.phones.get(hex);
      return p ? [p] : [];
    }
    return this.all().filter((p) => p.extension === key);
  }

  driverOf(rec: PhoneRecord): PhoneDriver | undefined {
    return this.drivers.get(rec.model);
  }

  label(rec: { model: string }): string {
    return this.drivers.get(rec.model)?.label ?? rec.model;
  }

  /** Validate drafts against the store and DHCP and work out what each would do. Nothing is written. */
  async plan(drafts: PhoneDraft[], progress?: (done: number) => void): Promise<{ problems: RowProblem[]; plans: Plan[] }> {
    const problems: RowProblem[] = [];
    const plans: Plan[] = [];
    const batchMacs = new Set(drafts.map((d) => d.mac));
    const extOwner = new Map<string, string>();
    for (const p of [...this.phones.values(), ...[...this.unreadable.values()].map((u) => u.rec)]) if (!batchMacs.has(p.mac)) extOwner.set(`${p.server.toLowerCase()}/${p.extension}`, p.mac);
    const dhcp = this.app.services.dhcp;
    const dhcpInputs: { index: number; input: HostInput }[] = [];
    const hostnames = new Set<string>();
    let i = 0;
    for (const d of drafts) {
      const unreadable = this.unreadable.get(d.mac)?.rec;
      const existing = this.phones.get(d.mac) ?? unreadable;
      if (existing && existing.model !== d.driver.id) {
        problems.push({ row: d.row, field: 'mac', message: `${fmtMac(d.mac)} is already provisioned as a ${this.label(existing)} (ext ${existing.extension}); run provision rm ${fmtMac(d.mac)} first to change its model` });
        continue;
      }
      const other = extOwner.get(`${d.server.toLowerCase()}/${d.extension}`);
      if (other) {
        problems.push({ row: d.row, field: 'extension', message: `extension ${d.extension} is already on phone ${fmtMac(other)}; run provision rm ${fmtMac(other)} first, or use another extension` });
        continue;
      }
      const token = existing?.token ?? this.sealer.random(16).toString('hex');
      const phone: Phone = { mac: d.mac, model: d.driver.id, extension: d.extension, name: d.name, authUser: d.authUser, password: d.password, server: d.server, port: d.port, line: d.line, room: d.room, extra: d.extra };
      let version = existing?.version ?? 1;
      let files = this.render(d.driver, phone, token, version);
      let digest = digestOf(files);
      let action: Plan['action'] = existing ? 'unchanged' : 'added';
      if (existing && digest !== existing.digest) {
        version += 1;
        files = this.render(d.driver, phone, token, version);
        digest = digestOf(files);
        action = 'updated';
      } else if (existing && ((existing.room ?? undefined) !== d.room || unreadable)) action = 'updated'; // an unreadable row gets its password sealed again
      const plan: Plan = { draft: d, action, version, token, files, digest, existing };
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
          bootServer: this.configUrl(token),
        };
        dhcpInputs.push({ index: plans.length, input: plan.dhcp });
      }
      plans.push(plan);
      progress?.(++i);
    }
    if (dhcpInputs.length) {
      const r = await dhcp.upsertHosts(dhcpInputs.map((x) => x.input), 'provision', { dryRun: true });
      for (const e of r.errors) problems.push({ row: plans[dhcpInputs[e.index]!.index]!.draft.row, field: 'ip', message: `DHCP: ${e.message}` });
    }
    problems.sort((a, b) => a.row - b.row);
    return { problems, plans };
  }

  /**
   * Write validated plans: DHCP reservations, then the phone rows in one transaction, then the served index
   * and the files. If the phone rows cannot be stored, the reservations this batch wrote are put back as
   * they were and nothing else has been touched. Files come last: they are derived from the store (start-up
   * and regenerate rewrite missing or stale ones), and the server answers from the index.
   */
  async commit(plans: Plan[], by: string, target: Target | null, progress?: (done: number, total: number) => void): Promise<BatchOutcome> {
    const dhcp = this.app.services.dhcp;
    const dhcpPlans = plans.filter((p) => p.dhcp);
    let dhcpOut = { added: 0, changed: 0 };
    let dhcpWritten: { added: HostRecord[]; changed: HostRecord[]; before: Map<string, HostRecord> } | null = null;
    if (dhcpPlans.length) {
      const r = await dhcp.upsertHosts(dhcpPlans.map((p) => p.dhcp!), by);
      if (!r.ok) return { ok: false, problems: r.errors.map((e) => ({ row: dhcpPlans[e.index]!.draft.row, field: 'ip', message: `DHCP: ${e.message}` })), results: [], dhcp: dhcpOut };
      dhcpOut = { added: r.added.length, changed: r.changed.length };
      dhcpWritten = { added: r.added, changed: r.changed, before: r.before };
      const planOf = new Map(dhcpPlans.map((p) => [fmtMac(p.draft.mac), p]));
      for (const h of [...r.added, ...r.changed]) {
        const p = planOf.get(h.mac);
        if (p) p.draft.ip = h.ip;
      }
    }
    const t = now();
    const records: { rec: PhoneRecord; sealed: string; files: RenderedFile[]; plan: Plan }[] = [];
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
      records.push({ rec, sealed: d.sealed ?? this.sealer.seal(d.password), files: p.files, plan: p });
    }
    try {
      await this.storeRecords(records);
    } catch (err) {
      const ref = crypto.randomBytes(3).toString('hex');
      this.app.log.error({ err, ref }, 'storing provisioned phones failed; putting the batch\'s DHCP reservations back');
      let undo = '';
      if (dhcpWritten) {
        const left = await this.undoDhcp(dhcpWritten, by);
        undo = left.length
          ? `; ⚠ ${left.length} DHCP reservation${left.length === 1 ? '' : 's'} written for this batch could not be put back (${left.slice(0, 10).join(', ')}${left.length > 10 ? ', …' : ''}): check them with dhcp show`
          : `; the ${dhcpWritten.added.length + dhcpWritten.changed.length} DHCP reservation${dhcpWritten.added.length + dhcpWritten.changed.length === 1 ? '' : 's'} it wrote were put back as they were`;
      }
      return { ok: false, problems: [{ row: 1, message: `storing the phones failed (ref ${ref}; details in the bot's log), so no phone and no file was written${undo}` }], results: [], dhcp: { added: 0, changed: 0 } };
    }
    if (dhcpWritten) dhcp.changed();
    for (const r of records) {
      this.unreadable.delete(r.rec.mac);
      this.index(r.rec, r.files);
    }
    const warnings: string[] = [];
    try {
      await this.writeFilesSliced(toWrite, progress);
      this.removeFiles(stale);
    } catch (err) {
      this.app.log.error({ err: String(err), dir: this.dir }, 'could not write phone files; they are served from memory and rewritten at the next start');
      warnings.push(`the phones are stored and served, but their files could not be written to ${this.dir} (${(err as NodeJS.ErrnoException).code ?? 'error'}); they are written again at the next start or by provision regenerate`);
    }
    return {
      ok: true,
      problems: [],
      dhcp: dhcpOut,
      warnings,
      results: records.map((r) => ({ row: r.plan.draft.row, mac: r.rec.mac, extension: r.rec.extension, name: r.rec.name, room: r.rec.room, model: r.rec.model, files: r.rec.files, version: r.rec.version, action: r.plan.action, ip: r.rec.ip })),
    };
  }

  /** Phone rows of a batch in one transaction: new ones inserted, changed ones updated, unchanged ones left. */
  private async storeRecords(records: { rec: PhoneRecord; sealed: string; plan: Plan }[]): Promise<void> {
    await this.app.db.transaction().execute(async (tx) => {
      const existingMacs = new Set(records.filter((r) => r.plan.existing).map((r) => r.rec.mac));
      const toRow = (r: (typeof records)[number]) => ({
        mac: r.rec.mac,
        model: r.rec.model,
        extension: r.rec.extension,
        name: r.rec.name,
        auth_user: r.rec.authUser,
        server: r.rec.server,
        port: r.rec.port,
        line: r.rec.line,
        room: r.rec.room,
        ip: r.rec.ip,
        extra: JSON.stringify(r.rec.extra),
        password_sealed: r.sealed,
        token: r.rec.token,
        files: JSON.stringify(r.rec.files),
        version: r.rec.version,
        digest: r.rec.digest,
        target: r.rec.target ? JSON.stringify(r.rec.target) : null,
        generated_at: r.rec.generatedAt,
        updated_by: r.rec.updatedBy,
        updated_at: r.rec.updatedAt,
      });
      const fresh = records.filter((r) => !existingMacs.has(r.rec.mac)).map(toRow);
      for (let i = 0; i < fresh.length; i += 400) await tx.insertInto('phones').values(fresh.slice(i, i + 400)).execute();
      // Unchanged phones keep their row as it is (no version, file or field moved).
      for (const r of records.filter((x) => existingMacs.has(x.rec.mac) && x.plan.action !== 'unchanged')) {
        const { mac, ...rest } = toRow(r);
        await tx.updateTable('phones').set(rest).where('mac', '=', mac).execute();
      }
    });
  }

  /** Put the reservations a failed batch wrote back as they were; returns the MACs that could not be. */
  private async undoDhcp(w: { added: HostRecord[]; changed: HostRecord[]; before: Map<string, HostRecord> }, by: string): Promise<string[]> {
    const dhcp = this.app.services.dhcp;
    const left: string[] = [];
    for (const h of w.added) {
      try {
        await dhcp.remove(h.mac, by);
      } catch (err) {
        this.app.log.error({ err: String(err), mac: h.mac }, 'could not remove a DHCP reservation of a failed provisioning batch');
        left.push(h.mac);
      }
    }
    // Every field as it was, nulls included: a field left undefined would keep the failed batch's value.
    const back = w.changed.flatMap((h) => {
      const b = w.before.get(h.mac);
      return b ? [{ mac: b.mac, ip: b.ip, hostname: b.hostname, room: b.room, phones: b.phones, owner: b.owner, access: b.access, comment: b.comment, bootServer: b.bootServer }] : [];
    });
    if (back.length) {
      try {
        const r = await dhcp.upsertHosts(back, by);
        if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
      } catch (err) {
        this.app.log.error({ err: String(err) }, 'could not put back DHCP reservations of a failed provisioning batch');
        left.push(...back.map((b) => b.mac));
      }
    }
    dhcp.changed();
    return left;
  }

  /** Validate then commit, all or nothing. */
  async provision(drafts: PhoneDraft[], opts: { by: string; target: Target | null; dryRun?: boolean; onValidated?: (n: number) => void; onWritten?: (done: number, files: number) => void }): Promise<BatchOutcome & { plans: Plan[] }> {
    const { problems, plans } = await this.plan(drafts, opts.onValidated);
    if (problems.length) return { ok: false, problems, results: [], dhcp: { added: 0, changed: 0 }, plans };
    if (opts.dryRun) {
      return {
        ok: true,
        problems: [],
        dhcp: { added: plans.filter((p) => p.dhcp).length, changed: 0 },
        plans,
        warnings: plans.flatMap((p) => (p.warning ? [p.warning] : [])),
        results: plans.map((p) => ({ row: p.draft.row, mac: p.draft.mac, extension: p.draft.extension, name: p.draft.name, room: p.draft.room ?? null, model: p.draft.driver.id, files: p.files.map((f) => f.name), version: p.version, action: p.action, ip: p.dhcp?.ip ?? p.existing?.ip ?? null })),
      };
    }
    const out = await this.commit(plans, opts.by, opts.target, opts.onWritten);
    return { ...out, plans, warnings: [...plans.flatMap((p) => (p.warning ? [p.warning] : [])), ...(out.warnings ?? [])] };
  }

  /** Re-render from the store (after a driver or config change); versions rise where content changed. */
  async regenerate(macs: string[] | 'all', by: string): Promise<{ changed: string[]; unchanged: string[]; failed: { mac: string; extension: string; reason: string }[] }> {
    const list = macs === 'all' ? [...this.phones.keys(), ...this.unreadable.keys()] : macs;
    const changed: string[] = [];
    const unchanged: string[] = [];
    const failed: { mac: string; extension: string; reason: string }[] = [];
    for (const mac of list) {
      const row = await this.app.db.selectFrom('phones').selectAll().where('mac', '=', mac).executeTakeFirst();
      if (!row) continue;
      const rec = toRecord(row);
      const driver = this.drivers.get(rec.model);
      if (!driver) continue;
      const password = this.openPassword(rec, row.password_sealed);
      if (password === null) {
        // Not served any more either: its files would carry a password nobody can check.
        this.unindex(mac);
        failed.push({ mac, extension: rec.extension, reason: this.unreadable.get(mac)!.reason });
        continue;
      }
      const phone = this.phoneOf(rec, password);
      let files = this.render(driver, phone, rec.token, rec.version);
      if (digestOf(files) === rec.digest) {
        this.writeFiles(files, true);
        this.index({ ...rec, ...this.live(rec.mac) }, files);
        unchanged.push(mac);
        continue;
      }
      rec.version += 1;
      files = this.render(driver, phone, rec.token, rec.version);
      rec.digest = digestOf(files);
      const stale = rec.files.filter((f) => !files.some((x) => x.name === f));
      rec.files = files.map((f) => f.name);
      rec.generatedAt = now();
      this.writeFiles(files);
      this.removeFiles(stale);
      await this.app.db.updateTable('phones').set({ version: rec.version, digest: rec.digest, files: JSON.stringify(rec.files), generated_at: rec.generatedAt, updated_by: by, updated_at: now() }).where('mac', '=', mac).execute();
      this.index({ ...rec, ...this.live(mac) }, files);
      changed.push(mac);
    }
    return { changed, unchanged, failed };
  }

  /** Stop serving a phone (its row stays). */
  private unindex(mac: string): void {
    const rec = this.phones.get(mac);
    if (!rec) return;
    for (const f of rec.files) if (this.files.get(f.toLowerCase())?.mac === mac) this.files.delete(f.toLowerCase());
    this.tokens.delete(rec.token);
    this.phones.delete(mac);
  }

  /** Fetch state kept in memory ahead of the store. */
  private live(mac: string): Partial<PhoneRecord> {
    const p = this.phones.get(mac);
    return p ? { lastFetchAt: p.lastFetchAt, lastFetchIp: p.lastFetchIp, lastFetchUa: p.lastFetchUa, announcedVersion: p.announcedVersion } : {};
  }

  async remove(mac: string): Promise<PhoneRecord | undefined> {
    const rec = this.phones.get(mac) ?? this.unreadable.get(mac)?.rec;
    if (!rec) return undefined;
    this.unreadable.delete(mac);
    await this.app.db.deleteFrom('phones').where('mac', '=', mac).execute();
    this.removeFiles(rec.files);
    this.unindex(mac);
    this.pendingFetch.delete(mac);
    return rec;
  }

  // ---- serving ----------------------------------------------------------------------------------

  fileByName(name: string): ServedFile | undefined {
    return this.files.get(name.toLowerCase());
  }

  macOfToken(token: string): string | undefined {
    return this.tokens.get(token);
  }

  /** A phone fetched one of its files: remember it, and tell its channel once per config version. */
  recordFetch(mac: string, ip: string, ua: string | null): void {
    const rec = this.phones.get(mac);
    if (!rec) return;
    const t = now();
    rec.lastFetchAt = t;
    rec.lastFetchIp = ip;
    rec.lastFetchUa = ua;
    let announce = false;
    if (rec.announcedVersion < rec.version) {
      rec.announcedVersion = rec.version;
      announce = this.cfg.announce.fetches;
    }
    this.pendingFetch.set(mac, { at: t, ip, ua, announced: rec.announcedVersion });
    this.fetchTimer ??= setTimeout(() => void this.flushFetches(), 1000);
    if (announce) {
      const uaInfo = ua ? this.drivers.parseUserAgent(ua) : null;
      const driver = this.drivers.get(rec.model);
      let warn = '';
      if (uaInfo && driver && uaInfo.driver.id !== driver.id) warn = `\n⚠ its user agent says ${uaInfo.vendor} ${uaInfo.model}, but it is provisioned as ${driver.label}`;
      else if (uaInfo?.mac && uaInfo.mac !== mac) warn = `\n⚠ its user agent carries MAC ${fmtMac(uaInfo.mac)}: another phone is using this one's file`;
      const text = `☎️ ${this.label(rec)} ${fmtMac(mac)} (ext ${rec.extension}${rec.room ? `, ${/^\d+$/.test(rec.room) ? `Room ${rec.room}` : rec.room}` : ''}) fetched its config from ${ip}${warn}`;
      void this.announce(rec.target, text);
    }
  }

  /** A request for a phone file nobody provisioned: announced once an hour per MAC when configured. */
  unknownFetch(mac: string, file: string, ip: string, ua: string | null): void {
    if (!this.cfg.announce.unknown) return;
    const last = this.unknownAnnounced.get(mac) ?? 0;
    if (Date.now() - last < 3600_000) return;
    this.unknownAnnounced.set(mac, Date.now());
    if (this.unknownAnnounced.size > 10_000) this.unknownAnnounced.clear();
    const ui = ua ? this.drivers.parseUserAgent(ua) : null;
    const byOui = ui ? null : this.drivers.byOui(mac)[0];
    const what = ui ? ` (${ui.vendor} ${ui.model})` : byOui ? ` (a ${byOui.vendor} MAC)` : '';
    void this.announce(null, `❓ An unprovisioned phone ${fmtMac(mac)}${what} asked for ${file} from ${ip}; provision it with \`provision <model> mac=${fmtMac(mac)} ext=… password=…\``);
  }

  private async announce(target: Target | null, text: string): Promise<void> {
    const targets = target ? [`${target.platform}:${target.channel}`] : this.cfg.announce.targets;
    if (target?.thread) {
      try {
        await this.app.notifier.send(target, { text });
        return;
      } catch (err) {
        this.app.log.warn({ err: String(err) }, 'fetch announcement to the thread failed; trying the channel');
      }
    }
    await this.app.notifier.notify(targets.length ? targets : undefined, { text });
  }

  async flushFetches(): Promise<void> {
    if (this.fetchTimer) clearTimeout(this.fetchTimer);
    this.fetchTimer = null;
    const batch = [...this.pendingFetch.entries()];
    this.pendingFetch.clear();
    for (const [mac, f] of batch) {
      try {
        await this.app.db.updateTable('phones').set({ last_fetch_at: f.at, last_fetch_ip: f.ip, last_fetch_ua: f.ua?.slice(0, 255) ?? null, announced_version: f.announced }).where('mac', '=', mac).execute();
      } catch (err) {
        this.app.log.error({ err: String(err), mac }, 'could not store a phone fetch');
      }
    }
  }

  async stop(): Promise<void> {
    await this.flushFetches();
    await this.log.stop();
  }
}

function validateOptions(d: PhoneDriver, opts: Record<string, unknown>): void {
  const props = (d.optionsSchema?.properties ?? {}) as Record<string, { enum?: unknown[]; type?: string }>;
  for (const [k, v] of Object.entries(opts)) {
    const p = props[k];
    if (!p) throw new Error(`config key "provision.drivers.${d.id}.${k}" is not known (known: ${Object.keys(props).join(', ') || 'none'})`);
    if (p.enum && !p.enum.includes(v)) throw new Error(`config key "provision.drivers.${d.id}.${k}" has value ${JSON.stringify(v)}: must be one of ${p.enum.map((x) => JSON.stringify(x)).join(', ')}`);
  }
}

/** A generated secret kept in a 0600 file in the data dir. */
function loadOrCreateSecret(file: string): string {
  try {
    const v = fs.readFileSync(file, 'utf8').trim();
    if (v) return v;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const v = crypto.randomBytes(12).toString('base64url');
  try {
    fs.writeFileSync(file, v + '\n', { mode: 0o600, flag: 'wx' });
    return v;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fs.readFileSync(file, 'utf8').trim();
    throw err;
  }
}
