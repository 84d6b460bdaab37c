// Where tests find the fixtures, the MariaDB test server and the built CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The repository's own fixtures (test/fixtures/README.md); every test's exact figures come from these. */
export const FIXTURES = path.join(ROOT, 'test/fixtures');
export const CLI = path.join(ROOT, 'bin/switchboard.js');

export function fixture(name: string): string {
  const p = path.join(FIXTURES, name);
  if (!fs.existsSync(p)) throw new Error(`fixture ${p} is missing from the repository`);
  return p;
}

/**
 * The shared fixtures folder for the extra check in test/shared-fixtures.test.ts: $SWITCHBOARD_SHARED_FIXTURES
 * (which must then exist), else ../shared/fixtures beside the repository when it is there, else undefined.
 */
export function sharedFixtures(): string | undefined {
  const set = process.env.SWITCHBOARD_SHARED_FIXTURES;
  if (set) {
    if (!fs.existsSync(set)) throw new Error(`SWITCHBOARD_SHARED_FIXTURES=${set} does not exist`);
    return path.resolve(set);
  }
  const beside = path.resolve(ROOT, '../shared/fixtures');
  return fs.existsSync(beside) ? beside : undefined;
}

/** The MariaDB/MySQL server tests run against. CI exports SWITCHBOARD_TEST_MYSQL_URL; locally the machine's MariaDB. */
export function mysqlUrl(): string {
  return process.env.SWITCHBOARD_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
}

export function tmpDir(prefix = 'sb-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
