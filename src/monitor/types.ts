import type { Generated } from 'kysely';

export interface MonitorConfig {
  alertTargets: string[];
  staleCheckMs: number;
  freshnessMs?: number;
  repeatMs: number;
  groupWindowMs: number;
  bodyLimitBytes: number;
  enrollHours: number;
  pruneCron: string;
  mail: { host?: string; port: number; secure: boolean; tlsRejectUnauthorized: boolean; user?: string; password?: string; from: string; to: string[] };
  fraud: { burstPerHour: number; businessHours: { start: string; end: string; days: number[] } };
}

declare module '../config.js' {
  interface ConfigSections {
    monitor: MonitorConfig;
  }
}

declare module '../store/db.js' {
  interface Tables {
    mon_nodes: { id: Generated<number>; name: string; token_hash: string | null; enroll_hash: string | null; enroll_expires: number | null; enabled: number; last_seen: number | null; facts: string | null; stale: number; created_at: number };
    mon_sensors: { id: Generated<number>; name: string; kind: string; args: string; interval_ms: number; timeout_ms: number; attempts: number; retention: string; created_at: number };
    mon_node_sensors: { node_id: number; sensor_id: number; overrides: string | null };
    mon_records: { id: Generated<number>; node_id: number; sensor_id: number; result_id: string; at: number; status: number; output: string; perfdata: string | null };
    mon_seen: { node_id: number; result_id: string; at: number };
    mon_sensor_state: { node_id: number; sensor_id: number; status: number; hard_status: number; attempt: number; output: string; perfdata: string | null; at: number; changes: string | null; flapping: number };
    mon_alerts: { id: Generated<number>; node_id: number; sensor_id: number | null; kind: string; status: number; summary: string; opened_at: number; resolved_at: number | null; acked_by: string | null; ack_comment: string | null; last_sent: number | null; notified: number };
    mon_silences: { id: Generated<number>; node_id: number; sensor_id: number | null; until: number; reason: string | null; created_by: string; created_at: number };
    mon_cdr_calls: { id: Generated<number>; node_id: number; call_id: string; at: number; src: string | null; dst: string; duration: number | null; disposition: string | null; raw: string | null; flagged: string | null };
    mon_fraud_rules: { id: Generated<number>; prefix: string; kind: string; note: string | null; created_at: number };
  }
}

export const STATUS = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;
