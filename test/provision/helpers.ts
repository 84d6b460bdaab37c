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
export const FIXTURE_PASSWORDS = ['Xp4!rT9wq2', 'K8#mq2Lzv7', 'Zr7$wq1Nb4', 'Tq9%ab3Cd1', 'Senha#2001x', 'Senha#2002y', 'Senha#2003z', 'Pw!3001abcd', 'Pw!3002abcd', 'Pw#6001abcd', 'Pw#6002abcd', 'Pw#1101abcd', 'Pw#1102abcd', 'Pw#1103abcd'];
