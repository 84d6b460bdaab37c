// Commands parse arguments, call services and format replies: no command file queries the store itself. (File
// size: test/source-size.test.ts; a long family is split by purpose into <family>-<part>.ts files.)
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = path.resolve(import.meta.dirname, '../commands');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.ts'));
const text = (f: string) => fs.readFileSync(path.join(DIR, f), 'utf8');

describe('commands/', () => {
  it('has command files to check', () => {
    expect(files).toEqual(expect.arrayContaining(['monitor.ts', 'provision.ts', 'help.ts']));
  });

  it('runs no store query of its own (selectFrom, insertInto, updateTable, deleteFrom, sql`…`, Kysely)', () => {
    const raw = /\.(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\(|\bsql`|\bsql\.|from '[^']*(kysely|store\/db)\.js'/;
    expect(
      files.filter((f) =>
        text(f)
          .split('\n')
          .some((l) => raw.test(l)),
      ),
    ).toEqual([]);
  });
});
