import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingFile } from '../../src/core/types.js';
import { SUBNETS } from '../dhcp/helpers.js';
import { fixture as fixturePath } from '../helpers/env.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const GOLDEN = path.resolve(HERE, 'golden');

/** The settings the golden files were rendered with. */
export const PROV: Record<string, unknown> = {
  'provision.url': 'http://10.20.0.5:8080/provision/',
  'provision.ntpServer': 'pool.ntp.org',
  'provision.timezone': 'America/Sao_Paulo',
  'provision.adminPassword': 'Adm1n!pass',
  'provision.defaultServer': 'pbx.example.lan',
  'dhcp.subnets': SUBNETS,
};

export function file(name: string, data: Buffer | string): IncomingFile {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return { name, size: buf.length, fetch: async () => buf };
}

export function fixture(name: string): IncomingFile {
  return file(name, fs.readFileSync(fixturePath(name)));
}

export function golden(dir: string, name: string): Buffer {
  return fs.readFileSync(path.join(GOLDEN, dir, name));
}

/** Every SIP password in the fixture sheets, to prove none leaks. */
export const FIXTURE_PASSWORDS = [
  'Vt6@pL3nq8',
  'H5#ws9Kdx2',
  'Qm3$zr8Fy6',
  'Bn2%tc7Gv5',
  'Ac#2521vMx',
  'Ac#2522wNy',
  'Ac#2523xPz',
  'Mx!2631abcd',
  'Mx!2632abcd',
  'Pv#2741abcd',
  'Pv#2742abcd',
  'Tz5#2411kq',
  'Tz5#2412kq',
  'Tz5#2413kq',
];
