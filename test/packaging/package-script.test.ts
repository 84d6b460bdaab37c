// `npm run package` itself (dist/src/build/package.js, the script npm runs after the build), not only the
// functions it calls: with `--out-dir` it writes the single-file agent and the .deb into that folder, and the
// .deb is one dpkg-deb reads — its control fields, its files, and the very bundle written beside it. A wrong
// argument is refused with a message and exit 1, writing nothing. Needs dpkg-deb (failing without it in CI).
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { ROOT, tmpDir } from '../helpers/env.js';

const run = promisify(execFile);
const SCRIPT = path.join(ROOT, 'dist/src/build/package.js');

function hasDpkgDeb(): boolean {
  try {
    execFileSync('dpkg-deb', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const dpkg = hasDpkgDeb();
if (!dpkg && process.env.CI) throw new Error('the package test needs dpkg-deb (CI must install it: .ci/run)');

describe.skipIf(!dpkg)('npm run package (dist/src/build/package.js)', () => {
  const dir = tmpDir('sb-package-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--out-dir: writes switchboard-agent.mjs and the .deb there, and dpkg-deb reads the .deb', async () => {
    if (!fs.existsSync(SCRIPT)) throw new Error('dist/ is not built: run npm run build first (npm test does)');
    const out = path.join(dir, 'pkg');
    const r = await run(process.execPath, [SCRIPT, '--out-dir', out], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    const bundle = path.join(out, 'switchboard-agent.mjs');
    const deb = path.join(out, `switchboard-agent_${VERSION}_all.deb`);
    expect(r.stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${bundle.replace(/[.]/g, '\\.')} \\(\\d+ KiB, \\d+ modules\\)$`)), deb]);
    expect(fs.readdirSync(out).sort()).toEqual(['switchboard-agent.mjs', `switchboard-agent_${VERSION}_all.deb`]);
    expect(fs.statSync(bundle).mode & 0o777).toBe(0o755);
    expect(execFileSync(process.execPath, [bundle, '--version'], { encoding: 'utf8' }).trim()).toBe(VERSION);

    const info = execFileSync('dpkg-deb', ['--info', deb], { encoding: 'utf8' });
    expect(info).toMatch(/^ Package: switchboard-agent$/m);
    expect(info).toMatch(new RegExp(`^ Version: ${VERSION.replace(/\./g, '\\.')}$`, 'm'));
    expect(info).toMatch(/^ Architecture: all$/m);
    expect(info).toMatch(/^ Depends: nodejs \(>= 18\), adduser$/m);
    for (const s of ['postinst', 'prerm', 'postrm']) expect(info).toMatch(new RegExp(`^\\s+\\d+ bytes,\\s+\\d+ lines\\s+\\*\\s+${s}\\s`, 'm'));
    const contents = execFileSync('dpkg-deb', ['--contents', deb], { encoding: 'utf8' });
    for (const f of [
      './usr/bin/switchboard-agent',
      './usr/lib/switchboard-agent/switchboard-agent.mjs',
      './lib/systemd/system/switchboard-agent.service',
      './usr/share/switchboard-agent/agent.yaml.example',
    ])
      expect(contents).toContain(f);
    // The .deb carries the same bundle that was written beside it, and the unit from docs/systemd.
    const x = path.join(dir, 'x');
    execFileSync('dpkg-deb', ['-x', deb, x]);
    expect(fs.readFileSync(path.join(x, 'usr/lib/switchboard-agent/switchboard-agent.mjs')).equals(fs.readFileSync(bundle))).toBe(true);
    expect(fs.readFileSync(path.join(x, 'lib/systemd/system/switchboard-agent.service'), 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'docs/systemd/switchboard-agent.service'), 'utf8'));
  }, 180_000);

  it('refuses an unknown option or a missing folder with a message and exit 1, writing nothing', async () => {
    const out = path.join(dir, 'never');
    for (const [args, msg] of [
      [['--out', out], /^npm run package: Unknown option '--out'/],
      [['--out-dir'], /^npm run package: Option '--out-dir <value>' argument missing/],
      [[out], /^npm run package: Unexpected argument/],
    ] as const) {
      const e = await run(process.execPath, [SCRIPT, ...args], { cwd: dir, encoding: 'utf8' }).then(
        () => null,
        (err: { code: number; stderr: string }) => err,
      );
      expect(e?.code, args.join(' ')).toBe(1);
      expect(e?.stderr).toMatch(msg);
      expect(e?.stderr).not.toMatch(/\n\s+at /);
    }
    expect(fs.existsSync(out)).toBe(false);
  });
});
