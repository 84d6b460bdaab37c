// Firmware images and waves. An image is stored once in the store (keyed by its SHA-256, with the model and
// version it is for) and served by every process at /provision/fw/<sha256>/<name> and over TFTP as
// fw/<sha256>/<name>; a process keeps the images it served in memory (content-addressed, so never stale).
// A wave names the phones whose configs carry a model's firmware URL; halting it takes the URL out again.
import crypto from 'node:crypto';
import type { App } from '../app-types.js';

declare module '../store/db.js' {
  interface Tables {
    provision_firmware: { sha256: string; model: string; version: string; name: string; size: number; data: Buffer; added_by: string; added_at: number };
    provision_waves: {
      id: import('kysely').Generated<number>;
      model: string;
      version: string;
      sha256: string;
      macs: string;
      scope: string;
      started_by: string;
      started_at: number;
      halted_at: number | null;
    };
  }
}

export interface FirmwareImage {
  sha256: string;
  model: string;
  version: string;
  name: string;
  size: number;
  addedBy: string;
  addedAt: number;
}

export interface Wave {
  id: number;
  model: string;
  version: string;
  sha256: string;
  macs: string[];
  scope: string;
  startedBy: string;
  startedAt: number;
}

const SHA_RE = /^[0-9a-f]{64}$/;
export const FIRMWARE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const FIRMWARE_VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/;

export class FirmwareStore {
  private cache = new Map<string, { name: string; data: Buffer }>();

  constructor(private app: App) {}

  /** Stores the image unless the same bytes are there already; the (model, version) pair names one image. */
  async add(model: string, version: string, name: string, data: Buffer, by: string): Promise<{ image: FirmwareImage; existed: boolean }> {
    const sha256 = crypto.createHash('sha256').update(data).digest('hex');
    const db = this.app.db;
    const same = await db.selectFrom('provision_firmware').select(['sha256', 'model', 'version', 'name', 'size', 'added_by', 'added_at']).where('sha256', '=', sha256).executeTakeFirst();
    if (same) return { image: toImage(same), existed: true };
    const taken = await db.selectFrom('provision_firmware').select('sha256').where('model', '=', model).where('version', '=', version).executeTakeFirst();
    if (taken) throw new Error(`${model} firmware ${version} is already stored with other bytes (SHA-256 ${taken.sha256.slice(0, 12)}…)`);
    const row = { sha256, model, version, name, size: data.length, data, added_by: by, added_at: Date.now() };
    await db.insertInto('provision_firmware').values(row).execute();
    return { image: toImage(row), existed: false };
  }

  async list(model?: string): Promise<FirmwareImage[]> {
    let q = this.app.db.selectFrom('provision_firmware').select(['sha256', 'model', 'version', 'name', 'size', 'added_by', 'added_at']);
    if (model) q = q.where('model', '=', model);
    return (await q.orderBy('added_at').execute()).map(toImage);
  }

  async find(model: string, version: string): Promise<FirmwareImage | undefined> {
    const row = await this.app.db
      .selectFrom('provision_firmware')
      .select(['sha256', 'model', 'version', 'name', 'size', 'added_by', 'added_at'])
      .where('model', '=', model)
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? toImage(row) : undefined;
  }

  /** The bytes of fw/<sha256>/<name>, or undefined when no such image is stored. */
  async read(sha256: string, name: string): Promise<Buffer | undefined> {
    if (!SHA_RE.test(sha256)) return undefined;
    let hit = this.cache.get(sha256);
    if (!hit) {
      const row = await this.app.db.selectFrom('provision_firmware').select(['name', 'data']).where('sha256', '=', sha256).executeTakeFirst();
      if (!row) return undefined;
      hit = { name: row.name, data: Buffer.from(row.data) };
      this.cache.set(sha256, hit);
    }
    return hit.name.toLowerCase() === name.toLowerCase() ? hit.data : undefined;
  }

  // ---- waves ------------------------------------------------------------------------------------

  async activeWaves(): Promise<Wave[]> {
    const rows = await this.app.db.selectFrom('provision_waves').selectAll().where('halted_at', 'is', null).orderBy('id').execute();
    return rows.map((r) => ({
      id: Number(r.id),
      model: r.model,
      version: r.version,
      sha256: r.sha256,
      macs: JSON.parse(r.macs) as string[],
      scope: r.scope,
      startedBy: r.started_by,
      startedAt: Number(r.started_at),
    }));
  }

  async startWave(w: Omit<Wave, 'id' | 'startedAt'>): Promise<void> {
    await this.app.db
      .insertInto('provision_waves')
      .values({ model: w.model, version: w.version, sha256: w.sha256, macs: JSON.stringify(w.macs), scope: w.scope, started_by: w.startedBy, started_at: Date.now(), halted_at: null })
      .execute();
  }

  /** Halts the active waves (of one model, or all); returns the MACs they covered. */
  async halt(model?: string): Promise<{ waves: Wave[] }> {
    const waves = (await this.activeWaves()).filter((w) => !model || w.model === model);
    if (waves.length)
      await this.app.db
        .updateTable('provision_waves')
        .set({ halted_at: Date.now() })
        .where(
          'id',
          'in',
          waves.map((w) => w.id),
        )
        .execute();
    return { waves };
  }
}

function toImage(r: { sha256: string; model: string; version: string; name: string; size: number | bigint; added_by: string; added_at: number | bigint }): FirmwareImage {
  return { sha256: r.sha256, model: r.model, version: r.version, name: r.name, size: Number(r.size), addedBy: r.added_by, addedAt: Number(r.added_at) };
}

/** The path of an image under the provisioning root: fw/<sha256>/<name>. */
export const firmwarePath = (img: { sha256: string; name: string }): string => `fw/${img.sha256}/${img.name}`;
