import type { AgentResult } from '../wire/results.js';
import type { Generated } from 'kysely';

export interface BusinessHours {
  start: string;
  end: string;
  /** 0 = Sunday … 6 = Saturday. */
  days: number[];
  /** IANA zone; default: monitor.timezone. */
  tz?: string;
}

export interface FraudConfig {
  /** Outbound calls to outside numbers per node per hour (all calls, flagged or not) above which calls are suspicious. */
  burstPerHour: number;
  businessHours: BusinessHours;
  /** A fraud group with no new suspicious call for this long is resolved. */
  quietMs: number;
  /** The international dialling prefix ('+' is rewritten to it). */
  internationalPrefix: string;
  /** The home country code (calls to/from it are not foreign); empty: every international number is foreign. */
  homeCountryCode: string;
  wangiri: { minCalls: number; maxSeconds: number; windowMs: number; prefixDigits: number; callbackMs: number };
}

export interface MonitorConfig {
  alertTargets: string[];
  staleCheckMs: number;
  freshnessMs?: number;
  repeatMs: number;
  groupWindowMs: number;
  bodyLimitBytes: number;
  /** Nesting depth allowed in an agent API JSON body. */
  maxJsonDepth: number;
  /** Results stamped further than this in the future are refused, and a node clock off by more is an alert. */
  maxFutureSkewMs: number;
  /** Group commit of results: results per transaction, results allowed to wait, longest wait before 503. */
  ingest: { maxGroupResults: number; maxQueuedResults: number; maxWaitMs: number; maxInFlight: number; maxAnswerMs: number; concurrency: number };
  /** IANA time zone for charts and business hours; default: the machine's. */
  timezone?: string;
  enrollHours: number;
  pruneCron: string;
  mail: { host?: string; port: number; secure: boolean; tlsRejectUnauthorized: boolean; user?: string; password?: string; from: string; to: string[] };
  fraud: FraudConfig;
}

declare module '../config.js' {
  interface ConfigSections {
    monitor: MonitorConfig;
  }
}

declare module '../store/db.js' {
  interface Tables {
    mon_nodes: {
      id: Generated<number>;
      name: string;
      token_hash: string | null;
      enroll_hash: string | null;
      enroll_expires: number | null;
      enabled: number;
      last_seen: number | null;
      facts: string | null;
      stale: number;
      created_at: number;
      clock_skew: number | null;
      clock_bad: Generated<number>;
      business_hours: string | null;
      role: Generated<string>;
      apply_targets: string | null;
    };
    mon_sensors: { id: Generated<number>; name: string; kind: string; args: string; interval_ms: number; timeout_ms: number; attempts: number; retention: string; created_at: number };
    mon_node_sensors: { node_id: number; sensor_id: number; overrides: string | null };
    mon_records: { id: Generated<number>; node_id: number; sensor_id: number; result_id: string; at: number; status: number; output: string; perfdata: string | null };
    mon_seen: { node_id: number; result_id: string; at: number };
    mon_sensor_state: {
      node_id: number;
      sensor_id: number;
      status: number;
      hard_status: number;
      attempt: number;
      output: string;
      perfdata: string | null;
      at: number;
      changes: string | null;
      flapping: number;
    };
    mon_alerts: {
      id: Generated<number>;
      node_id: number;
      sensor_id: number | null;
      kind: string;
      status: number;
      summary: string;
      opened_at: number;
      resolved_at: number | null;
      acked_by: string | null;
      ack_comment: string | null;
      last_sent: number | null;
      notified: number;
      open_key: string | null;
      calls: Generated<number>;
      updated_at: number | null;
      refs: string | null;
      sent_count: Generated<number>;
    };
    mon_silences: { id: Generated<number>; node_id: number; sensor_id: number | null; until: number; reason: string | null; created_by: string; created_at: number };
    mon_cdr_calls: {
      id: Generated<number>;
      node_id: number;
      call_id: string;
      at: number;
      src: string | null;
      dst: string;
      duration: number | null;
      disposition: string | null;
      raw: string | null;
      flagged: string | null;
      direction: string | null;
      peer: string | null;
      fraud_group: string | null;
      alert_id: number | null;
    };
    mon_fraud_rules: {
      id: Generated<number>;
      prefix: string;
      kind: string;
      note: string | null;
      created_at: number;
      cpm: number | null;
      concurrent: number | null;
      total_seconds: number | null;
      sequential: number | null;
    };
  }
}

export { STATUS_LABELS as STATUS } from '../wire/results.js';

/** A node row as the agent API sees it (read fresh from the store on every request). */
export interface NodeRow {
  id: number;
  name: string;
  enabled: number;
  /** `monitor` (PBX agent) or `apply` (DHCP/proxy apply agent). */
  role?: string;
  stale: number;
  last_seen: number | null;
  clock_bad?: number;
}

/** A result as an agent posts it (the wire protocol's, src/wire/results.ts). */
export type ResultIn = AgentResult;

// One perfdata shape for the agent that parses it and the bot that stores and charts it.
export type { Perf } from '../wire/perfdata.js';
// Threshold ranges, checked by the agent and shown by the bot's commands and charts.
export { parseRange, type Range } from '../wire/range.js';

export interface CallIn {
  callId: string;
  at: number;
  src?: string;
  dst: string;
  duration?: number;
  billsec?: number;
  disposition?: string;
  dcontext?: string;
  raw?: string;
}

export interface RejectedResult {
  index: number;
  id: string;
  sensorId: number;
  reason: string;
}

export interface IngestOutcome {
  stored: number;
  duplicates: number;
  /** Results not stored (sensor not assigned to the node, or stamped too far in the future); the rest were stored. */
  rejected?: RejectedResult[];
}

/** Human duration: 2 h 5 min, 4 min 10 s, 0.3 s. */
export function span(ms: number): string {
  const a = Math.abs(ms);
  if (a < 10_000) return `${(a / 1000).toFixed(1).replace(/\.0$/, '')} s`;
  if (a < 3_570_000) {
    const s = Math.round(a / 1000);
    return `${Math.floor(s / 60) ? `${Math.floor(s / 60)} min` : ''}${s % 60 ? ` ${s % 60} s` : ''}`.trim();
  }
  if (a >= 47.5 * 3_600_000) return `${Math.round(a / 86_400_000)} days`;
  const min = Math.round(a / 60_000);
  return `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
}
