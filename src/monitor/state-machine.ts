// The soft/hard state machine of one sensor on one node, pure (no store, no clock of its own).
//
// Order: results are applied in ARRIVAL order (the order of a batch, batch after batch; the agent's spool
// sends them in the order they were produced). Result timestamps never reorder them. A result stamped
// earlier than the one the state already shows is "late": it is kept in history but does not move the
// state back. A state stamped further in the future than the allowed clock skew (a result accepted before
// future-dated results were refused, e.g. one stamped 2100) is not trusted for that comparison, so it
// cannot freeze the sensor.
//
// Soft/hard: a non-OK result is soft until `attempts` consecutive non-OK results; then the hard state is
// that status. OK is hard at once. Flapping: the last 20 statuses are kept; 6+ OK/non-OK flips among 10+
// mark the sensor flapping (it stays flapping while more than 3 flips remain); while flapping, transitions
// are marked so no new alert opens (an open one still resolves), and a flap ending in a problem state
// yields a transition so the alert opens then.

export interface SensorState {
  status: number;
  hard: number;
  attempt: number;
  /** Timestamp (the node's clock) of the last applied result. */
  at: number;
  /** The last 20 statuses, one digit each. */
  changes: string;
  flapping: boolean;
  output: string;
  perfdata: unknown[] | null;
}

export interface Observation {
  at: number;
  status: number;
  output: string;
  perfdata?: unknown[] | null;
}

export interface Transition {
  from: number;
  to: number;
  output: string;
  flapping: boolean;
}

export interface Advance {
  /** The new state, or null when no result was applied (all late). */
  state: SensorState | null;
  transitions: Transition[];
  /** Results not applied because they are older than the state. */
  late: number;
}

export interface AdvanceOptions {
  attempts: number;
  /** Server time now, and how far ahead of it a stored state may be and still be trusted. */
  now: number;
  maxFutureSkewMs: number;
}

const HISTORY = 20;

export function advance(prev: SensorState | null | undefined, results: Observation[], o: AdvanceOptions): Advance {
  const trusted = prev && prev.at <= o.now + o.maxFutureSkewMs ? prev.at : -Infinity;
  let status = prev?.status ?? 0;
  let hard = prev?.hard ?? 0;
  let attempt = prev?.attempt ?? 0;
  let changes = prev?.changes ?? '';
  let lastAt = trusted;
  let last: Observation | null = null;
  let late = 0;
  const transitions: Transition[] = [];
  for (const r of results) {
    if (r.at < lastAt) {
      late++;
      continue;
    }
    lastAt = r.at;
    last = r;
    changes = (changes + String(r.status)).slice(-HISTORY);
    attempt = r.status === 0 ? 0 : status !== 0 ? attempt + 1 : 1;
    status = r.status;
    const newHard = status === 0 ? 0 : attempt >= o.attempts ? status : hard;
    if (newHard !== hard) {
      transitions.push({ from: hard, to: newHard, output: r.output, flapping: false });
      hard = newHard;
    }
  }
  if (!last) return { state: null, transitions: [], late };
  let flips = 0;
  for (let i = 1; i < changes.length; i++) if ((changes[i] === '0') !== (changes[i - 1] === '0')) flips++;
  const flapping = (changes.length >= 10 && flips >= 6) || (!!prev?.flapping && flips > 3);
  for (const t of transitions) t.flapping = flapping;
  // A flap that ends in a problem state opens its alert now (none was opened while it flapped).
  if (prev?.flapping && !flapping && hard !== 0 && !transitions.length) transitions.push({ from: hard, to: hard, output: last.output, flapping: false });
  return {
    state: { status, hard, attempt, at: last.at, changes, flapping, output: last.output, perfdata: last.perfdata?.length ? last.perfdata : null },
    transitions,
    late,
  };
}
