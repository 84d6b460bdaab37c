// The small unified line diff `provision diff` shows: hunks with three lines of context, line numbers that
// patch(1) reads, CRLF files, additions at the end, equal texts giving nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitLines, unifiedDiff } from '../src/util/line-diff.js';
import { tmpDir } from './helpers/env.js';

const lines = (n: number, f = (i: number) => `line ${i}`) => Array.from({ length: n }, (_, i) => f(i + 1)).join('\n') + '\n';

describe('unifiedDiff', () => {
  it('is empty for equal texts, whatever their line endings', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', { from: 'x', to: 'y' })).toBe('');
    expect(unifiedDiff('a\r\nb\r\n', 'a\nb\n', { from: 'x', to: 'y' })).toBe('');
    expect(splitLines('')).toEqual([]);
    expect(splitLines('a\r\nb')).toEqual(['a', 'b']);
  });

  it('shows a changed line with three lines of context and the right line numbers', () => {
    const a = lines(10);
    const b = a.replace('line 5\n', 'line five\n');
    expect(unifiedDiff(a, b, { from: 'a.cfg', to: 'b.cfg' })).toBe(
      ['--- a.cfg', '+++ b.cfg', '@@ -2,7 +2,7 @@', ' line 2', ' line 3', ' line 4', '-line 5', '+line five', ' line 6', ' line 7', ' line 8'].join('\n'),
    );
  });

  it('keeps distant changes in separate hunks, joins near ones, and shows additions at the end', () => {
    const a = lines(30);
    const b = a.replace('line 2\n', 'line two\n').replace('line 6\n', '').replace('line 25\n', 'line 25\nnew after 25\n') + 'appended\n';
    const d = unifiedDiff(a, b, { from: 'a', to: 'b' });
    expect(d.split('\n').filter((l) => l.startsWith('@@'))).toEqual(['@@ -1,9 +1,8 @@', '@@ -23,8 +22,10 @@']);
    expect(d).toContain('-line 2\n+line two\n');
    expect(d).toContain('-line 6\n');
    expect(d).toContain(' line 25\n+new after 25\n');
    expect(d.endsWith(' line 30\n+appended')).toBe(true);
  });

  it('is a patch that patch(1) applies', () => {
    const dir = tmpDir();
    try {
      const a = lines(40, (i) => (i % 7 === 0 ? `key.${i} = 0` : `key.${i} = ${i}`));
      const b = a.replace('key.7 = 0', 'key.7 = 1').replace('key.21 = 0\n', '').replace('key.33 = 33\n', 'key.33 = 33\nextra = 1\n') + 'last = 1\n';
      fs.writeFileSync(path.join(dir, 'f.cfg'), a);
      fs.writeFileSync(path.join(dir, 'f.diff'), `${unifiedDiff(a, b, { from: 'f.cfg', to: 'f.cfg' })}\n`);
      execFileSync('patch', ['-s', 'f.cfg', 'f.diff'], { cwd: dir });
      expect(fs.readFileSync(path.join(dir, 'f.cfg'), 'utf8')).toBe(b);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('diffs from and to nothing', () => {
    expect(unifiedDiff('', 'a\nb\n', { from: '/dev/null', to: 'n' })).toBe('--- /dev/null\n+++ n\n@@ -0,0 +1,2 @@\n+a\n+b');
    expect(unifiedDiff('a\n', '', { from: 'o', to: '/dev/null' })).toBe('--- o\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-a');
  });
});
