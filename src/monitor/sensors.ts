// Sensors: definitions, assignment to nodes (with per-node argument overrides), the agent's sensor list
// (with its ETag), and the short-lived per-node cache the result ingestion checks against.
import crypto from 'node:crypto';
import type { App } from '../app-types.js';
import { UserError } from '../core/command.js';
import { BatchLoader } from '../store/batch-loader.js';
import { now, type DB } from '../store/db.js';
import { writeTransaction } from '../store/conflict-retry.js';
import type { AgentConfigBody } from '../wire/results.js';

export const sha256 = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');

/** A node's assigned sensors (cached for 2 s). */
export type SensorList = Map<number, { attempts: number; retention: string; name: string }>;

export interface SensorDef {
  name: string;
  kind: string;
  args: Record<string, string>;
  intervalMs: number;
  timeoutMs: number;
  attempts: number;
  retention: string;
}

export class Sensors {
  private cache = new Map<number, { at: number; list: SensorList }>();
  /** The sensor lists of the nodes asked for in one event-loop turn, in one query. */
  private byNode = new BatchLoader<number, { nodeId: number; list: SensorList }>(
    async (ids) => {
      const rows = await this.db
        .selectFrom('mon_node_sensors as ns')
        .innerJoin('mon_sensors as s', 's.id', 'ns.sensor_id')
        .select(['ns.node_id', 's.id', 's.attempts', 's.retention', 's.name'])
        .where('ns.node_id', 'in', ids)
        .execute();
      const lists = new Map<number, SensorList>(ids.map((id) => [id, new Map()]));
      for (const r of rows) lists.get(r.node_id)!.set(r.id, { attempts: r.attempts, retention: r.retention, name: r.name });
      return [...lists].map(([nodeId, list]) => ({ nodeId, list }));
    },
    (v) => v.nodeId,
  );

  constructor(private app: App) {}

  private get db(): DB {
    return this.app.db;
  }

  /** The sensors assigned to a node, as the ingestion checks them (cached 2 s per process). */
  async sensorsOf(nodeId: number): Promise<SensorList> {
    const c = this.cache.get(nodeId);
    if (c && now() - c.at < 2000) return c.list;
    const list = (await this.byNode.load(nodeId))?.list ?? new Map();
    this.cache.set(nodeId, { at: now(), list });
    return list;
  }

  invalidate(): void {
    this.cache.clear();
  }

  /** The agent's sensor list and its ETag. */
  /** The node's sensors; an apply node (DHCP/proxy server) is told not to read CDRs. */
  async agentConfig(nodeId: number, opts: { cdr?: boolean } = {}): Promise<{ body: AgentConfigBody; etag: string }> {
    const rows = await this.db
      .selectFrom('mon_node_sensors as ns')
      .innerJoin('mon_sensors as s', 's.id', 'ns.sensor_id')
      .select(['s.id', 's.name', 's.kind', 's.args', 's.interval_ms', 's.timeout_ms', 'ns.overrides'])
      .where('ns.node_id', '=', nodeId)
      .orderBy('s.id')
      .execute();
    const sensors = rows.map((r) => ({
      id: r.id,
      name: r.name,
      kind: r.kind,
      args: { ...JSON.parse(r.args), ...(r.overrides ? JSON.parse(r.overrides) : {}) },
      intervalMs: r.interval_ms,
      timeoutMs: r.timeout_ms,
    }));
    const body: AgentConfigBody = { sensors, cdr: { enabled: opts.cdr !== false } };
    return { body, etag: `"${sha256(JSON.stringify(body)).slice(0, 32)}"` };
  }

  async get(name: string) {
    const s = await this.db.selectFrom('mon_sensors').selectAll().where('name', '=', name).executeTakeFirst();
    if (!s) throw new UserError(`no sensor named ${name} (see monitor sensors)`, 'SB_NOT_FOUND');
    return s;
  }

  async add(d: SensorDef): Promise<void> {
    if (await this.db.selectFrom('mon_sensors').select('id').where('name', '=', d.name).executeTakeFirst()) throw new UserError(`sensor ${d.name} exists (monitor sensor edit)`, 'SB_ALREADY_EXISTS');
    await this.db
      .insertInto('mon_sensors')
      .values({ name: d.name, kind: d.kind, args: JSON.stringify(d.args), interval_ms: d.intervalMs, timeout_ms: d.timeoutMs, attempts: d.attempts, retention: d.retention, created_at: now() })
      .execute();
  }

  async edit(name: string, change: (s: SensorDef) => SensorDef): Promise<void> {
    const s = await this.get(name);
    const d = change({ name: s.name, kind: s.kind, args: JSON.parse(s.args), intervalMs: s.interval_ms, timeoutMs: s.timeout_ms, attempts: s.attempts, retention: s.retention });
    await this.db
      .updateTable('mon_sensors')
      .set({ args: JSON.stringify(d.args), interval_ms: d.intervalMs, timeout_ms: d.timeoutMs, attempts: d.attempts, retention: d.retention })
      .where('id', '=', s.id)
      .execute();
    this.invalidate();
  }

  async show(name: string) {
    const s = await this.get(name);
    const nodes = await this.db
      .selectFrom('mon_node_sensors as ns')
      .innerJoin('mon_nodes as n', 'n.id', 'ns.node_id')
      .select(['n.name', 'ns.overrides'])
      .where('ns.sensor_id', '=', s.id)
      .orderBy('n.name')
      .execute();
    return { sensor: s, nodes };
  }

  async remove(name: string): Promise<void> {
    const s = await this.get(name);
    await writeTransaction(this.db, async (trx) => {
      for (const t of ['mon_node_sensors', 'mon_records', 'mon_sensor_state'] as const) await trx.deleteFrom(t).where('sensor_id', '=', s.id).execute();
      await trx.deleteFrom('mon_sensors').where('id', '=', s.id).execute();
    });
    this.invalidate();
  }

  async list() {
    return this.db.selectFrom('mon_sensors').selectAll().orderBy('name').execute();
  }

  /** Assign to some nodes (replacing their overrides). */
  async assign(sensor: string, nodes: { id: number; name: string }[], overrides: Record<string, string>): Promise<void> {
    const s = await this.get(sensor);
    for (const n of nodes) {
      await writeTransaction(this.db, async (trx) => {
        await trx.deleteFrom('mon_node_sensors').where('node_id', '=', n.id).where('sensor_id', '=', s.id).execute();
        await trx
          .insertInto('mon_node_sensors')
          .values({ node_id: n.id, sensor_id: s.id, overrides: Object.keys(overrides).length ? JSON.stringify(overrides) : null })
          .execute();
      });
    }
    this.invalidate();
  }

  /** Unassign from one node, or from all (nodeId undefined). Returns how many assignments went. */
  async unassign(sensor: string, nodeId?: number): Promise<number> {
    const s = await this.get(sensor);
    let q = this.db.deleteFrom('mon_node_sensors').where('sensor_id', '=', s.id);
    if (nodeId !== undefined) q = q.where('node_id', '=', nodeId);
    const r = await q.executeTakeFirst();
    this.invalidate();
    return Number(r.numDeletedRows);
  }
}
