// No source file grows past 400 lines: a long module is split by purpose into cohesive modules with
// self-explaining names (docs/ARCHITECTURE.md, "Layout"). Every .ts file under src/, commands/, drivers/,
// migrations/ and bench/ is counted (test/ is not).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const FOLDERS = ['src', 'commands', 'drivers', 'migrations', 'bench'];
const MAX_LINES = 400;
function tsFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return tsFiles(rel);
    return e.isFile() && e.name.endsWith('.ts') ? [rel] : [];
  });
}

/** Lines as `wc -l` counts them (a final newline ends the last line, it does not start another). */
const lineCount = (text: string) => (text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0));
const linesOf = (file: string) => lineCount(fs.readFileSync(path.join(ROOT, file), 'utf8'));

const files = FOLDERS.flatMap(tsFiles);

describe('source file size', () => {
  it('counts lines as wc -l does', () => {
    expect([lineCount(''), lineCount('a'), lineCount('a\n'), lineCount('a\nb'), lineCount('a\n\nb\n')]).toEqual([0, 1, 1, 2, 3]);
  });

  it('finds the source files of every checked folder', () => {
    for (const f of FOLDERS)
      expect(
        files.some((x) => x.startsWith(`${f}/`)),
        f,
      ).toBe(true);
    expect(files).toEqual(expect.arrayContaining(['src/core/jobs.ts', 'commands/help.ts', 'bench/run.ts']));
    expect(files.some((f) => f.startsWith('test/'))).toBe(false);
  });

  it(`has no file over ${MAX_LINES} lines`, () => {
    const over = files.map((f) => ({ f, n: linesOf(f) })).filter(({ n }) => n > MAX_LINES);
    expect(over, `files over ${MAX_LINES} lines (split each by purpose):\n${over.map(({ f, n }) => `${f}: ${n} lines`).join('\n')}`).toEqual([]);
  });
});
