// Renewal sweep figures: a /24 on loopback with a few listeners, and a /24 of silent hosts inside a network
// namespace this bench creates (a dummy interface swallows every packet), each beside nmap -sn and fping -g
// on the same range. No packet leaves 127.0.0.0/8 or the bench's own namespace.
import net from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expandNetwork, sweep } from '../src/renew/scanner.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function sh(cmd: string, args: string[], timeoutMs = 90_000): Promise<{ ms: number; code: number; stdout: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ ms: Math.round(performance.now() - t0), code: typeof code === 'number' ? code : 1, stdout: String(stdout) });
    });
  });
}

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

export async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const TIMEOUT = 1000;
  const CONC = 256;

  // 1. Loopback /24 with listeners on five addresses.
  const port = 20000 + Math.floor(Math.random() * 20000);
  const listeners = [10, 20, 30, 40, 50].map((o) => `127.0.1.${o}`);
  const servers = await Promise.all(
    listeners.map(
      (host) =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer((c) => c.destroy());
          s.once('error', reject);
          s.listen(port, host, () => resolve(s));
        }),
    ),
  );
  try {
    const hosts = expandNetwork('127.0.1.0/24').hosts;
    await sweep(hosts.slice(0, 10), port, { concurrency: CONC, timeoutMs: TIMEOUT }); // warm-up
    const r = await sweep(hosts, port, { concurrency: CONC, timeoutMs: TIMEOUT });
    const nmap = await sh('nmap', ['-sn', '-n', '127.0.1.0/24']);
    const nmapPort = await sh('nmap', ['-n', '-Pn', '-p', String(port), '--open', '127.0.1.0/24']);
    const fping = await sh('fping', ['-a', '-q', '-r', '0', '-t', String(TIMEOUT), '-g', '127.0.1.0/24']);
    out.loopback_24 = {
      hosts: hosts.length,
      port,
      listeners: listeners.length,
      switchboard_ms: Math.round(r.ms),
      switchboard_open: r.open.length,
      nmap_sn_ms: nmap.ms,
      nmap_sn_up: count(nmap.stdout, /Host is up/g),
      nmap_port_ms: nmapPort.ms,
      nmap_port_open: count(nmapPort.stdout, /\d+\/tcp\s+open/g),
      fping_ms: fping.ms,
      fping_alive: fping.stdout.trim().split('\n').filter(Boolean).length,
    };
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }

  // 2. Silent /24 inside a namespace of our own. 10.99.0.0/24 exists only there: it is routed through one end
  // of a veth pair (both ends inside the namespace) to a neighbour with a permanent, unused MAC, so every SYN
  // / ping is delivered to the other end as "not for this host" and silently dropped (no ARP, no replies).
  const ns = `sb-bench-renew-${process.pid}`;
  const ip = (...a: string[]) => sh('ip', a, 10_000);
  const setup = [
    ['netns', 'add', ns],
    ['-n', ns, 'link', 'set', 'lo', 'up'],
    ['-n', ns, 'link', 'add', 'sb0', 'type', 'veth', 'peer', 'name', 'sb1'],
    ['-n', ns, 'addr', 'add', '10.98.0.1/30', 'dev', 'sb0'],
    ['-n', ns, 'link', 'set', 'sb0', 'up'],
    ['-n', ns, 'link', 'set', 'sb1', 'up'],
    ['-n', ns, 'neigh', 'add', '10.98.0.2', 'lladdr', '02:00:5e:00:53:02', 'dev', 'sb0', 'nud', 'permanent'],
    ['-n', ns, 'route', 'add', '10.99.0.0/24', 'via', '10.98.0.2', 'dev', 'sb0'],
  ];
  try {
    for (const a of setup) {
      const r = await ip(...a);
      if (r.code !== 0) throw new Error(`ip ${a.join(' ')} failed (root and iproute2 are needed)`);
    }
    const child = await sh('ip', ['netns', 'exec', ns, process.execPath, path.join(here, '_renew-sweep.js'), '10.99.0.0/24', '22', String(TIMEOUT), String(CONC)]);
    const res = JSON.parse(child.stdout || '{}') as { ms?: number; open?: number; hosts?: number };
    // nmap's defaults wait ~90 s on a silent /24; give it the same 1 s budget and no retries.
    const nmap = await sh('ip', ['netns', 'exec', ns, 'nmap', '-sn', '-n', '-T4', '--max-retries', '0', '--max-rtt-timeout', `${TIMEOUT}ms`, '10.99.0.0/24']);
    const fping = await sh('ip', ['netns', 'exec', ns, 'fping', '-a', '-q', '-r', '0', '-t', String(TIMEOUT), '-g', '10.99.0.0/24']);
    out.silent_24 = {
      hosts: res.hosts,
      per_host_timeout_ms: TIMEOUT,
      concurrency: CONC,
      switchboard_ms: res.ms,
      switchboard_open: res.open,
      target_ms: 5000,
      within_target: (res.ms ?? Infinity) < 5000,
      nmap_sn_T4_retries0_ms: nmap.ms,
      nmap_sn_up: count(nmap.stdout, /Host is up/g),
      fping_ms: fping.ms,
      fping_alive: fping.stdout.trim().split('\n').filter(Boolean).length,
    };
  } finally {
    await ip('netns', 'del', ns);
  }
  return out;
}
