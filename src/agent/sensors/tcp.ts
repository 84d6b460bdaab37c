// Time to open a TCP connection; a refused or timed-out connection is critical.
import net from 'node:net';
import type { SensorKind } from '../../wire/sensor-kind.js';

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

export const sensor: SensorKind = {
  name: 'tcp',
  summary: 'time to open a TCP connection, in seconds (refused: critical)',
  runs: 'builtin',
  args: {
    host: { summary: 'host name or address', default: '127.0.0.1' },
    port: { summary: 'TCP port', type: 'integer', minimum: 1, maximum: 65535, required: true },
    warn: { summary: 'warning range in seconds', type: 'range' },
    crit: { summary: 'critical range in seconds', type: 'range' },
  },
  async check(s, kit) {
    const a = s.args;
    const host = a.host ?? '127.0.0.1';
    const port = Number(a.port);
    try {
      const sec = await tcpConnect(host, port, s.timeoutMs);
      return kit.judge('TCP', sec, a, `${host}:${port} connected in ${(sec * 1000).toFixed(1)} ms`, [{ label: 'time', value: +sec.toFixed(6), uom: 's', warn: a.warn, crit: a.crit, min: 0 }]);
    } catch (e) {
      return { status: 2, output: `TCP CRITICAL - ${host}:${port}: ${(e as Error).message}`, perfdata: [] };
    }
  },
};
