// Helper for bench/renew.ts, run inside a network namespace (`ip netns exec … node dist/bench/_renew-sweep.js
// <network> <port> <timeoutMs> <concurrency>`): sweeps and prints {ms, open, hosts} as JSON.
import { expandNetwork, sweep } from '../src/renew/scanner.js';

const [network, port, timeoutMs, concurrency] = process.argv.slice(2);
const t = expandNetwork(network!);
const r = await sweep(t.hosts, Number(port), { timeoutMs: Number(timeoutMs), concurrency: Number(concurrency) });
process.stdout.write(JSON.stringify({ ms: Math.round(r.ms), open: r.open.length, hosts: t.hosts.length }));
