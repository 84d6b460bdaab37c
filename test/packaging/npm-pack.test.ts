// What the Dockerfile does, outside a container (none can run here): `npm pack` the built tree, install the
// tarball into an empty folder with --omit=dev (no TypeScript: a tarball install does not run `prepare`), start
// it there on a fresh data dir, /healthz answers 200. Packs with --ignore-scripts: `prepare` (the build) has run
// already and must not rebuild dist/ under the other tests. Dependencies come from npm's cache when there.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tmpDir } from '../helpers/env.js';

const run = promisify(execFile);

describe('npm pack → npm install --omit=dev → switchboard start', () => {
  const dir = tmpDir('sb-pack-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the packed tarball installs without dev dependencies and starts with /healthz 200', async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist/src/cli.js'))) throw new Error('dist/ is not built: run npm run build first (npm test does)');
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBe('npm run build');
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 << 20 });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['bin/switchboard.js', 'dist/src/cli.js', 'dist/src/config-validator.generated.cjs', 'docs/systemd/switchboard.service']));
    expect(files.some((f) => f.startsWith('dist/migrations/'))).toBe(true);
    expect(files.some((f) => f.startsWith('dist/commands/'))).toBe(true);
    expect(files.filter((f) => /^(src|test)\/|\.ts$|^dist\/packages\//.test(f))).toEqual([]);

    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, packed!.filename)], { cwd: app, maxBuffer: 64 << 20, timeout: 600_000 });
    expect(fs.existsSync(path.join(app, 'node_modules/typescript'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'node_modules/vitest'))).toBe(false);

    const data = path.join(dir, 'data');
    const child = spawn(path.join(app, 'node_modules/.bin/switchboard'), ['start'], {
      cwd: app,
      env: { PATH: process.env.PATH, HOME: dir, SWITCHBOARD_DATA_DIR: data, SWITCHBOARD_HTTP_HOST: '127.0.0.1', SWITCHBOARD_HTTP_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const t = setInterval(() => {
          const m = /Web console: (http:\/\/\S+)\/console/.exec(out);
          if (m) {
            clearInterval(t);
            resolve(m[1]!);
          }
        }, 100);
        child.once('close', (code) => {
          clearInterval(t);
          reject(new Error(`switchboard start exited with ${code}: ${out}`));
        });
      });
      const res = await fetch(`${url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
      expect(out).toContain(`Switchboard ${pkg.version} is running`);
      expect(fs.existsSync(path.join(data, 'switchboard.sqlite'))).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
  }, 900_000);
});
