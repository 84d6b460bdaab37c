// The agent's checks: any Nagios plugin command line, and built-ins that follow the same API
// (status 0..3, one line of text, perfdata). Built-ins take warn/crit thresholds in Nagios range syntax.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { parsePluginOutput, type Perf } from './perfdata.js';
import { statusFor } from './range.js';

export interface SensorDef {
  id: number;
  name: string;
  kind: string;
  args: Record<string, string>;
  intervalMs: number;
  timeoutMs: number;
}

export interface CheckResult {
  status: 0 | 1 | 2 | 3;
  output: string;
  perfdata: Perf[];
}

const LABEL = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

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

/** Run a command with a hard timeout; on timeout the whole process group is killed. */
export function runCommand(cmdline: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean; error?: string }> {
  return new Promise((resolve) => {
    const words = splitWords(cmdline);
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

function judge(name: string, value: number, args: Record<string, string>, text: string, perf: Perf[]): CheckResult {
  const status = statusFor(value, args.warn, args.crit);
  return { status, output: `${name} ${LABEL[status]} - ${text}`, perfdata: perf };
}

function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

async function tcpConnect(host: string, port: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.end();
      resolve();
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
  return (performance.now() - t0) / 1000;
}

/** Parse `pjsip show registrations` or chan_sip `sip show registry` output into trunk states. */
export function parseRegistrations(text: string): { name: string; state: string }[] {
  const out: { name: string; state: string }[] = [];
  for (const line of text.split('\n')) {
    // pjsip: " <Registration/ServerURI..............................>  <Auth....................>  <Status.......>"
    //        " trunk-out/sip:sip.example.com:5060                      trunk-auth                  Registered (exp. 3542s)"
    const pj = /^\s*(\S+?)\/(sip:\S+)\s+(?:\S+\s+)?(Registered|Unregistered|Rejected|Failed|Stopped|Retrying|Sent)\b/i.exec(line);
    if (pj) {
      out.push({ name: pj[1]!, state: pj[3]! });
      continue;
    }
    // chan_sip: "Host                                    dnsmgr Username       Refresh State                Reg.Time"
    //           "sip.example.com:5060                    N      1001             105 Registered           Sat, 21 Nov 2026 10:00:00"
    const cs = /^\s*(\S+:\d+)\s+[YN]\s+(\S+)\s+\d+\s+(Registered|Unregistered|Request Sent|Auth\. Sent|Rejected|No Authentication|Failed|Timeout)/i.exec(line);
    if (cs) out.push({ name: `${cs[2]}@${cs[1]}`, state: cs[3]! });
  }
  return out;
}

export async function runBuiltin(s: SensorDef): Promise<CheckResult> {
  const a = s.args;
  switch (s.kind) {
    case 'disk': {
      const p = a.path ?? '/';
      const st = await fs.promises.statfs(p);
      const total = st.blocks * st.bsize;
      const free = st.bavail * st.bsize;
      const usedPct = total ? +(((total - free) / total) * 100).toFixed(2) : 0;
      return judge('DISK', usedPct, a, `${p} ${usedPct}% used, ${(free / 2 ** 30).toFixed(1)} GiB free`, [{ label: p, value: usedPct, uom: '%', warn: a.warn, crit: a.crit, min: 0, max: 100 }]);
    }
    case 'memory':
    case 'swap': {
      const m = meminfo();
      const total = s.kind === 'memory' ? m.MemTotal ?? 0 : m.SwapTotal ?? 0;
      const free = s.kind === 'memory' ? m.MemAvailable ?? 0 : m.SwapFree ?? 0;
      const pct = total ? +(((total - free) / total) * 100).toFixed(2) : 0;
      return judge(s.kind.toUpperCase(), pct, a, `${pct}% used of ${(total / 2 ** 20).toFixed(0)} MiB`, [{ label: `${s.kind}_used`, value: pct, uom: '%', warn: a.warn, crit: a.crit, min: 0, max: 100 }]);
    }
    case 'load': {
      const [l1, l5, l15] = os.loadavg() as [number, number, number];
      const v = a.per === '5' ? l5 : a.per === '15' ? l15 : l1;
      return judge('LOAD', v, a, `load average: ${l1.toFixed(2)}, ${l5.toFixed(2)}, ${l15.toFixed(2)}`, [
        { label: 'load1', value: +l1.toFixed(2), warn: a.warn, crit: a.crit, min: 0 },
        { label: 'load5', value: +l5.toFixed(2), min: 0 },
        { label: 'load15', value: +l15.toFixed(2), min: 0 },
      ]);
    }
    case 'uptime': {
      const up = Math.round(os.uptime());
      return judge('UPTIME', up, a, `up ${(up / 86400).toFixed(1)} days`, [{ label: 'uptime', value: up, uom: 's', warn: a.warn, crit: a.crit }]);
    }
    case 'process': {
      const name = a.name ?? 'asterisk';
      let n = 0;
      for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
          if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name) n++;
        } catch {
          /* gone */
        }
      }
      return judge('PROCS', n, { ...a, crit: a.crit ?? '1:' }, `${n} process(es) named ${name}`, [{ label: 'procs', value: n, warn: a.warn, crit: a.crit ?? '1:', min: 0 }]);
    }
    case 'tcp': {
      const host = a.host ?? '127.0.0.1';
      const port = Number(a.port);
      try {
        const sec = await tcpConnect(host, port, s.timeoutMs);
        return judge('TCP', sec, a, `${host}:${port} connected in ${(sec * 1000).toFixed(1)} ms`, [{ label: 'time', value: +sec.toFixed(6), uom: 's', warn: a.warn, crit: a.crit, min: 0 }]);
      } catch (e) {
        return { status: 2, output: `TCP CRITICAL - ${host}:${port}: ${(e as Error).message}`, perfdata: [] };
      }
    }
    case 'ping': {
      const host = a.host ?? '127.0.0.1';
      const count = a.count ?? '3';
      const r = await runCommand(`${a.command ?? '/usr/bin/ping'} -n -q -c ${count} -i 0.2 -W 1 ${host}`, s.timeoutMs);
      const loss = /(\d+(?:\.\d+)?)% packet loss/.exec(r.stdout);
      const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
      if (!loss) return { status: 3, output: `PING UNKNOWN - ${(r.error ?? r.stderr ?? r.stdout).trim().slice(0, 200)}`, perfdata: [] };
      const lossPct = Number(loss[1]);
      const ms = rtt ? Number(rtt[1]) : NaN;
      if (lossPct >= 100) return { status: 2, output: `PING CRITICAL - ${host} 100% loss`, perfdata: [{ label: 'pl', value: 100, uom: '%' }] };
      const st = Math.max(statusFor(ms, a.warn, a.crit), statusFor(lossPct, a.lossWarn, a.lossCrit)) as 0 | 1 | 2;
      return { status: st, output: `PING ${LABEL[st]} - ${host} rta ${ms} ms, loss ${lossPct}%`, perfdata: [{ label: 'rta', value: ms, uom: 'ms', warn: a.warn, crit: a.crit, min: 0 }, { label: 'pl', value: lossPct, uom: '%', min: 0, max: 100 }] };
    }
    case 'sip-registrations':
    case 'asterisk-channels':
    case 'asterisk-uptime': {
      const ast = a.asterisk ?? 'asterisk';
      const cmd =
        s.kind === 'sip-registrations' ? (a.driver === 'sip' ? 'sip show registry' : 'pjsip show registrations') : s.kind === 'asterisk-channels' ? 'core show channels count' : 'core show uptime seconds';
      const r = await runCommand(`${ast} -rx "${cmd}"`, s.timeoutMs);
      if (r.timedOut || r.error || r.code !== 0) return { status: 3, output: `ASTERISK UNKNOWN - ${r.timedOut ? 'timed out' : (r.error ?? r.stderr).trim().slice(0, 200) || `exit ${r.code}`}`, perfdata: [] };
      if (s.kind === 'sip-registrations') {
        const regs = parseRegistrations(r.stdout);
        const bad = regs.filter((x) => !/^registered$/i.test(x.state));
        const ok = regs.length - bad.length;
        const st = (regs.length === 0 ? 3 : bad.length ? 2 : 0) as 0 | 2 | 3;
        const text = regs.length === 0 ? 'no registrations found' : bad.length ? `${bad.map((b) => `${b.name} ${b.state}`).join(', ')}; ${ok}/${regs.length} registered` : `${ok}/${regs.length} registered`;
        return { status: st, output: `SIP ${LABEL[st]} - ${text}`, perfdata: [{ label: 'registered', value: ok, min: 0, max: regs.length }, { label: 'unregistered', value: bad.length, min: 0 }] };
      }
      if (s.kind === 'asterisk-channels') {
        const m = /(\d+) active channels?/.exec(r.stdout);
        const c = /(\d+) active calls?/.exec(r.stdout);
        if (!m) return { status: 3, output: 'ASTERISK UNKNOWN - cannot parse channel count', perfdata: [] };
        const n = Number(m[1]);
        return judge('CHANNELS', n, a, `${n} active channels, ${c ? c[1] : '?'} active calls`, [{ label: 'channels', value: n, warn: a.warn, crit: a.crit, min: 0 }, { label: 'calls', value: Number(c?.[1] ?? 0), min: 0 }]);
      }
      const m = /System uptime:\s*(\d+)/.exec(r.stdout);
      if (!m) return { status: 3, output: 'ASTERISK UNKNOWN - cannot parse uptime', perfdata: [] };
      const up = Number(m[1]);
      return judge('ASTERISK UPTIME', up, a, `up ${up}s`, [{ label: 'uptime', value: up, uom: 's', warn: a.warn, crit: a.crit }]);
    }
    default:
      return { status: 3, output: `UNKNOWN - unknown sensor kind ${s.kind}`, perfdata: [] };
  }
}

export async function runCheck(s: SensorDef): Promise<CheckResult> {
  try {
    if (s.kind === 'nagios') return await runNagios(s.args.command ?? '', s.timeoutMs);
    return await Promise.race([
      runBuiltin(s),
      new Promise<CheckResult>((r) => setTimeout(() => r({ status: 3, output: `UNKNOWN - check timed out after ${s.timeoutMs / 1000}s`, perfdata: [] }), s.timeoutMs + 1000).unref()),
    ]);
  } catch (e) {
    return { status: 3, output: `UNKNOWN - ${(e as Error).message}`, perfdata: [] };
  }
}
