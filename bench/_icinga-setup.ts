// The files of the bench's Icinga 2 instance (bench/_icinga.ts): where its tools are, whom it runs as, its
// throw-away CA and API certificate, and its config (API listener and user, passive hosts × services).
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The name Icinga knows itself by: its endpoint, zone and certificate CN. */
export const NODE_NAME = 'switchboard-bench';
export const API_USER = 'switchboard-bench';

/** An executable on PATH or in sbin (not on every user's PATH), or null when its package is not installed. */
export function findTool(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Who Icinga runs as: itself when we are not root; root hands it to the package's `nagios` account. */
export async function runAs(): Promise<{ user: string; group: string; uid: number; gid: number }> {
  const id = async (...args: string[]) => (await run('id', args)).stdout.trim();
  if (process.getuid!() !== 0) return { user: await id('-un'), group: await id('-gn'), uid: process.getuid!(), gid: process.getgid!() };
  try {
    return { user: await id('-un', 'nagios'), group: await id('-gn', 'nagios'), uid: Number(await id('-u', 'nagios')), gid: Number(await id('-g', 'nagios')) };
  } catch {
    throw new Error("icinga2: running as root but there is no 'nagios' user to run Icinga 2 as (the icinga2 package creates it)");
  }
}

export function chownTree(p: string, uid: number, gid: number): void {
  fs.chownSync(p, uid, gid);
  if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p)) chownTree(path.join(p, f), uid, gid);
}

/**
 * A throw-away CA and the API's certificate (CN and DNS name NODE_NAME), both P-256: `icinga2 pki` makes
 * 4096-bit RSA keys, which took 2–12 s on the shared bench machine, this takes ~0.2 s. The CA key lives in
 * `pkiDir`, outside Icinga's DataDir/ca (else Icinga considers itself the CA and tries to renew with it), and is
 * deleted once the certificate is signed.
 * Returns the CA certificate (PEM).
 */
export async function makeCerts(openssl: string, pkiDir: string, certDir: string): Promise<string> {
  const ssl = async (...args: string[]) => {
    try {
      await run(openssl, args);
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`openssl ${args[0]} failed: ${err.stderr?.trim() || err.message}`);
    }
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caCrt = path.join(certDir, 'ca.crt');
  const caKey = path.join(pkiDir, 'ca.key');
  const csr = path.join(pkiDir, `${NODE_NAME}.csr`);
  const ext = path.join(pkiDir, 'server.ext');
  fs.writeFileSync(
    ext,
    `basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth, clientAuth\nsubjectAltName = DNS:${NODE_NAME}\n`,
  );
  await Promise.all([
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      caKey,
      '-out',
      caCrt,
      '-days',
      '30',
      '-subj',
      '/CN=Switchboard bench CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ),
    ssl('req', ...ec, '-keyout', path.join(certDir, `${NODE_NAME}.key`), '-out', csr, '-subj', `/CN=${NODE_NAME}`),
  ]);
  const serial = `0x${crypto.randomBytes(8).toString('hex')}`;
  await ssl('x509', '-req', '-in', csr, '-CA', caCrt, '-CAkey', caKey, '-set_serial', serial, '-days', '30', '-extfile', ext, '-out', path.join(certDir, `${NODE_NAME}.crt`));
  fs.rmSync(caKey);
  return fs.readFileSync(caCrt, 'utf8');
}

export function icingaConfig(port: number, password: string, hosts: number, servicesPerHost: number): string {
  return `// Written by Switchboard's bench (bench/_icinga.ts) for one run; removed when it stops.
include <itl>

object Endpoint NodeName { }
object Zone ZoneName { endpoints = [ NodeName ] }

object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = ${port}
  accept_config = false
  accept_commands = false
}

object ApiUser "${API_USER}" {
  password = ${JSON.stringify(password)}
  permissions = [ "actions/process-check-result", "objects/query/Host", "objects/query/Service", "objects/query/ApiListener", "status/query" ]
}

object FileLogger "main-log" {
  severity = "warning"
  path = LogDir + "/icinga2.log"
}

template Host "bench-host" {
  check_command = "dummy"
  enable_active_checks = false
  enable_passive_checks = true
}

template Service "bench-service" {
  check_command = "dummy"
  enable_active_checks = false
  enable_passive_checks = true
}

for (h in range(1, ${hosts + 1})) {
  object Host "h" + h use (h) { import "bench-host" }
  for (s in range(1, ${servicesPerHost + 1})) {
    object Service "s" + s use (h) { import "bench-service"; host_name = "h" + h }
  }
}
`;
}
