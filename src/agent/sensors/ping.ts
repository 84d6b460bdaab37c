// Round-trip time and packet loss by the system's ping (/usr/bin/ping; `command=` only with allowCommands).
import type { SensorKind } from '../../wire/sensor-kind.js';

export const sensor: SensorKind = {
  name: 'ping',
  summary: 'round-trip time (ms) and packet loss (%) by ping; 100% loss is critical',
  runs: 'builtin',
  args: {
    host: { summary: 'host name or address', default: '127.0.0.1', pattern: '[A-Za-z0-9][A-Za-z0-9.:_-]*', patternHint: 'a host name or address' },
    count: { summary: 'echo requests per run', type: 'integer', minimum: 1, maximum: 99, default: '3' },
    warn: { summary: 'warning range for the round-trip time in ms', type: 'range' },
    crit: { summary: 'critical range for the round-trip time in ms', type: 'range' },
    lossWarn: { summary: 'warning range for the loss in %', type: 'range' },
    lossCrit: { summary: 'critical range for the loss in %', type: 'range' },
    command: { summary: 'the ping program to run instead of /usr/bin/ping', agentOverride: true },
  },
  async check(s, kit) {
    const a = s.args;
    const host = a.host ?? '127.0.0.1';
    const count = a.count ?? '3';
    // Host and count become single arguments of their own: neither can add options to ping.
    if (!/^[A-Za-z0-9][A-Za-z0-9.:_-]*$/.test(host)) return { status: 3, output: `PING UNKNOWN - host ${JSON.stringify(host.slice(0, 100))} is not a host name or address`, perfdata: [] };
    if (!/^\d{1,2}$/.test(count) || Number(count) < 1) return { status: 3, output: `PING UNKNOWN - count must be 1..99, not ${JSON.stringify(count.slice(0, 20))}`, perfdata: [] };
    const ping = a.command ? kit.splitWords(a.command) : ['/usr/bin/ping'];
    const r = await kit.run([...ping, '-n', '-q', '-c', count, '-i', '0.2', '-W', '1', host], s.timeoutMs);
    const loss = /(\d+(?:\.\d+)?)% packet loss/.exec(r.stdout);
    const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
    if (!loss) return { status: 3, output: `PING UNKNOWN - ${(r.error ?? r.stderr ?? r.stdout).trim().slice(0, 200)}`, perfdata: [] };
    const lossPct = Number(loss[1]);
    const ms = rtt ? Number(rtt[1]) : NaN;
    if (lossPct >= 100) return { status: 2, output: `PING CRITICAL - ${host} 100% loss`, perfdata: [{ label: 'pl', value: 100, uom: '%' }] };
    const st = Math.max(kit.statusFor(ms, a.warn, a.crit), kit.statusFor(lossPct, a.lossWarn, a.lossCrit)) as 0 | 1 | 2;
    return {
      status: st,
      output: `PING ${kit.label(st)} - ${host} rta ${ms} ms, loss ${lossPct}%`,
      perfdata: [
        { label: 'rta', value: ms, uom: 'ms', warn: a.warn, crit: a.crit, min: 0 },
        { label: 'pl', value: lossPct, uom: '%', min: 0, max: 100 },
      ],
    };
  },
};
