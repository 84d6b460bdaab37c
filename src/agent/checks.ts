// Running a sensor: its kind's check (src/agent/sensors/<kind>.ts) with the kit the agent gives every check —
// programs run without a shell under a hard timeout that kills the whole process group, Nagios plugins read
// by the plugin API, thresholds in Nagios range syntax — bounded by the sensor's timeout, never throwing.
import { spawn } from 'node:child_process';
import { parsePluginOutput } from '../wire/perfdata.js';
import { statusFor } from '../wire/range.js';
import { STATUS_LABELS, type AgentSensor, type CheckResult } from '../wire/results.js';
import type { CommandResult, SensorKit } from '../wire/sensor-kind.js';
import type { SensorKinds } from '../wire/sensor-kinds.js';
import { AGENT_KINDS } from './kinds.js';

export type { CommandResult } from '../wire/sensor-kind.js';

/** Split a command line into words (single/double quotes, backslash escapes); no shell involved. */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q: string | null = null;
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      any = true;
    } else if (c === '\\' && i + 1 < s.length) cur += s[++i];
    else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = '';
      any = false;
    } else cur += c;
  }
  if (cur || any) out.push(cur);
  return out;
}

/** Run a command line (split into words, no shell) with a hard timeout. */
export function runCommand(cmdline: string, timeoutMs: number): Promise<CommandResult> {
  return runArgv(splitWords(cmdline), timeoutMs);
}

/** Run a program with its arguments (no shell) with a hard timeout; on timeout the whole process group is killed. */
export function runArgv(words: string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    if (!words.length) return resolve({ code: null, stdout: '', stderr: '', timedOut: false, error: 'empty command' });
    const child = spawn(words[0]!, words.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => {
      if (stdout.length < 65536) stdout += d;
    });
    child.stderr.on('data', (d) => {
      if (stderr.length < 65536) stderr += d;
    });
    const t = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: null, stdout, stderr, timedOut, error: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

export async function runNagios(cmdline: string, timeoutMs: number): Promise<CheckResult> {
  const r = await runCommand(cmdline, timeoutMs);
  if (r.timedOut) return { status: 3, output: `UNKNOWN - plugin timed out after ${timeoutMs / 1000}s`, perfdata: [] };
  if (r.error) return { status: 3, output: `UNKNOWN - ${r.error}`, perfdata: [] };
  const code = r.code ?? 3;
  const parsed = parsePluginOutput(r.stdout || r.stderr);
  return { status: (code >= 0 && code <= 3 ? code : 3) as CheckResult['status'], output: parsed.output || `(no output, exit ${code})`, perfdata: parsed.perfdata };
}

/** What every check is given. */
export const kit: SensorKit = {
  run: runArgv,
  runPlugin: runNagios,
  splitWords,
  statusFor,
  judge(name, value, args, text, perfdata) {
    const status = statusFor(value, args.warn, args.crit);
    return { status, output: `${name} ${STATUS_LABELS[status]} - ${text}`, perfdata };
  },
  label: (status) => STATUS_LABELS[status],
};

/** One run of a sensor by its kind's check; a check that throws or outlives the sensor's timeout (+1 s) is UNKNOWN. */
export async function runCheck(s: AgentSensor, kinds: SensorKinds = AGENT_KINDS): Promise<CheckResult> {
  const kind = kinds.get(s.kind);
  if (!kind) return { status: 3, output: `UNKNOWN - unknown sensor kind ${s.kind}`, perfdata: [] };
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      kind.check(s, kit),
      new Promise<CheckResult>((r) => {
        timer = setTimeout(() => r({ status: 3, output: `UNKNOWN - check timed out after ${s.timeoutMs / 1000}s`, perfdata: [] }), s.timeoutMs + 1000);
        timer.unref();
      }),
    ]);
    // What the bot would refuse (and the agent then drop) is reported as UNKNOWN instead.
    const ok = r && [0, 1, 2, 3].includes(r.status) && typeof r.output === 'string' && Array.isArray(r.perfdata);
    return ok ? r : { status: 3, output: `UNKNOWN - the ${s.kind} check gave no {status 0..3, output, perfdata} result`, perfdata: [] };
  } catch (e) {
    return { status: 3, output: `UNKNOWN - ${(e as Error).message}`, perfdata: [] };
  } finally {
    clearTimeout(timer);
  }
}
