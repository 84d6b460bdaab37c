// Both systemd units (docs/systemd: the agent's, which the .deb installs, and the bot's) pass
// `systemd-analyze verify` with no warning about them. verify also checks that ExecStart's program exists, so
// each is checked as a copy whose program is a stand-in executable; everything else is the file as shipped.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tmpDir } from '../helpers/env.js';

const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).stdout.trim();
if (!analyze && process.env.CI) throw new Error('systemd-analyze is missing (apt-get install systemd)');

describe.skipIf(!analyze)('systemd units', () => {
  for (const name of ['switchboard-agent.service', 'switchboard.service']) {
    it(`${name} passes systemd-analyze verify`, () => {
      const unit = fs.readFileSync(path.join(ROOT, 'docs/systemd', name), 'utf8');
      const dir = tmpDir('sb-unit-');
      try {
        const exe = path.join(dir, 'program');
        fs.writeFileSync(exe, '#!/bin/sh\n', { mode: 0o755 });
        const m = /^ExecStart=(\S+)/m.exec(unit);
        expect(m, 'ExecStart=').toBeTruthy();
        const file = path.join(dir, name);
        fs.writeFileSync(file, unit.replace(/^ExecStart=\S+/m, `ExecStart=${exe}`));
        const r = spawnSync(analyze, ['verify', file], { encoding: 'utf8' });
        const about = (r.stderr + r.stdout).split('\n').filter((l) => l.includes(name) || l.includes(file));
        expect(about).toEqual([]);
        expect(r.status).toBe(0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
