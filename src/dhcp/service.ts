// Host reservations: all-or-nothing batches, lookups, history (one host's shape and field checks: host-record.ts).
import type { App } from '../app-types.js';
import { parseMac } from '../util/mac.js';
import { now } from '../store/db.js';
import { publishChanges } from '../store/change-feed.js';

import { compileSubnets, ipToNum, numToIp, type Subnet } from './validate.js';
import { checkFields, fieldProblemCode, recordToRow, rowToRecord, same, type BatchProblem, type BatchResult, type HostInput, type HostRecord, type Row } from './host-record.js';
import { writeTransaction } from '../store/conflict-retry.js';

export type { HostInput, HostRecord, BatchProblem, BatchResult } from './host-record.js';
export { batchCode, checkFields, fieldProblemCode, rowToRecord } from './host-record.js';

/** Change-feed topic of DHCP hosts (keys: MACs), published in every host-writing transaction. */
export const HOSTS_TOPIC = 'dhcp-hosts';

export interface UpsertOptions {
  dryRun?: boolean;
  /** ip 'auto' on an existing host takes the lowest free address (its own counts as free) instead of keeping it. */
  reallocate?: boolean;
}

export interface DhcpService {
  /** Validate every input first (MAC any notation, IP in a configured subnet and outside its pool and not network/broadcast, 'auto' = lowest free, uniqueness of MAC/IP/hostname against the store AND within the batch, field safety); then all-or-nothing in one transaction. An input whose MAC exists updates that host. dryRun writes nothing. */
  upsertHosts(inputs: HostInput[], by: string, opts?: UpsertOptions): Promise<BatchResult>;
  getByMac(mac: string): Promise<HostRecord | undefined>;
  /** Hosts changed in this process: caches are refreshed, and the apply queue looks for auto-apply at once. */
  changed(): void;
  /** mac, ip or hostname. */
  lookup(key: string): Promise<HostRecord | undefined>;
  remove(mac: string, by: string): Promise<boolean>;
  all(): Promise<HostRecord[]>;
  find(text: string): Promise<HostRecord[]>;
  history(mac: string): Promise<{ action: string; by: string; at: number; before: HostRecord | null; after: HostRecord | null }[]>;
  subnets(): Subnet[];
  /** Set by the apply queue: told of every change made in this process. */
  onChange?: () => void;
}

declare module '../app-types.js' {
  interface Services {
    dhcp: DhcpService;
  }
}

export class DhcpStore implements DhcpService {
  private nets: Subnet[];
  onChange?: () => void;
  constructor(private app: App) {
    this.nets = compileSubnets(app.config.dhcp.subnets);
    // The addresses the bot's own config names for phones and hosts — the provisioning (boot) server, the public
    // URL, the NTP server — are services too: ip=auto leaves them alone in whichever subnet holds them.
    for (const a of serviceAddresses(app.config as unknown as ServiceConfig)) {
      const n = ipToNum(a);
      for (const s of this.nets) if (n > s.network && n < s.broadcast) s.reserved.add(n);
    }
  }
  subnets() {
    return this.nets;
  }

  async all(): Promise<HostRecord[]> {
    const rows = await this.app.db.selectFrom('dhcp_hosts').selectAll().orderBy('ip_num').execute();
    return rows.map((r) => rowToRecord(r as Row));
  }

  async getByMac(mac: string) {
    const m = parseMac(mac);
    if (!m) return undefined;
    const r = await this.app.db.selectFrom('dhcp_hosts').selectAll().where('mac', '=', m).executeTakeFirst();
    return r ? rowToRecord(r as Row) : undefined;
  }

  async lookup(key: string) {
    const k = key.trim().toLowerCase();
    const mac = parseMac(k);
    const q = this.app.db.selectFrom('dhcp_hosts').selectAll();
    const r = mac ? await q.where('mac', '=', mac).executeTakeFirst() : await q.where((eb) => eb.or([eb('ip', '=', k), eb('hostname', '=', k)])).executeTakeFirst();
    return r ? rowToRecord(r as Row) : undefined;
  }

  async find(text: string) {
    const t = text.trim().toLowerCase();
    const digits = t.replace(/\D/g, '');
    return (await this.all()).filter(
      (h) =>
        [h.mac, h.ip, h.hostname, h.room ?? '', h.owner ?? '', ...h.phones].some((v) => v.toLowerCase().includes(t)) ||
        (digits.length >= 3 && h.phones.some((p) => p.replace(/\D/g, '').includes(digits))),
    );
  }

  async history(mac: string) {
    const m = parseMac(mac) ?? mac;
    const rows = await this.app.db.selectFrom('dhcp_history').selectAll().where('mac', '=', m).orderBy('id', 'desc').limit(50).execute();
    return rows.map((r) => ({
      action: r.action,
      by: r.by,
      at: Number(r.at),
      before: r.before ? (JSON.parse(r.before) as HostRecord) : null,
      after: r.after ? (JSON.parse(r.after) as HostRecord) : null,
    }));
  }

  async remove(mac: string, by: string) {
    const h = await this.getByMac(mac);
    if (!h) return false;
    await writeTransaction(this.app.db, async (tx) => {
      await tx.deleteFrom('dhcp_hosts').where('mac', '=', h.mac).execute();
      await tx
        .insertInto('dhcp_history')
        .values({ mac: h.mac, action: 'remove', before: JSON.stringify(h), after: null, by, at: now() })
        .execute();
      await publishChanges(tx, HOSTS_TOPIC, [h.mac]);
    });
    this.changed();
    return true;
  }

  async upsertHosts(inputs: HostInput[], by: string, opts: UpsertOptions = {}): Promise<BatchResult> {
    const errors: BatchProblem[] = [];
    const existing = await this.all();
    const byMac = new Map(existing.map((h) => [h.mac, h]));
    // A field the input leaves out (a column the sheet lacks) keeps the existing host's value.
    const merged = inputs.map((inp): HostInput => {
      const m = parseMac(String(inp.mac ?? ''));
      const prev = m ? byMac.get(m) : undefined;
      if (!prev) return inp;
      const keep = <T>(v: T | undefined, p: T): T => (v === undefined ? p : v);
      return {
        mac: inp.mac,
        ip: keep(inp.ip, prev.ip),
        hostname: keep(inp.hostname, prev.hostname),
        room: keep(inp.room, prev.room),
        phones: keep(inp.phones, prev.phones),
        owner: keep(inp.owner, prev.owner),
        access: keep(inp.access, prev.access),
        comment: keep(inp.comment, prev.comment),
        bootServer: keep(inp.bootServer, prev.bootServer),
      };
    });
    const checked = merged.map((inp, index) => {
      const c = checkFields(inp, this.nets);
      for (const p of c.problems) errors.push({ index, message: p, code: fieldProblemCode(p) });
      return c.rec;
    });
    // Final state: store with the batch applied; then uniqueness over it.
    const seenMac = new Map<string, number>();
    checked.forEach((r, i) => {
      if (!r) return;
      if (seenMac.has(r.mac)) errors.push({ index: i, message: `mac: ${r.mac} appears twice in this batch (also item ${seenMac.get(r.mac)! + 1})`, code: 'SB_DHCP_DUPLICATE_MAC' });
      else seenMac.set(r.mac, i);
    });
    const final = new Map(byMac);
    const t = now();
    const batch: { index: number; rec: HostRecord }[] = [];
    checked.forEach((r, index) => {
      if (!r || seenMac.get(r.mac) !== index) return;
      const prev = byMac.get(r.mac);
      const rec: HostRecord = { ...r, updatedBy: by, updatedAt: t };
      if (r.ip === 'auto') rec.ip = prev && !opts.reallocate ? prev.ip : 'auto';
      final.set(r.mac, rec);
      batch.push({ index, rec });
    });
    // Hostname / IP uniqueness across the final state.
    const ipOwner = new Map<string, string>();
    const nameOwner = new Map<string, string>();
    for (const h of final.values()) {
      if (h.ip !== 'auto') ipOwner.set(h.ip, ipOwner.has(h.ip) ? `${ipOwner.get(h.ip)}|${h.mac}` : h.mac);
      nameOwner.set(h.hostname, nameOwner.has(h.hostname) ? `${nameOwner.get(h.hostname)}|${h.mac}` : h.mac);
    }
    const batchIndex = new Map(batch.map((b) => [b.rec.mac, b.index]));
    const who = (mac: string) => (batchIndex.has(mac) ? `item ${batchIndex.get(mac)! + 1} (${mac})` : `existing host ${byMac.get(mac)?.hostname} (${mac})`);
    for (const { index, rec } of batch) {
      const io = rec.ip !== 'auto' ? ipOwner.get(rec.ip)!.split('|') : [];
      if (io.length > 1)
        errors.push({
          index,
          message: `ip: ${rec.ip} is already used by ${io
            .filter((m) => m !== rec.mac)
            .map(who)
            .join(', ')}`,
          code: 'SB_DHCP_DUPLICATE_IP',
        });
      const no = nameOwner.get(rec.hostname)!.split('|');
      if (no.length > 1)
        errors.push({
          index,
          message: `hostname: ${rec.hostname} is already used by ${no
            .filter((m) => m !== rec.mac)
            .map(who)
            .join(', ')}`,
          code: 'SB_DHCP_DUPLICATE_HOSTNAME',
        });
    }
    // 'auto': lowest free address outside pool/network/broadcast and the addresses the subnet config names
    // (gateway, DNS servers). One walk per batch over the
    // subnets in address order (they never overlap) and the sorted used addresses (allocations only move
    // forward), not a rescan per host.
    if (!errors.length && batch.some((b) => b.rec.ip === 'auto')) {
      const used = [...new Set([...final.values()].filter((h) => h.ip !== 'auto').map((h) => ipToNum(h.ip)))].sort((a, b) => a - b);
      const nets = [...this.nets].sort((a, b) => a.network - b.network);
      let si = 0;
      let cur = nets[0] ? nets[0].network + 1 : 0;
      let ui = 0;
      const next = (): number | null => {
        while (si < nets.length) {
          const s = nets[si]!;
          if (cur <= s.network) cur = s.network + 1;
          if (cur >= s.broadcast) {
            si++;
            continue;
          }
          if (cur >= s.poolFirst && cur <= s.poolLast) {
            cur = s.poolLast + 1;
            continue;
          }
          if (s.reserved.has(cur)) {
            cur++;
            continue;
          }
          while (ui < used.length && used[ui]! < cur) ui++;
          if (ui < used.length && used[ui] === cur) {
            cur++;
            continue;
          }
          return cur++;
        }
        return null;
      };
      for (const { index, rec } of batch) {
        if (rec.ip !== 'auto') continue;
        const got = next();
        if (got === null) errors.push({ index, message: 'ip: auto found no free address in the configured subnets', code: 'SB_DHCP_NO_FREE_IP' });
        else rec.ip = numToIp(got);
      }
    }
    errors.sort((a, b) => a.index - b.index);
    const added: HostRecord[] = [];
    const changed: HostRecord[] = [];
    const before = new Map<string, HostRecord>();
    let unchanged = 0;
    const writes: { rec: HostRecord; prev?: HostRecord }[] = [];
    for (const { rec } of batch) {
      const prev = byMac.get(rec.mac);
      if (!prev) added.push(rec);
      else if (same(prev, rec)) {
        unchanged++;
        continue;
      } else {
        changed.push(rec);
        before.set(rec.mac, prev);
      }
      writes.push({ rec, prev });
    }
    if (errors.length) return { ok: false, errors, added: [], changed: [], before: new Map(), unchanged: 0 };
    if (opts.dryRun || !writes.length) return { ok: true, errors, added, changed, before, unchanged };
    await writeTransaction(this.app.db, async (tx) => {
      // Free unique values first so swaps inside one batch do not collide mid-transaction.
      const moving = writes.filter((w) => w.prev);
      for (const w of moving)
        await tx
          .updateTable('dhcp_hosts')
          .set({ ip: `~${ipToNum(w.prev!.ip)}`, hostname: `~${w.prev!.mac}` })
          .where('mac', '=', w.rec.mac)
          .execute();
      for (const w of writes) {
        const row = recordToRow(w.rec);
        if (w.prev) await tx.updateTable('dhcp_hosts').set(row).where('mac', '=', w.rec.mac).execute();
        else await tx.insertInto('dhcp_hosts').values(row).execute();
      }
      const hist = writes.map((w) => ({ mac: w.rec.mac, action: w.prev ? 'edit' : 'add', before: w.prev ? JSON.stringify(w.prev) : null, after: JSON.stringify(w.rec), by, at: t }));
      for (let i = 0; i < hist.length; i += 500)
        await tx
          .insertInto('dhcp_history')
          .values(hist.slice(i, i + 500))
          .execute();
      await publishChanges(
        tx,
        HOSTS_TOPIC,
        writes.map((w) => w.rec.mac),
      );
    });
    this.changed();
    return { ok: true, errors, added, changed, before, unchanged };
  }

  /** Bumped on every write (caches such as the caller-ID index compare it). */
  version = 0;
  changed(): void {
    this.version++;
    this.onChange?.();
  }
}

type ServiceConfig = { http?: { publicUrl?: string }; provision?: { url?: string; ntpServer?: string } };

/** IPv4 addresses named as services in the config (URL hosts and the NTP server); names are not resolved. */
export function serviceAddresses(cfg: ServiceConfig): string[] {
  const hostOf = (u: string | undefined) => {
    try {
      return u ? new URL(u).hostname : undefined;
    } catch {
      return undefined;
    }
  };
  const quad = /^\d{1,3}(\.\d{1,3}){3}$/;
  return [hostOf(cfg.http?.publicUrl), hostOf(cfg.provision?.url), cfg.provision?.ntpServer].filter((a): a is string => !!a && quad.test(a) && a.split('.').every((o) => Number(o) <= 255));
}
