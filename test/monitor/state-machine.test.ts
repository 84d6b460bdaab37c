// The sensor state machine alone (no store): soft/hard states, arrival order, late results, a state stamped
// in the far future (a result accepted before future-dated ones were refused) that must not freeze a sensor,
// and flapping.
import { describe, expect, it } from 'vitest';
import { advance, type Observation, type SensorState } from '../../src/monitor/state-machine.js';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const opts = (attempts = 3) => ({ attempts, now: NOW, maxFutureSkewMs: 300_000 });
let t = NOW - 3_600_000;
const r = (status: number, at = (t += 1000)): Observation => ({ at, status, output: `s${status}@${at}` });

/** Feed results one batch at a time; returns the final state and every transition. */
function run(batches: Observation[][], attempts = 3, start: SensorState | null = null) {
  let st = start;
  const transitions: { from: number; to: number }[] = [];
  let late = 0;
  for (const b of batches) {
    const a = advance(st, b, opts(attempts));
    st = a.state ?? st;
    late += a.late;
    transitions.push(...a.transitions.map(({ from, to }) => ({ from, to })));
  }
  return { st: st!, transitions, late };
}

describe('sensor state machine', () => {
  it('is soft until `attempts` non-OK results in a row, then hard; OK is hard at once', () => {
    const { st, transitions } = run([[r(2), r(2)], [r(2)], [r(0)]]);
    expect(transitions).toEqual([
      { from: 0, to: 2 },
      { from: 2, to: 0 },
    ]);
    expect(st).toMatchObject({ status: 0, hard: 0, attempt: 0, changes: '2220' });
    const soft = run([[r(1), r(1)]]).st;
    expect(soft).toMatchObject({ status: 1, hard: 0, attempt: 2 });
  });

  it('follows arrival order: a batch is applied as sent, not re-sorted by timestamps', () => {
    // The node's clock stepped back by 2 s inside a batch: CRITICAL (t), then OK stamped earlier. In arrival
    // order the OK came after the CRITICAL, so it is late and the state stays CRITICAL.
    const at = (t += 10_000);
    const a = advance(null, [r(2, at), r(0, at - 2000)], opts(1));
    expect(a.state).toMatchObject({ status: 2, hard: 2, at });
    expect(a.late).toBe(1);
  });

  it('a late (older) result never rewinds the state, and is counted', () => {
    const first = run([[r(2), r(2), r(2)]]);
    expect(first.st.hard).toBe(2);
    const old = advance(first.st, [r(0, first.st.at - 60_000)], opts());
    expect(old.state).toBeNull();
    expect(old.late).toBe(1);
    expect(old.transitions).toEqual([]);
  });

  it('a state stamped in 2100 does not freeze the sensor: the next real results apply', () => {
    const frozen: SensorState = { status: 2, hard: 2, attempt: 5, at: Date.UTC(2100, 0, 1), changes: '22222', flapping: false, output: 'from the future', perfdata: null };
    const a = advance(frozen, [r(0, NOW - 1000)], opts());
    expect(a.state).toMatchObject({ status: 0, hard: 0, at: NOW - 1000 });
    expect(a.transitions).toEqual([{ from: 2, to: 0, output: `s0@${NOW - 1000}`, flapping: false }]);
    // Within the allowed skew a state's time is trusted (results after it in time order still apply).
    const near: SensorState = { ...frozen, at: NOW + 60_000 };
    expect(advance(near, [r(0, NOW)], opts()).state).toBeNull();
  });

  it('marks flapping, opens nothing while it flaps, and opens when a flap ends in a problem', () => {
    const flap = run([[0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2].map((s) => r(s))], 1);
    expect(flap.st.flapping).toBe(true);
    const during = advance(flap.st, [r(2)], opts(1));
    expect(during.transitions.every((x) => x.flapping)).toBe(true);
    const settled = run([Array.from({ length: 20 }, () => r(2))], 1, flap.st);
    expect(settled.st.flapping).toBe(false);
    expect(settled.transitions.at(-1)).toEqual({ from: 2, to: 2 });
  });
});
