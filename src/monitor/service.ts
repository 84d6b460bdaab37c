// Monitoring service: the parts, wired together, and the few entry points the agent API, the schedules and
// the chat commands use.
//   nodes.ts         enrolment, tokens, last seen, the node's clock, staleness, enable/disable/remove
//   sensors.ts       sensor definitions, assignment, the agent's sensor list
//   ingest.ts        result batches → records and states (state-machine.ts: pure soft/hard/flapping logic)
//   alerts.ts        opening, grouping, posting, editing, repeating, resolving; ack and silences
//   fraud.ts         CDR calls → toll-fraud groups (fraud-rules.ts: numbers, direction, business hours)
//                    (fraud-detect.ts: why a call is suspicious; fraud-message.ts: a group's message)
import { IANAZone } from 'luxon';
import type { App } from '../app-types.js';
import { Alerts } from './alerts.js';
import { Fraud } from './fraud.js';
import { zoneOf } from './fraud-rules.js';
import { Results } from './ingest.js';
import { Nodes } from './nodes.js';
import { Sensors } from './sensors.js';
import type { CallIn, IngestOutcome, MonitorConfig, NodeRow, ResultIn } from './types.js';
import { SensorKinds, type SensorCatalogue } from '../wire/sensor-kinds.js';

export { sha256 } from './sensors.js';
export type { CallIn, ResultIn, RejectedResult, IngestOutcome } from './types.js';

export class MonitorService {
  readonly alerts: Alerts;
  readonly sensors: Sensors;
  readonly nodes: Nodes;
  readonly results: Results;
  readonly fraud: Fraud;
  /** The bot's time zone (monitor.timezone, else the machine's): charts and business hours. */
  readonly zone: string;

  constructor(
    private app: App,
    readonly cfg: MonitorConfig,
    /**
     * The sensor kinds the chat commands accept (names, arguments): the feature passes those loaded from
     * src/agent/sensors/; a service made without them (tests of other parts) knows none.
     */
    readonly kinds: SensorCatalogue = new SensorKinds(),
  ) {
    this.zone = zoneOf(cfg.timezone);
    if (cfg.fraud.businessHours.tz && !IANAZone.isValidZone(cfg.fraud.businessHours.tz))
      throw new Error(`config key "monitor.fraud.businessHours.tz" has value "${cfg.fraud.businessHours.tz}": must be an IANA time zone such as America/Sao_Paulo`);
    this.alerts = new Alerts(app, cfg);
    this.sensors = new Sensors(app);
    this.nodes = new Nodes(app, cfg, this.alerts, this.sensors);
    this.results = new Results(app, cfg, this.sensors, this.alerts);
    this.fraud = new Fraud(app, cfg, this.alerts, this.zone);
  }

  // ---------- agent API ----------
  ingest(node: NodeRow, results: ResultIn[]): Promise<IngestOutcome> {
    return this.results.ingest(node, results);
  }

  ingestCdr(node: NodeRow, calls: CallIn[]): Promise<{ stored: number; flagged: number }> {
    return this.fraud.ingestCdr(node, calls);
  }

  createEnrollment(name: string, existing = false, role?: { role: 'monitor' | 'apply'; applyTargets: string | null }) {
    return this.nodes.createEnrollment(name, existing, role);
  }

  enroll(code: string) {
    return this.nodes.enroll(code);
  }

  invalidate(): void {
    this.sensors.invalidate();
  }

  // ---------- lifecycle ----------
  /** Server start: post alerts an earlier process opened but never sent. */
  async start(): Promise<void> {
    const n = await this.alerts.postUnsent();
    if (n) this.app.log.info({ alerts: n }, 'posted alerts left unsent by an earlier run');
  }

  /** Stop: drop the group timers (their alerts stay notified=0 and are posted by the next start). */
  stop(): void {
    this.alerts.stop();
  }

  /** Run by a schedule every staleCheckMs: stale nodes, unsent alerts, repeats, quiet fraud groups. */
  async tick(): Promise<void> {
    await this.nodes.checkStale();
    await this.alerts.postUnsent();
    await this.fraud.tick();
    await this.alerts.repeat();
  }

  postUnsent(): Promise<number> {
    return this.alerts.postUnsent();
  }

  prune(): Promise<number> {
    return this.results.prune();
  }

  /** Remove a sensor everywhere; its open alerts are resolved first. */
  async removeSensor(name: string): Promise<void> {
    const s = await this.sensors.get(name);
    const open = await this.app.db.selectFrom('mon_alerts').select(['id', 'node_id']).where('sensor_id', '=', s.id).where('resolved_at', 'is', null).execute();
    for (const a of open) await this.alerts.resolve(a.id, `RESOLVED: sensor ${s.name} was removed`);
    await this.sensors.remove(name);
  }
}
