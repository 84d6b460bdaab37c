// A throw-away MariaDB database per test file: created on the test server, dropped afterwards.
import crypto from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { mysqlUrl } from './env.js';

export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(mysqlUrl());
  const name = `sb_test_${crypto.randomBytes(5).toString('hex')}`;
  const conn = await createConnection({ host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) });
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await conn.end();
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = await createConnection({ host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) });
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}
