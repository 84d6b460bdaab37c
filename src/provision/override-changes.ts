// `provision set`, `unset` and `diff`: an override change at one scope rendered for every phone it covers and
// stored with their rows (overrides, version, digest) and a change-feed entry in one transaction, so every
// replica serves the new files; and a phone's next rendering beside what it is served now.
import type { App } from '../app-types.js';
import type { RenderedFile } from '../../drivers/phones/contract.js';
import type { DB } from '../store/db.js';
import { publishChanges } from '../store/change-feed.js';
import { writeTransaction } from '../store/conflict-retry.js';
import type { DriverSet } from './drivers.js';
import { PHONES_TOPIC, toStored, type PhoneRecord, type PhoneStore } from './phone-store.js';
import { phoneOf, type Renderer } from './rendering.js';
import type { ServedIndex } from './served-index.js';
import { applies, OVERRIDES_KEY, resolveFor, sameOverrides, sameScope, withOverrides, type Applied, type OverrideRow, type OverrideStore, type Scope } from './overrides.js';

/** What `provision set`/`unset` asks for at one scope: overrides to set (values in clear) and keys to remove. */
export interface OverrideChange {
  scope: Scope;
  set: OverrideRow[];
  unset: string[];
}

/** A phone's files now served and as they would be rendered next. */
export interface NextRender {
  rec: PhoneRecord;
  /** The version the next rendering is served as (one higher when it differs from what is stored). */
  version: number;
  changed: boolean;
  files: { name: string; served: string | undefined; next: string | undefined }[];
  /** Values to mask wherever these files are shown: the SIP password, the admin and basic-auth passwords, secret overrides. */
  secrets: string[];
}

export interface OverrideOutcome {
  /** The stored phones the scope covers. */
  phones: string[];
  /** Phones whose files change (version raised), as stored before, with what they are served now and next. */
  changed: NextRender[];
  unchanged: string[];
  /** Stored phones not rendered (their sealed SIP password cannot be opened): their overrides are stored for later. */
  unreadable: string[];
  /** Keys to unset that were not set at this scope. */
  missing: string[];
}
const fmtMacShort = (mac: string): string => mac.match(/../g)!.join(':');

/** Files served now and rendered next, by name (a name only one side has gets undefined on the other). */
function pairFiles(served: RenderedFile[], next: RenderedFile[]): NextRender['files'] {
  const names = [...new Set([...next.map((f) => f.name), ...served.map((f) => f.name)])];
  return names.map((name) => ({ name, served: served.find((f) => f.name === name)?.body, next: next.find((f) => f.name === name)?.body }));
}

const secretValues = (list: Applied[]): string[] => list.filter((o) => o.secret).map((o) => o.value);

export class OverrideChanges {
  constructor(
    private app: App,
    private drivers: DriverSet,
    private renderer: Renderer,
    private index: ServedIndex,
    private store: PhoneStore,
    private overrides: OverrideStore,
    private unreadableReason: (mac: string) => string | undefined,
  ) {}

  /**
   * Sets and removes overrides at one scope and renders the phones it covers again, in one transaction that
   * also stores their rows (overrides, version, digest) and publishes them, so every replica serves the new
   * files. With `dryRun` nothing is written: the outcome says what would change.
   */
  async change(change: OverrideChange, by: string, opts: { dryRun?: boolean } = {}): Promise<OverrideOutcome> {
    const at = Date.now();
    const driver = this.drivers.get(change.scope.model);
    if (!driver) throw new Error(`no ${change.scope.model} driver is installed`);
    const lc = (k: string) => k.toLowerCase();
    const work = async (db: DB, write: boolean) => {
      const rows = await this.overrides.all(db);
      const here = (r: OverrideRow) => sameScope(r, change.scope);
      const missing = change.unset.filter((k) => !rows.some((r) => here(r) && lc(r.key) === lc(k)));
      const touched = new Set([...change.unset, ...change.set.map((r) => r.key)].map(lc));
      const next = [...rows.filter((r) => !(here(r) && touched.has(lc(r.key)))), ...change.set];
      const stored = (await db.selectFrom('phones').selectAll().where('model', '=', change.scope.model).execute()).map(toStored).filter((x) => applies(change.scope, x.rec));
      const out: OverrideOutcome = { phones: stored.map((x) => x.rec.mac), changed: [], unchanged: [], unreadable: [], missing };
      const updates: { rec: PhoneRecord; files?: RenderedFile[]; bump: boolean }[] = [];
      for (const x of stored) {
        const applied = resolveFor(next, x.rec);
        if (sameOverrides(x.rec.extra[OVERRIDES_KEY], applied, this.app.sealer)) {
          out.unchanged.push(x.rec.mac); // e.g. a narrower scope sets the same key for this phone
          continue;
        }
        const rec: PhoneRecord = { ...x.rec, extra: withOverrides(x.rec.extra, applied, this.app.sealer), updatedBy: by, updatedAt: at };
        const password = this.index.openPassword(x);
        if (password === null) {
          out.unreadable.push(rec.mac);
          updates.push({ rec, bump: false });
          continue;
        }
        const r = this.renderer.versioned(driver, phoneOf(rec, password), rec.token, rec.version, rec.digest);
        if (!r.changed) {
          out.unchanged.push(rec.mac);
          updates.push({ rec, files: r.files, bump: false });
          continue;
        }
        const served = this.servedFiles(x.rec);
        Object.assign(rec, { version: r.version, digest: r.digest, files: r.files.map((f) => f.name), generatedAt: at });
        updates.push({ rec, files: r.files, bump: true });
        out.changed.push({ rec: x.rec, version: r.version, changed: true, files: pairFiles(served, r.files), secrets: [password, ...this.renderer.siteSecrets(), ...secretValues(applied)] });
      }
      if (write) {
        for (const k of change.unset) await this.overrides.unset(db, change.scope, k);
        for (const r of change.set) await this.overrides.set(db, r);
        for (const u of updates) {
          const { rec } = u;
          await db
            .updateTable('phones')
            .set({
              extra: JSON.stringify(rec.extra),
              updated_by: by,
              updated_at: at,
              ...(u.bump ? { version: rec.version, digest: rec.digest, files: JSON.stringify(rec.files), generated_at: rec.generatedAt } : {}),
            })
            .where('mac', '=', rec.mac)
            .execute();
        }
        await publishChanges(
          db,
          PHONES_TOPIC,
          updates.map((u) => u.rec.mac),
        );
      }
      return { out, updates };
    };
    if (opts.dryRun) return (await work(this.app.db, false)).out;
    const { out, updates } = await writeTransaction(this.app.db, (tx) => work(tx, true));
    for (const u of updates) {
      if (!u.files) continue;
      const before = this.index.get(u.rec.mac);
      this.index.index(u.rec, u.files);
      if (u.bump) {
        this.index.writeLocal(u.files);
        if (before) this.index.removeLocal(before.files.filter((f) => !u.files!.some((x) => x.name === f)));
      }
    }
    return out;
  }

  /**
   * A phone as its next rendering would serve it — its row, the overrides the store holds for it (with
   * `proposed` set over them as its own), this process's settings and the firmware wave it is in — next to
   * the files it is served as now. Writes nothing.
   */
  async next(mac: string, proposed: Applied[] = []): Promise<NextRender> {
    await this.index.catchUp([mac]);
    const x = await this.store.readOne(mac);
    if (!x) throw new Error(`no phone with MAC ${fmtMacShort(mac)} is stored`);
    const driver = this.drivers.get(x.rec.model);
    if (!driver) throw new Error(`the ${x.rec.model} driver is no longer installed`);
    const password = this.index.openPassword(x);
    if (password === null) throw new Error(this.unreadableReason(mac) ?? 'its sealed SIP password cannot be opened');
    const applied = resolveFor(await this.overrides.all(this.app.db), x.rec);
    for (const p of proposed) {
      const at = applied.findIndex((a) => a.key.toLowerCase() === p.key.toLowerCase());
      if (at >= 0) applied[at] = p;
      else applied.push(p);
    }
    const rec: PhoneRecord = { ...x.rec, extra: withOverrides(x.rec.extra, applied, this.app.sealer) };
    const r = this.renderer.versioned(driver, phoneOf(rec, password), rec.token, rec.version, rec.digest);
    const served = this.servedFiles(x.rec);
    const files = pairFiles(served, r.files);
    return { rec: x.rec, version: r.version, changed: files.some((f) => f.served !== f.next), files, secrets: [password, ...this.renderer.siteSecrets(), ...secretValues(applied)] };
  }

  /** The files this process serves for a phone (by its stored file names). */
  private servedFiles(rec: PhoneRecord): RenderedFile[] {
    return rec.files.flatMap((name) => {
      const f = this.index.fileByName(name);
      return f && f.mac === rec.mac ? [{ name: f.name, contentType: f.contentType, body: f.body }] : [];
    });
  }
}
