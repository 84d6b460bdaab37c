// Result ingestion with group commit (src/store/group-commit.ts): each request's batch is checked (sensor
// assigned, clock) and queued; the batches that arrive while a transaction is being written are stored
// together in the next one, and every request is answered after the transaction holding its results has
// committed. One transaction stores the new results (idempotent: a result id already stored is a duplicate,
// at every attempt), reads the touched sensors' states, runs the state machine (src/monitor/state-machine.ts)
// per sensor in arrival order, writes the new states and the nodes' last-seen time; the alerts that the
// transitions open or resolve follow the commit. SQLite runs cached prepared statements on the transaction's
// own connection (no statement compiled per request); MariaDB runs multi-row statements.
import { sql } from '../store/kysely.js';
import type { Statement } from 'better-sqlite3';
import type { App } from '../app-types.js';
import { isUniqueViolation, now, type DB, type Tables } from '../store/db.js';
import { withConflictRetry } from '../store/conflict-retry.js';
import { GroupCommit } from '../store/group-commit.js';
import { SbError } from '../util/errors.js';
import type { Alerts } from './alerts.js';
import type { SensorList, Sensors } from './sensors.js';
import { advance, type Transition } from './state-machine.js';
import { STATUS, span, type IngestOutcome, type MonitorConfig, type NodeRow, type RejectedResult, type ResultIn } from './types.js';

type StateRow = Tables['mon_sensor_state'];
type SensorTransition = Transition & { sensorId: number };
/** One request's checked results, waiting for the next group. */
interface Batch {
  node: NodeRow;
  results: ResultIn[];
  sensors: SensorList;
}
type Stored = { stored: number; duplicates: number };

const STATE_COLS = ['status', 'hard_status', 'attempt', 'output', 'perfdata', 'at', 'changes', 'flapping'] as const;

/** SQLite statements prepared once, run on the connection Kysely's transaction holds. */
class SqliteStatements {
  readonly record: Statement;
  readonly seen: Statement;
  readonly state: Statement;
  readonly upsertState: Statement;
  readonly lastSeen: Statement;
  constructor(db: import('better-sqlite3').Database) {
    this.record = db.prepare('insert into mon_records (node_id, sensor_id, result_id, at, status, output, perfdata) values (?, ?, ?, ?, ?, ?, ?) on conflict (node_id, result_id) do nothing');
    this.seen = db.prepare('insert into mon_seen (node_id, result_id, at) values (?, ?, ?) on conflict (node_id, result_id) do nothing');
    this.state = db.prepare('select * from mon_sensor_state where node_id = ? and sensor_id = ?');
    this.upsertState = db.prepare(
      `insert into mon_sensor_state (node_id, sensor_id, ${STATE_COLS.join(', ')}) values (?, ?, ${STATE_COLS.map(() => '?').join(', ')}) on conflict (node_id, sensor_id) do update set ${STATE_COLS.map((c) => `${c} = excluded.${c}`).join(', ')}`,
    );
    this.lastSeen = db.prepare('update mon_nodes set last_seen = ? where id = ? and (last_seen is null or last_seen < ?)');
  }
}

export class Results {
  private sqlite: SqliteStatements | null;
  readonly queue: GroupCommit<Batch, Stored>;
  /** When this process last wrote each node's last_seen. */
  private lastSeenWritten = new Map<number, number>();

  constructor(
    private app: App,
    private cfg: MonitorConfig,
    private sensors: Sensors,
    private alerts: Alerts,
  ) {
    this.sqlite = app.store.sqlite ? new SqliteStatements(app.store.sqlite) : null;
    this.queue = new GroupCommit<Batch, Stored>({
      // A group is idempotent (every attempt finds what is stored), so a deadlock, a Galera certification
      // failure or a duplicate key written meanwhile by another replica is cured by writing it again.
      // MariaDB's first attempt inserts without first reading which ids are stored (one round trip less per
      // group); a result stored before makes it fail on the unique key, and the attempts after it read first.
      write: (items, ready) => withConflictRetry((attempt) => this.storeGroup(items, ready, attempt > 1), { alsoRetry: isUniqueViolation }),
      // SQLite writes one transaction at a time anyway; MariaDB overlaps several (one flush for all of them).
      concurrency: this.sqlite ? 1 : cfg.ingest.concurrency,
      weight: (b) => b.results.length,
      maxGroupWeight: cfg.ingest.maxGroupResults,
      maxQueuedWeight: cfg.ingest.maxQueuedResults,
      maxWaitMs: cfg.ingest.maxWaitMs,
    });
  }

  private get db(): DB {
    return this.app.db;
  }

  /**
   * Store a batch. Results are refused one by one, with the reason, when their sensor is not (or no longer)
   * assigned to the node or when they are stamped more than `maxFutureSkewMs` ahead of the bot's clock; the
   * others are stored. A batch in which every result is refused throws a 400 naming the first one's field
   * (with the refused list attached). When too much is already waiting to be stored, throws QueueFull (503).
   */
  async ingest(node: NodeRow, results: ResultIn[]): Promise<IngestOutcome> {
    const sensors = await this.sensors.sensorsOf(node.id);
    const rejected: RejectedResult[] = [];
    const valid: ResultIn[] = [];
    const t = now();
    results.forEach((r, i) => {
      if (!sensors.has(r.sensorId)) rejected.push({ index: i, id: r.id, sensorId: r.sensorId, reason: `results/${i}/sensorId: sensor ${r.sensorId} is not assigned to this node` });
      else if (r.at > t + this.cfg.maxFutureSkewMs)
        rejected.push({
          index: i,
          id: r.id,
          sensorId: r.sensorId,
          reason: `results/${i}/at: ${new Date(r.at).toISOString()} is ${span(r.at - t)} ahead of the bot's clock (allowed ${span(this.cfg.maxFutureSkewMs)}); check the node's clock`,
        });
      else valid.push(r);
    });
    if (rejected.length && !valid.length) throw new SbError('SB_AGENT_RESULTS_REJECTED', rejected[0]!.reason, { rejected });
    // The checked sensor list travels with the batch: every result is either stored (or a duplicate) or
    // listed in `rejected`, even if the cache is refreshed meanwhile (an unlisted, unstored result would be acked).
    const r = valid.length ? await this.queue.submit({ node, results: valid, sensors }) : { stored: 0, duplicates: 0 };
    return rejected.length ? { ...r, rejected } : r;
  }

  /** One transaction for a group of batches (any nodes); alerts for the transitions after the commit. */
  private async storeGroup(items: Batch[], ready: () => void, readStored: boolean): Promise<Stored[]> {
    const transitions: { node: NodeRow; sensorName: string; t: SensorTransition }[] = [];
    let lastSeen: { ids: number[]; at: number } = { ids: [], at: 0 };
    const out = await this.db.transaction().execute(async (trx) => {
      // MariaDB: the states of every sensor the group touches are locked first (FOR UPDATE), then the next
      // group may start; one that shares a sensor waits for this commit, so states advance in arrival order.
      let locked: Map<string, StateRow> | null = null;
      if (!this.sqlite) {
        const keys = new Map<string, { nodeId: number; sensorId: number }>();
        for (const item of items) for (const r of item.results) keys.set(`${item.node.id}:${r.sensorId}`, { nodeId: item.node.id, sensorId: r.sensorId });
        locked = await this.lockStatesMysql(trx, [...keys.values()]);
      }
      ready();
      const fresh = this.sqlite ? this.insertSqlite(items, this.sqlite) : await this.insertMysql(trx, items, readStored);
      // Each sensor's fresh results in arrival order, across the group's batches.
      const bySensor = new Map<string, { item: Batch; sensorId: number; list: ResultIn[] }>();
      items.forEach((item, i) => {
        for (const r of fresh[i]!) {
          const k = `${item.node.id}:${r.sensorId}`;
          const e = bySensor.get(k) ?? bySensor.set(k, { item, sensorId: r.sensorId, list: [] }).get(k)!;
          e.list.push(r);
        }
      });
      const entries = [...bySensor.values()];
      const states = entries.map((e) => (locked ? locked.get(`${e.item.node.id}:${e.sensorId}`) : (this.sqlite!.state.get(e.item.node.id, e.sensorId) as StateRow | undefined)));
      const stateRows: StateRow[] = [];
      const t = now();
      entries.forEach((e, i) => {
        const st = states[i];
        const prev = st ? { status: st.status, hard: st.hard_status, attempt: st.attempt, at: st.at, changes: st.changes ?? '', flapping: !!st.flapping, output: st.output, perfdata: null } : null;
        const sensor = e.item.sensors.get(e.sensorId)!;
        const a = advance(prev, e.list, { attempts: sensor.attempts, now: t, maxFutureSkewMs: this.cfg.maxFutureSkewMs });
        if (!a.state) return; // only late results: history kept, the state is newer
        for (const tr of a.transitions) transitions.push({ node: e.item.node, sensorName: sensor.name, t: { ...tr, sensorId: e.sensorId } });
        const s = a.state;
        stateRows.push({
          node_id: e.item.node.id,
          sensor_id: e.sensorId,
          status: s.status,
          hard_status: s.hard,
          attempt: s.attempt,
          output: s.output,
          perfdata: s.perfdata ? JSON.stringify(s.perfdata) : null,
          at: s.at,
          changes: s.changes,
          flapping: s.flapping ? 1 : 0,
        });
      });
      // last_seen: once a second per node is plenty for staleness (and keeps concurrent groups off the node row).
      // Marked written only after the commit: an attempt rolled back (and tried again) must write it again.
      const nodeIds = [...new Set(items.map((b) => b.node.id))].filter((id) => t - (this.lastSeenWritten.get(id) ?? 0) >= 1000);
      lastSeen = { ids: nodeIds, at: t };
      if (this.sqlite) {
        for (const r of stateRows) this.sqlite.upsertState.run(r.node_id, r.sensor_id, ...STATE_COLS.map((c) => r[c]));
        for (const id of nodeIds) this.sqlite.lastSeen.run(t, id, t);
      } else {
        if (stateRows.length) {
          await trx
            .insertInto('mon_sensor_state')
            .values(stateRows)
            .onDuplicateKeyUpdate(Object.fromEntries(STATE_COLS.map((c) => [c, sql`values(${sql.ref(c)})`])))
            .execute();
        }
        if (nodeIds.length)
          await trx
            .updateTable('mon_nodes')
            .set({ last_seen: t })
            .where('id', 'in', nodeIds)
            .where((eb) => eb.or([eb('last_seen', 'is', null), eb('last_seen', '<', t)]))
            .execute();
      }
      return fresh.map((f, i) => ({ stored: f.length, duplicates: items[i]!.results.length - f.length }));
    });
    for (const id of lastSeen.ids) this.lastSeenWritten.set(id, lastSeen.at);
    for (const x of transitions) await this.onTransition(x.node, x.t, x.sensorName);
    return out;
  }

  private isHistory(item: Batch, r: ResultIn): boolean {
    return item.sensors.get(r.sensorId)!.retention.startsWith('history');
  }

  /** SQLite: insert-or-skip each result; the ones a row was written for are fresh. */
  private insertSqlite(items: Batch[], st: SqliteStatements): ResultIn[][] {
    return items.map((item) => {
      const node = item.node.id;
      const fresh: ResultIn[] = [];
      for (const r of item.results) {
        const res = this.isHistory(item, r) ? st.record.run(node, r.sensorId, r.id, r.at, r.status, r.output, r.perfdata?.length ? JSON.stringify(r.perfdata) : null) : st.seen.run(node, r.id, r.at);
        if (res.changes === 1) fresh.push(r);
      }
      return fresh;
    });
  }

  /**
   * MariaDB: multi-row inserts of the group's results (an id twice in the group is stored once). With
   * `readStored`, the ids already stored are read first and left out; without it (a group's first attempt)
   * one of them makes the insert fail on the unique key, and the group is written again reading first. A
   * concurrent writer (another replica) storing one of them meanwhile ends the same way.
   */
  private async insertMysql(trx: DB, items: Batch[], readStored: boolean): Promise<ResultIn[][]> {
    const seen = new Set<string>();
    for (const table of readStored ? (['mon_records', 'mon_seen'] as const) : []) {
      const pairs: [number, string][] = [];
      for (const item of items) for (const r of item.results) if (this.isHistory(item, r) === (table === 'mon_records')) pairs.push([item.node.id, r.id]);
      for (let i = 0; i < pairs.length; i += 1000) {
        const chunk = pairs.slice(i, i + 1000);
        const rows = await trx
          .selectFrom(table)
          .select(['node_id', 'result_id'])
          .where((eb) =>
            eb(
              eb.refTuple('node_id', 'result_id'),
              'in',
              chunk.map(([n, id]) => eb.tuple(n, id)),
            ),
          )
          .execute();
        for (const r of rows) seen.add(`${r.node_id}:${r.result_id}`);
      }
    }
    const records: { node_id: number; sensor_id: number; result_id: string; at: number; status: number; output: string; perfdata: string | null }[] = [];
    const seenRows: { node_id: number; result_id: string; at: number }[] = [];
    const fresh = items.map((item) => {
      const list: ResultIn[] = [];
      for (const r of item.results) {
        const k = `${item.node.id}:${r.id}`;
        if (seen.has(k)) continue;
        seen.add(k);
        list.push(r);
        if (this.isHistory(item, r))
          records.push({
            node_id: item.node.id,
            sensor_id: r.sensorId,
            result_id: r.id,
            at: r.at,
            status: r.status,
            output: r.output,
            perfdata: r.perfdata?.length ? JSON.stringify(r.perfdata) : null,
          });
        else seenRows.push({ node_id: item.node.id, result_id: r.id, at: r.at });
      }
      return list;
    });
    for (let i = 0; i < records.length; i += 500)
      await trx
        .insertInto('mon_records')
        .values(records.slice(i, i + 500))
        .execute();
    for (let i = 0; i < seenRows.length; i += 1000)
      await trx
        .insertInto('mon_seen')
        .values(seenRows.slice(i, i + 1000))
        .execute();
    return fresh;
  }

  /** MariaDB: the sensors' current states, locked for this transaction (keyed `node:sensor`). */
  private async lockStatesMysql(trx: DB, keys: { nodeId: number; sensorId: number }[]): Promise<Map<string, StateRow>> {
    const byKey = new Map<string, StateRow>();
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const rows = await trx
        .selectFrom('mon_sensor_state')
        .selectAll()
        .where((eb) =>
          eb(
            eb.refTuple('node_id', 'sensor_id'),
            'in',
            chunk.map((k) => eb.tuple(k.nodeId, k.sensorId)),
          ),
        )
        .forUpdate()
        .execute();
      for (const r of rows) byKey.set(`${r.node_id}:${r.sensor_id}`, r);
    }
    return byKey;
  }

  private async onTransition(node: NodeRow, t: SensorTransition, sensorName: string): Promise<void> {
    const open = await this.db
      .selectFrom('mon_alerts')
      .select(['id', 'status'])
      .where('node_id', '=', node.id)
      .where('sensor_id', '=', t.sensorId)
      .where('kind', '=', 'sensor')
      .where('resolved_at', 'is', null)
      .executeTakeFirst();
    if (t.to === 0) {
      // Resolution does not wait for a flap to end: flapping only suppresses new alerts. (The hard state
      // is OK now, so later OK results bring no transition that could resolve it.)
      if (open) await this.alerts.resolve(open.id, `RESOLVED: ${node.name}/${sensorName} is OK: ${t.output}`);
      return;
    }
    if (open) {
      if (open.status !== t.to)
        await this.db
          .updateTable('mon_alerts')
          .set({ status: t.to, summary: `${STATUS[t.to]}: ${t.output}` })
          .where('id', '=', open.id)
          .execute();
      return;
    }
    if (t.flapping) return;
    await this.alerts.open({
      nodeId: node.id,
      sensorId: t.sensorId,
      kind: 'sensor',
      status: t.to,
      summary: `${STATUS[t.to]}: ${t.output}`,
      text: `${STATUS[t.to]} ${node.name}/${sensorName}: ${t.output}`,
      openKey: `sensor:${node.id}:${t.sensorId}`,
    });
  }

  /** A history sensor's records since a time, oldest first. */
  async records(nodeId: number, sensorId: number, since: number) {
    return this.db.selectFrom('mon_records').selectAll().where('node_id', '=', nodeId).where('sensor_id', '=', sensorId).where('at', '>=', since).orderBy('at').orderBy('id').execute();
  }

  async state(nodeId: number, sensorId: number) {
    return this.db.selectFrom('mon_sensor_state').selectAll().where('node_id', '=', nodeId).where('sensor_id', '=', sensorId).executeTakeFirst();
  }

  async prune(): Promise<number> {
    let n = 0;
    const sensors = await this.db.selectFrom('mon_sensors').select(['id', 'retention']).execute();
    for (const s of sensors) {
      const m = /^history:(\d+)d$/.exec(s.retention);
      const cut = now() - (m ? Number(m[1]) : 0) * 86_400_000;
      const r = await this.db.deleteFrom('mon_records').where('sensor_id', '=', s.id).where('at', '<', cut).executeTakeFirst();
      n += Number(r.numDeletedRows);
    }
    await this.db
      .deleteFrom('mon_seen')
      .where('at', '<', now() - 7 * 86_400_000)
      .execute();
    return n;
  }
}
