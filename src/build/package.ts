// `npm run package`: the agent as one file (switchboard-agent.mjs) and its .deb, both in dist/packages/, or in
// the folder `--out-dir <dir>` names (`npm run package -- --out-dir /tmp/pkg`). Run after `npm run build` (the
// script does both).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { bundleAgent } from './bundle-agent.js';
import { buildDeb } from './deb.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
/** A path as the user reads it best: relative inside the clone, absolute elsewhere. */
const shown = (p: string) => (path.relative(root, p).startsWith('..') ? p : path.relative(root, p));
try {
  const { values } = parseArgs({ options: { 'out-dir': { type: 'string' } }, allowPositionals: false });
  if (values['out-dir'] === '') throw new Error('--out-dir needs a folder');
  const outDir = path.resolve(values['out-dir'] ?? path.join(root, 'dist/packages'));
  const b = await bundleAgent({ root, outfile: path.join(outDir, 'switchboard-agent.mjs'), version });
  process.stdout.write(`${shown(b.file)} (${Math.round(b.bytes / 1024)} KiB, ${b.inputs.length} modules)\n`);
  const deb = buildDeb({ root, bundle: b.file, version, outDir });
  process.stdout.write(`${shown(deb)}\n`);
} catch (e) {
  process.stderr.write(`npm run package: ${(e as Error).message}\n`);
  process.exit(1);
}
