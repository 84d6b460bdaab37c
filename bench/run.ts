// `npm run bench [area…]`: runs every bench/<area>.ts module (compiled to dist/bench) and prints one JSON
// document of figures. Each module exports `run(): Promise<Record<string, unknown>>`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.js$/, '')))
  .sort();

const out: Record<string, unknown> = { node: process.version, cpus: (await import('node:os')).cpus().length, at: new Date().toISOString() };
let failed = false;
for (const f of files) {
  const area = f.replace(/\.js$/, '');
  process.stderr.write(`bench: ${area}…\n`);
  try {
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { run(): Promise<Record<string, unknown>> };
    out[area] = await mod.run();
  } catch (e) {
    failed = true;
    out[area] = { error: (e as Error).message };
  }
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
process.exit(failed ? 1 : 0);
