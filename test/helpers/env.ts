// Where tests find the shared fixtures, the MariaDB test server and the built CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = process.env.SWITCHBOARD_FIXTURES ?? path.resolve(ROOT, '../shared/fixtures');
export const CLI = path.join(ROOT, 'bin/switchboard.js');

export function fixture(name: string): string {
  const p = path.join(FIXTURES, name);
  if (!fs.existsSync(p)) throw new Error(`fixture ${p} is missing (set SWITCHBOARD_FIXTURES or keep ../shared beside the repo)`);
  return p;
}

/** The MariaDB/MySQL server tests run against. CI exports SWITCHBOARD_TEST_MYSQL_URL; locally the machine's MariaDB. */
export function mysqlUrl(): string {
  return process.env.SWITCHBOARD_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
}

export function tmpDir(prefix = 'sb-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
