// `npm run bench [area…]`: runs every bench/<area>.ts module (compiled to dist/bench) and prints one JSON
// document of figures. Each module exports `run(): Promise<Record<string, unknown>>`. Each area runs in a
// fresh Node process, so one area's heap and open handles cannot slow the next one's load generator.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const self = fileURLToPath(import.meta.url);
const dir = path.dirname(self);

if (process.argv[2] === '--area') {
  // Child: one area, its figures as JSON on stdout.
  const area = process.argv[3]!;
  const mod = (await import(pathToFileURL(path.join(dir, `${area}.js`)).href)) as { run(): Promise<Record<string, unknown>> };
  const figures = await mod.run();
  process.stdout.write(JSON.stringify(figures));
  process.exit(0);
}

const wanted = process.argv.slice(2);
const areas = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .map((f) => f.replace(/\.js$/, ''))
  .filter((a) => wanted.length === 0 || wanted.includes(a))
  .sort();
const unknown = wanted.filter((w) => !areas.includes(w));
if (unknown.length) {
  process.stderr.write(`bench: no such area: ${unknown.join(', ')}\n`);
  process.exit(2);
}

function runArea(area: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [self, '--area', area], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    child.on('close', (code) => {
      try {
        if (code === 0) return resolve(JSON.parse(out) as Record<string, unknown>);
      } catch {
        /* fall through */
      }
      const last = err.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
      resolve({ error: `exited ${code}${last ? `: ${last}` : ''}` });
    });
  });
}

const out: Record<string, unknown> = { node: process.version, cpus: os.cpus().length, at: new Date().toISOString() };
let failed = false;
for (const area of areas) {
  process.stderr.write(`bench: ${area}…\n`);
  const figures = await runArea(area);
  if ('error' in figures) failed = true;
  out[area] = figures;
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
process.exit(failed ? 1 : 0);
