// The phones table: rows <-> records, and every write to it. Each write that changes what a phone is served
// as (a provisioning batch, a regenerate, a start-up version bump, a removal) publishes the changed MACs on
// the 'phones' change feed in the same transaction, so every process re-reads them. Fetch bookkeeping
// (last fetch, announced version) is not a served change and publishes nothing.
import type { App } from '../app-types.js';
import type { Target } from '../core/types.js';
import type { HostRecord } from '../dhcp/service.js';
import { publishChanges } from '../store/change-feed.js';
import { affected, type DB, type Tables } from '../store/db.js';
import type { Transaction } from 'kysely';
import { writeTransaction } from '../store/conflict-retry.js';

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

export const PHONES_TOPIC = 'phones';

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

/** A stored phone: its record and its sealed SIP password. */
export interface StoredPhone {
  rec: PhoneRecord;
  sealed: string;
}

/** What a fetch leaves behind, written in batches behind the responses. */
export interface FetchMark {
  at: number;
  ip: string;
  ua: string | null;
}

// biome-ignore lint/suspicious/noExplicitAny: a database row of either engine, columns read one by one below
export function toStored(r: Record<string, any>): StoredPhone {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const rec: PhoneRecord = {
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
    lastFetchAt: num(r.last_fetch_at),
    lastFetchIp: r.last_fetch_ip,
    lastFetchUa: r.last_fetch_ua,
    updatedBy: r.updated_by,
    updatedAt: Number(r.updated_at),
  };
  return { rec, sealed: r.password_sealed };
}

/** The columns a provisioning write sets (fetch bookkeeping is left as it is). */
function toRow({ rec, sealed }: StoredPhone) {
  return {
    mac: rec.mac,
    model: rec.model,
    extension: rec.extension,
    name: rec.name,
    auth_user: rec.authUser,
    server: rec.server,
    port: rec.port,
    line: rec.line,
    room: rec.room,
    ip: rec.ip,
    extra: JSON.stringify(rec.extra),
    password_sealed: sealed,
    token: rec.token,
    files: JSON.stringify(rec.files),
    version: rec.version,
    digest: rec.digest,
    target: rec.target ? JSON.stringify(rec.target) : null,
    generated_at: rec.generatedAt,
    updated_by: rec.updatedBy,
    updated_at: rec.updatedAt,
  };
}

/**
 * What tells whether a stored phone changed since a process indexed it: every write that changes what a phone
 * is served as moves its version or its write times (and the digest and token say what it holds).
 */
export const stampOf = (r: Pick<PhoneRecord, 'version' | 'updatedAt' | 'generatedAt' | 'digest' | 'token'>): string => `${r.version}/${r.updatedAt}/${r.generatedAt}/${r.digest}/${r.token}`;

/** A version raised by re-rendering: the new version, digest and file names. */
export interface Bump {
  mac: string;
  version: number;
  digest: string;
  files: string[];
  generatedAt: number;
  /** The phone's extra values, when they changed too (its overrides re-resolved). */
  extra?: Record<string, string>;
}

export class PhoneStore {
  private db: DB;

  constructor(private app: App) {
    this.db = app.db;
  }

  /** Stored phones: all of them, or those of the given MACs (missing ones are simply not returned). */
  async read(macs: string[] | '*'): Promise<StoredPhone[]> {
    if (macs === '*') return (await this.db.selectFrom('phones').selectAll().execute()).map(toStored);
    const out: StoredPhone[] = [];
    for (let i = 0; i < macs.length; i += 500) {
      const rows = await this.db
        .selectFrom('phones')
        .selectAll()
        .where('mac', 'in', macs.slice(i, i + 500))
        .execute();
      out.push(...rows.map(toStored));
    }
    return out;
  }

  async readOne(mac: string): Promise<StoredPhone | undefined> {
    const row = await this.db.selectFrom('phones').selectAll().where('mac', '=', mac).executeTakeFirst();
    return row ? toStored(row) : undefined;
  }

  /** A cheap "has it changed" stamp per stored phone of these MACs: every served write moves one of its parts. */
  async stamps(macs: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < macs.length; i += 500) {
      const rows = await this.db
        .selectFrom('phones')
        .select(['mac', 'version', 'updated_at', 'generated_at', 'digest', 'token'])
        .where('mac', 'in', macs.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.mac, stampOf({ version: Number(r.version), updatedAt: Number(r.updated_at), generatedAt: Number(r.generated_at), digest: r.digest, token: r.token }));
    }
    return out;
  }

  /** One past the highest all-digit extension stored (1001 when there is none): a suggestion, not a reservation. */
  async nextExtension(): Promise<string> {
    const rows = await this.db.selectFrom('phones').select('extension').execute();
    const nums = rows
      .map((r) => r.extension)
      .filter((e) => /^\d{1,9}$/.test(e))
      .map(Number);
    return String(nums.length ? Math.max(...nums) + 1 : 1001);
  }

  async exists(mac: string): Promise<boolean> {
    return !!(await this.db.selectFrom('phones').select('mac').where('mac', '=', mac).executeTakeFirst());
  }

  /** A batch in one transaction: new phones inserted, changed ones updated, unchanged ones left; changes published. */
  async storeBatch(phones: (StoredPhone & { isNew: boolean; unchanged: boolean })[], last?: (tx: Transaction<Tables>) => Promise<void>): Promise<void> {
    await writeTransaction(this.db, async (tx) => {
      const fresh = phones.filter((p) => p.isNew).map(toRow);
      for (let i = 0; i < fresh.length; i += 400)
        await tx
          .insertInto('phones')
          .values(fresh.slice(i, i + 400))
          .execute();
      // Unchanged phones keep their row as it is (no version, file or field moved).
      const changed = phones.filter((p) => !p.isNew && !p.unchanged);
      for (const p of changed) {
        const { mac, ...rest } = toRow(p);
        await tx.updateTable('phones').set(rest).where('mac', '=', mac).execute();
      }
      await publishChanges(tx, PHONES_TOPIC, [...fresh.map((r) => r.mac), ...changed.map((p) => p.rec.mac)]);
      await last?.(tx);
    });
  }

  /** Raised versions after a re-render (start-up, regenerate), in one transaction, published. */
  async bumpVersions(bumps: Bump[], stamp?: { by: string; at: number }): Promise<void> {
    if (!bumps.length) return;
    await writeTransaction(this.db, async (tx) => {
      for (const b of bumps) {
        await tx
          .updateTable('phones')
          .set({
            version: b.version,
            digest: b.digest,
            files: JSON.stringify(b.files),
            generated_at: b.generatedAt,
            ...(b.extra ? { extra: JSON.stringify(b.extra) } : {}),
            ...(stamp ? { updated_by: stamp.by, updated_at: stamp.at } : {}),
          })
          .where('mac', '=', b.mac)
          .execute();
      }
      await publishChanges(
        tx,
        PHONES_TOPIC,
        bumps.map((b) => b.mac),
      );
    });
  }

  /** Sets (or, with null, deletes) one key of these phones' extra values, published; the caller re-renders them. */
  async setExtra(macs: string[], key: string, value: string | null, stamp: { by: string; at: number }): Promise<void> {
    if (!macs.length) return;
    await this.db.transaction().execute(async (tx) => {
      for (const mac of macs) {
        const row = await tx.selectFrom('phones').select('extra').where('mac', '=', mac).executeTakeFirst();
        if (!row) continue;
        const extra = JSON.parse(row.extra || '{}') as Record<string, string>;
        if (value === null) delete extra[key];
        else extra[key] = value;
        await tx
          .updateTable('phones')
          .set({ extra: JSON.stringify(extra), updated_by: stamp.by, updated_at: stamp.at })
          .where('mac', '=', mac)
          .execute();
      }
      await publishChanges(tx, PHONES_TOPIC, macs);
    });
  }

  /** Forget a phone and the overrides set for it alone; true when a row was deleted. */
  async remove(mac: string): Promise<boolean> {
    return writeTransaction(this.db, async (tx) => {
      const r = await tx.deleteFrom('phones').where('mac', '=', mac).executeTakeFirst();
      await tx.deleteFrom('provision_overrides').where('scope', '=', 'phone').where('target', '=', mac).execute();
      await publishChanges(tx, PHONES_TOPIC, [mac]);
      return affected(r) > 0;
    });
  }

  /**
   * The store decides who announces a phone's fetch of config version v: only the process whose update moves
   * announced_version below v up to v gets true, whichever replica the phone fetched from.
   */
  async claimAnnouncement(mac: string, version: number): Promise<boolean> {
    const r = await this.db.updateTable('phones').set({ announced_version: version }).where('mac', '=', mac).where('announced_version', '<', version).executeTakeFirst();
    return affected(r) === 1;
  }

  /** Last-fetch bookkeeping (time, address, user agent); announcements are claimed separately. */
  async writeFetches(batch: [string, FetchMark][]): Promise<void> {
    for (const [mac, f] of batch) {
      try {
        await this.db
          .updateTable('phones')
          .set({ last_fetch_at: f.at, last_fetch_ip: f.ip, last_fetch_ua: f.ua?.slice(0, 255) ?? null })
          .where('mac', '=', mac)
          .execute();
      } catch (err) {
        this.app.log.error({ err: String(err), mac }, 'could not store a phone fetch');
      }
    }
  }

  /** The fetch bookkeeping of every phone (what other processes recorded), for listings. */
  async readFetches(): Promise<Map<string, { announcedVersion: number; lastFetchAt: number | null; lastFetchIp: string | null; lastFetchUa: string | null }>> {
    const rows = await this.db.selectFrom('phones').select(['mac', 'announced_version', 'last_fetch_at', 'last_fetch_ip', 'last_fetch_ua']).execute();
    return new Map(
      rows.map((r) => [
        r.mac,
        { announcedVersion: Number(r.announced_version), lastFetchAt: r.last_fetch_at === null ? null : Number(r.last_fetch_at), lastFetchIp: r.last_fetch_ip, lastFetchUa: r.last_fetch_ua },
      ]),
    );
  }

  /** Put the reservations a failed batch wrote back as they were; returns the MACs that could not be. */
  async undoDhcp(w: { added: HostRecord[]; changed: HostRecord[]; before: Map<string, HostRecord> }, by: string): Promise<string[]> {
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
}
