// What the agent and the bot say to each other about sensors: the sensor list the agent fetches
// (`GET /api/v1/agent/config`), a check's result, and the body the agent posts to `/api/v1/agent/results`
// with the JSON schema the bot validates it against. Both sides import this module; it imports neither.
import type { Perf } from './perfdata.js';

export type { Perf } from './perfdata.js';

/** Nagios plugin status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
export type Status = 0 | 1 | 2 | 3;
export const STATUS_LABELS = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

/** A sensor as the agent gets it in its sensor list (the node's overrides already merged into `args`). */
export interface AgentSensor {
  id: number;
  name: string;
  kind: string;
  args: Record<string, string>;
  intervalMs: number;
  timeoutMs: number;
}

/** The sensor list: what `GET /api/v1/agent/config` answers. */
export interface AgentConfigBody {
  sensors: AgentSensor[];
  cdr?: { enabled?: boolean };
}

/** What one run of a check gives. */
export interface CheckResult {
  status: Status;
  output: string;
  perfdata: Perf[];
}

/** One result as posted: the check's result, stamped and with an id the agent made (replays are idempotent). */
export interface AgentResult {
  id: string;
  sensorId: number;
  at: number;
  status: number;
  output: string;
  perfdata?: Perf[];
}

/** The body of `POST /api/v1/agent/results`. */
export interface ResultsBody {
  nodeId?: number;
  results: AgentResult[];
  /** Results the agent dropped (spool full, or refused by the bot) since it last said so. */
  dropped?: number;
  /** Host facts (hostname, os, asterisk, agentVersion…). */
  facts?: Record<string, unknown>;
  /** The agent's clock (ms since the epoch) when it posted: the bot compares it with its own. */
  clock?: number;
}

export const PERF_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['label', 'value'],
  properties: {
    label: { type: 'string', maxLength: 200 },
    value: { type: 'number' },
    uom: { type: 'string', maxLength: 16 },
    warn: { type: 'string', maxLength: 64 },
    crit: { type: 'string', maxLength: 64 },
    min: { type: 'number' },
    max: { type: 'number' },
  },
} as const;

/** Host facts: an object (the bot bounds its size separately). */
export const FACTS_SCHEMA = { type: 'object', maxProperties: 64 } as const;

/**
 * The results body. The envelope tolerates fields it does not know (a newer agent may send more; an older bot
 * must not refuse its results for that); each result is strict (an unknown field is refused by name).
 */
export const RESULTS_BODY_SCHEMA = {
  type: 'object',
  required: ['results'],
  properties: {
    results: {
      type: 'array',
      maxItems: 5000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'sensorId', 'at', 'status', 'output'],
        properties: {
          id: { type: 'string', minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' },
          sensorId: { type: 'integer', minimum: 1 },
          at: { type: 'integer', minimum: 0 },
          status: { type: 'integer', minimum: 0, maximum: 3 },
          output: { type: 'string', maxLength: 8000 },
          perfdata: { type: 'array', maxItems: 100, items: PERF_SCHEMA },
        },
      },
    },
    nodeId: { type: 'integer', minimum: 1 },
    dropped: { type: 'integer', minimum: 0 },
    clock: { type: 'integer', minimum: 0 },
    facts: FACTS_SCHEMA,
  },
} as const;
