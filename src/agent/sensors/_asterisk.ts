// `asterisk -rx <command>` for the Asterisk kinds (a helper, not a kind: files starting with _ are not loaded as kinds).
import type { SensorArg, SensorKit } from '../../wire/sensor-kind.js';
import type { AgentSensor, CheckResult } from '../../wire/results.js';

export const ASTERISK_ARG: SensorArg = { summary: 'the asterisk binary to run', agentOverride: true };

/** The command's output, or the UNKNOWN result when it timed out, failed to start or exited non-zero. */
export async function asteriskRx(s: AgentSensor, kit: SensorKit, command: string): Promise<{ stdout: string } | { failed: CheckResult }> {
  const r = await kit.run([...kit.splitWords(s.args.asterisk ?? 'asterisk'), '-rx', command], s.timeoutMs);
  if (!r.timedOut && !r.error && r.code === 0) return { stdout: r.stdout };
  const why = r.timedOut ? 'timed out' : (r.error ?? r.stderr).trim().slice(0, 200) || `exit ${r.code}`;
  return { failed: { status: 3, output: `ASTERISK UNKNOWN - ${why}`, perfdata: [] } };
}
