// What this process serves: an in-memory index (lower-cased file names → bytes, tokens → MACs, MAC → record)
// that the fetch path reads without touching the store. It follows the store: loaded at start, and every
// change any process publishes on the 'phones' feed (a batch through `exec`, another replica, a removal) is
// re-read here, re-rendered, re-indexed (or unindexed) and rewritten to the local copy of the files.
import type { App } from '../app-types.js';
import type { DriverSet } from './drivers.js';
import type { RenderedFile } from '../../drivers/phones/contract.js';
import { PHONES_TOPIC, stampOf, type Bump, type PhoneRecord, type PhoneStore, type StoredPhone } from './phone-store.js';
import { digestOf, phoneOf, type Renderer } from './rendering.js';
import type { PhoneFiles } from './phone-files.js';

export interface ServedFile {
  mac: string;
  name: string;
  contentType: string;
  /** Kept as a string: Node writes a string body together with the headers in one syscall. */
  body: string;
}

export interface Unreadable {
  rec: PhoneRecord;
  reason: string;
}

export const UNREADABLE_REASON =
  'its sealed SIP password cannot be opened with this key (was SWITCHBOARD_PROVISION_KEY or provision.key changed?), so its files are not served; put the old key back, or provision the phone again with its password';

/** A `provision show|rm|…` key written as a MAC (any notation) → 12 lower-case hex digits; null for an extension. */
export function macKey(key: string): string | null {
  const hex = key.toLowerCase().replace(/[^0-9a-f]/g, '');
  return hex.length === 12 && /^[0-9a-f:.-]+$/i.test(key.trim()) ? hex : null;
}

export class ServedIndex {
  private phones = new Map<string, PhoneRecord>();
  private files = new Map<string, ServedFile>();
  private tokens = new Map<string, string>();
  /** Phones whose sealed SIP password this key cannot open (key changed, row damaged): kept, not served. */
  private unreadable = new Map<string, Unreadable>();
  /** Loads and refreshes run one at a time, in order. */
  private chain: Promise<unknown> = Promise.resolve();
  private warnedMismatch = false;
  private retry: string[] | '*' | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private app: App,
    private drivers: DriverSet,
    private renderer: Renderer,
    private store: PhoneStore,
    private disk: PhoneFiles,
  ) {}

  /** Follow the store's change feed (delivered in server mode, every ~0.5 s). */
  subscribe(): void {
    this.app.changes.on(PHONES_TOPIC, (keys) => this.follow(keys));
  }

  /** No more retries (the app is closing). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** The feed delivers each change once: a refresh that failed (store away) is tried again until it succeeds. */
  private async follow(keys: string[]): Promise<void> {
    if (this.stopped) return;
    const retry = this.retry;
    this.retry = null;
    const want = keys.includes('*') || retry === '*' ? '*' : [...new Set([...keys, ...(retry ?? [])])];
    try {
      await this.refresh(want);
    } catch (err) {
      this.app.log.warn({ err: String(err) }, 'could not re-read changed phones; trying again');
      this.retry = want;
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = null;
        void this.follow([]);
      }, 2000);
      this.retryTimer.unref();
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Every phone from the store, re-rendered; a phone whose content changed with the config (URL, NTP, admin
   * password, driver) gets its version raised and stored, published to the other processes.
   */
  load(): Promise<void> {
    return this.serial(async () => {
      this.disk.ensureDir();
      const stored = await this.store.read('*');
      this.phones.clear();
      this.files.clear();
      this.tokens.clear();
      this.unreadable.clear();
      const bumps: Bump[] = [];
      for (const s of stored) {
        const { rec } = s;
        const driver = this.drivers.get(rec.model);
        if (!driver) {
          this.app.log.warn({ mac: rec.mac, model: rec.model }, 'phone of a model with no driver; not served');
          continue;
        }
        const password = this.openPassword(s);
        if (password === null) continue;
        const r = this.renderer.versioned(driver, phoneOf(rec, password), rec.token, rec.version, rec.digest);
        if (r.changed) {
          Object.assign(rec, { version: r.version, digest: r.digest, files: r.files.map((f) => f.name), generatedAt: Date.now() });
          bumps.push({ mac: rec.mac, version: rec.version, digest: rec.digest, files: rec.files, generatedAt: rec.generatedAt });
        }
        this.index(rec, r.files);
        this.writeLocal(r.files, true);
      }
      await this.store.bumpVersions(bumps);
      if (bumps.length) this.app.log.info({ phones: bumps.length }, 'phone configs changed with the config; versions raised');
      this.app.log.info({ phones: this.phones.size, unreadable: this.unreadable.size, dir: this.disk.dir }, 'provisioning ready');
    });
  }

  /** Re-read these phones (or all of them) from the store and serve what it holds now. */
  refresh(keys: string[] | '*'): Promise<void> {
    if (keys !== '*' && !keys.length) return Promise.resolve();
    return this.serial(async () => {
      const stored = await this.store.read(keys);
      const seen = new Set(stored.map((s) => s.rec.mac));
      const known = keys === '*' ? [...this.phones.keys(), ...this.unreadable.keys()] : keys;
      for (const mac of known) if (!seen.has(mac)) this.drop(mac);
      for (const s of stored) {
        try {
          this.apply(s);
        } catch (err) {
          // One phone a driver cannot render is not a reason to stop serving the others' changes.
          this.app.log.error({ err: String(err), mac: s.rec.mac }, 'could not render a changed phone; not served');
          this.unindex(s.rec.mac);
        }
      }
    });
  }

  /**
   * Re-read those of these phones whose row moved since this process indexed them (or that it does not know
   * of, or that are gone): a cheap check before a batch is planned against the index.
   */
  async catchUp(macs: string[]): Promise<void> {
    const stamps = await this.store.stamps(macs);
    const moved = macs.filter((mac) => {
      const rec = this.phones.get(mac) ?? this.unreadable.get(mac)?.rec;
      const stamp = stamps.get(mac);
      return rec ? stamp === undefined || stamp !== stampOf(rec) : stamp !== undefined;
    });
    await this.refresh(moved);
  }

  /**
   * Serve a stored phone as its row says; rendered again only when its stamp (version, digest, token, write
   * times) moved since this process indexed it, so a process's own change coming back through the feed is free.
   */
  private apply(s: StoredPhone): void {
    const { rec } = s;
    const cur = this.phones.get(rec.mac);
    const known = cur ?? this.unreadable.get(rec.mac)?.rec;
    if (known && stampOf(known) === stampOf(rec)) {
      if (cur) mergeFetch(cur, rec);
      return;
    }
    const driver = this.drivers.get(rec.model);
    if (!driver) {
      this.app.log.warn({ mac: rec.mac, model: rec.model }, 'phone of a model with no driver; not served');
      this.unindex(rec.mac);
      return;
    }
    const password = this.openPassword(s);
    if (password === null) {
      this.unindex(rec.mac);
      return;
    }
    const files = this.renderer.render(driver, phoneOf(rec, password), rec.token, rec.version);
    if (digestOf(files) !== rec.digest && !this.warnedMismatch) {
      // Never raised here: two processes with different config would raise each other's versions forever.
      this.warnedMismatch = true;
      this.app.log.warn(
        { mac: rec.mac },
        'this process renders a phone differently from the process that stored it (is the provisioning config the same on every replica?); serving this rendering at the stored version',
      );
    }
    if (cur) this.removeLocal(cur.files.filter((f) => !files.some((x) => x.name === f)));
    this.index(rec, files);
    this.writeLocal(files, true);
  }

  /** The phone's SIP password, or null (logged, the phone set aside as unreadable) when this key cannot open it. */
  openPassword(s: StoredPhone): string | null {
    try {
      const pw = this.app.sealer.open(s.sealed);
      this.unreadable.delete(s.rec.mac);
      return pw;
    } catch {
      if (!this.unreadable.has(s.rec.mac)) {
        this.app.log.error({ mac: s.rec.mac, model: s.rec.model, extension: s.rec.extension }, "a phone's sealed SIP password cannot be opened with this key; its files are not served");
      }
      this.unreadable.set(s.rec.mac, { rec: s.rec, reason: UNREADABLE_REASON });
      return null;
    }
  }

  /** Serve these files for this phone (after a commit or regenerate here, or a refresh). */
  index(rec: PhoneRecord, files: RenderedFile[]): void {
    // Fetches this process saw may not be stored yet; a phone provisioned anew (new token) starts afresh.
    const cur = this.phones.get(rec.mac);
    if (cur && cur.token === rec.token) mergeFetch(rec, cur);
    this.unindex(rec.mac);
    this.unreadable.delete(rec.mac);
    this.phones.set(rec.mac, rec);
    this.tokens.set(rec.token, rec.mac);
    for (const f of files) this.files.set(f.name.toLowerCase(), { mac: rec.mac, name: f.name, contentType: f.contentType, body: f.body });
  }

  /** Stop serving a phone (its row stays). */
  unindex(mac: string): void {
    const rec = this.phones.get(mac);
    if (!rec) return;
    for (const f of rec.files) if (this.files.get(f.toLowerCase())?.mac === mac) this.files.delete(f.toLowerCase());
    this.tokens.delete(rec.token);
    this.phones.delete(mac);
  }

  /** A phone gone from the store: not served, not listed, its local files deleted. */
  drop(mac: string): PhoneRecord | undefined {
    const rec = this.phones.get(mac) ?? this.unreadable.get(mac)?.rec;
    this.unindex(mac);
    this.unreadable.delete(mac);
    if (rec) this.removeLocal(rec.files);
    return rec;
  }

  /** The local copy; a disk problem is logged, never a reason to stop serving from memory. */
  writeLocal(files: RenderedFile[], onlyIfChanged = false): void {
    try {
      this.disk.write(files, onlyIfChanged);
    } catch (err) {
      this.app.log.error({ err: String(err), dir: this.disk.dir }, 'could not write phone files; they are served from memory');
    }
  }

  removeLocal(names: string[]): void {
    try {
      this.disk.remove(names);
    } catch (err) {
      this.app.log.error({ err: String(err), dir: this.disk.dir }, 'could not delete phone files');
    }
  }

  /** Fetch bookkeeping other processes stored (last fetch, announced version), merged into the served records. */
  mergeFetches(fromStore: Map<string, Pick<PhoneRecord, 'announcedVersion' | 'lastFetchAt' | 'lastFetchIp' | 'lastFetchUa'>>): void {
    for (const [mac, f] of fromStore) {
      const cur = this.phones.get(mac);
      if (cur) mergeFetch(cur, f);
    }
  }

  // ---- reads (the fetch path and the commands) -------------------------------------------------

  fileByName(name: string): ServedFile | undefined {
    return this.files.get(name.toLowerCase());
  }

  macOfToken(token: string): string | undefined {
    return this.tokens.get(token);
  }

  get(mac: string): PhoneRecord | undefined {
    return this.phones.get(mac);
  }

  macs(): string[] {
    return [...this.phones.keys()];
  }

  get size(): number {
    return this.phones.size;
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

  /** Phones kept in the store but not served because their password cannot be opened, by MAC or extension (or all). */
  unreadablePhones(key?: string): Unreadable[] {
    const all = [...this.unreadable.values()];
    if (key === undefined) return all;
    const hex = macKey(key);
    return all.filter((u) => (hex ? u.rec.mac === hex : u.rec.extension === key));
  }

  unreadableOf(mac: string): Unreadable | undefined {
    return this.unreadable.get(mac);
  }
}

/** The newer of two fetch records wins; the announced version only moves up. */
function mergeFetch(into: PhoneRecord, from: Pick<PhoneRecord, 'announcedVersion' | 'lastFetchAt' | 'lastFetchIp' | 'lastFetchUa'>): void {
  if ((from.lastFetchAt ?? 0) > (into.lastFetchAt ?? 0)) {
    into.lastFetchAt = from.lastFetchAt;
    into.lastFetchIp = from.lastFetchIp;
    into.lastFetchUa = from.lastFetchUa;
  }
  if (from.announcedVersion > into.announcedVersion) into.announcedVersion = from.announcedVersion;
}
