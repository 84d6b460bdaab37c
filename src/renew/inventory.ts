// The store side of renewal: PCs (keyed by MAC), account history, pinned host keys, requests and step logs.
import type { Generated } from 'kysely';
import type { DB } from '../store/db.js';
import { insertedId, now } from '../store/db.js';
import { scrub } from '../secrets.js';

declare module '../store/db.js' {
  interface Tables {
    pcs: {
      mac: string;
      hostname: string | null;
      ip: string | null;
      port: number | null;
      facts: string | null;
      account: string | null;
      last_renewal_at: number | null;
      host_key_fp: string | null;
      key_ok: number;
      created_at: number;
      updated_at: number;
    };
    pc_accounts: { id: Generated<number>; mac: string; account: string; request_id: number | null; created_at: number; removed_at: number | null };
    known_hosts: { host: string; port: number; key_type: string; fingerprint: string; first_seen: number; last_seen: number };
    renew_requests: {
      id: Generated<number>;
      job_id: number | null;
      host: string;
      port: number;
      status: string;
      mac: string | null;
      account: string | null;
      requested_by: string;
      detail: string | null;
      created_at: number;
      finished_at: number | null;
    };
    renew_log: { id: Generated<number>; request_id: number; at: number; level: string; message: string };
  }
}

export type PcRow = {
  mac: string;
  hostname: string | null;
  ip: string | null;
  port: number | null;
  facts: string | null;
  account: string | null;
  last_renewal_at: number | null;
  host_key_fp: string | null;
  key_ok: number;
  created_at: number;
  updated_at: number;
};

export const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export type Level = (typeof LEVELS)[number];

export class Inventory {
  constructor(private db: DB) {}

  // ---- known hosts (TOFU)
  async pinned(host: string, port: number) {
    return this.db.selectFrom('known_hosts').selectAll().where('host', '=', host).where('port', '=', port).executeTakeFirst();
  }
  async pin(host: string, port: number, keyType: string, fingerprint: string): Promise<void> {
    const t = now();
    const cur = await this.pinned(host, port);
    if (cur) await this.db.updateTable('known_hosts').set({ last_seen: t }).where('host', '=', host).where('port', '=', port).execute();
    else await this.db.insertInto('known_hosts').values({ host, port, key_type: keyType, fingerprint, first_seen: t, last_seen: t }).execute();
  }
  /**
   * Trust on first use: store this key as the pin unless one exists, and return the pinned fingerprint
   * (the stored one when another run pinned first).
   */
  async pinFirst(host: string, port: number, keyType: string, fingerprint: string): Promise<string> {
    const cur = await this.pinned(host, port);
    if (cur) return cur.fingerprint;
    const t = now();
    try {
      await this.db.insertInto('known_hosts').values({ host, port, key_type: keyType, fingerprint, first_seen: t, last_seen: t }).execute();
    } catch (e) {
      const again = await this.pinned(host, port);
      if (!again) throw e;
      return again.fingerprint;
    }
    return fingerprint;
  }
  async forget(host: string): Promise<number> {
    const r = await this.db.deleteFrom('known_hosts').where('host', '=', host).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  // ---- requests + step log
  async newRequest(host: string, port: number, jobId: number | null, by: string): Promise<number> {
    const r = await this.db
      .insertInto('renew_requests')
      .values({ job_id: jobId, host, port, status: 'running', mac: null, account: null, requested_by: by, detail: null, created_at: now(), finished_at: null })
      .executeTakeFirst();
    return insertedId(r);
  }
  async finishRequest(id: number, status: string, fields: { mac?: string | null; account?: string | null; detail?: string | null } = {}): Promise<void> {
    await this.db
      .updateTable('renew_requests')
      .set({ status, finished_at: now(), ...fields, detail: fields.detail == null ? null : scrub(fields.detail) })
      .where('id', '=', id)
      .execute();
  }
  async request(id: number) {
    return this.db.selectFrom('renew_requests').selectAll().where('id', '=', id).executeTakeFirst();
  }
  async log(requestId: number, level: Level, message: string): Promise<void> {
    await this.db
      .insertInto('renew_log')
      .values({ request_id: requestId, at: now(), level, message: scrub(message).slice(0, 2000) })
      .execute();
  }
  async logLines(requestId: number, minLevel: Level = 'DEBUG') {
    const rows = await this.db.selectFrom('renew_log').selectAll().where('request_id', '=', requestId).orderBy('id').execute();
    return rows.filter((r) => LEVELS.indexOf(r.level as Level) >= LEVELS.indexOf(minLevel));
  }

  // ---- PCs
  async pcByIp(ip: string): Promise<PcRow | undefined> {
    return this.db.selectFrom('pcs').selectAll().where('ip', '=', ip).orderBy('updated_at', 'desc').executeTakeFirst();
  }
  async findPc(key: string): Promise<PcRow | undefined> {
    const k = key.trim();
    const mac = k.toLowerCase();
    return (
      (await this.db.selectFrom('pcs').selectAll().where('mac', '=', mac).executeTakeFirst()) ??
      (await this.db.selectFrom('pcs').selectAll().where('hostname', '=', k).orderBy('updated_at', 'desc').executeTakeFirst()) ??
      (await this.db.selectFrom('pcs').selectAll().where('ip', '=', k).orderBy('updated_at', 'desc').executeTakeFirst())
    );
  }
  async listPcs(filter?: string): Promise<PcRow[]> {
    const rows = await this.db.selectFrom('pcs').selectAll().orderBy('ip').execute();
    if (!filter) return rows;
    const f = filter.toLowerCase();
    return rows.filter((r) => [r.mac, r.hostname, r.ip, r.account].some((v) => v?.toLowerCase().includes(f)));
  }
  async accounts(mac?: string) {
    let q = this.db.selectFrom('pc_accounts').selectAll();
    if (mac) q = q.where('mac', '=', mac);
    return q.orderBy('created_at').orderBy('id').execute();
  }

  /** The bot's key stopped (0) or started (1) working on this PC. */
  async setKeyOk(mac: string, ok: boolean): Promise<void> {
    await this.db
      .updateTable('pcs')
      .set({ key_ok: ok ? 1 : 0, updated_at: now() })
      .where('mac', '=', mac.toLowerCase())
      .execute();
  }

  /** Record a successful renewal: upsert the PC, close its previous account, open the new one. */
  async recordRenewal(p: { mac: string; hostname: string; ip: string; port: number; facts: Record<string, unknown>; account: string; hostKeyFp: string; requestId: number }): Promise<void> {
    const t = now();
    const mac = p.mac.toLowerCase();
    const values = { hostname: p.hostname, ip: p.ip, port: p.port, facts: JSON.stringify(p.facts), account: p.account, last_renewal_at: t, host_key_fp: p.hostKeyFp, key_ok: 1, updated_at: t };
    const cur = await this.db.selectFrom('pcs').select('mac').where('mac', '=', mac).executeTakeFirst();
    if (cur) await this.db.updateTable('pcs').set(values).where('mac', '=', mac).execute();
    else
      await this.db
        .insertInto('pcs')
        .values({ mac, created_at: t, ...values })
        .execute();
    await this.db.updateTable('pc_accounts').set({ removed_at: t }).where('mac', '=', mac).where('removed_at', 'is', null).where('account', '!=', p.account).execute();
    const open = await this.db.selectFrom('pc_accounts').select('id').where('mac', '=', mac).where('account', '=', p.account).where('removed_at', 'is', null).executeTakeFirst();
    if (!open) await this.db.insertInto('pc_accounts').values({ mac, account: p.account, request_id: p.requestId, created_at: t, removed_at: null }).execute();
  }
}
