// The ssh2 side of account renewal on a Linux PC: connect (key or bootstrap password) with host-key
// verification, install the bot's public key like ssh-copy-id, upload the deploy script by SFTP into a
// private `mktemp -d` directory and run it (as root, or through `sudo -n`), feeding "user:password" on its
// standard input so the password is never part of any command line.
import { createHash } from 'node:crypto';
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { DEPLOY_SCRIPT } from './linux-ssh-deploy.js';

export interface HostKeyInfo {
  keyType: string;
  fingerprint: string; // "SHA256:<base64>" as OpenSSH prints it
}

/** The host presented a key different from the pinned one. */
export class HostKeyMismatchError extends Error {
  constructor(readonly host: string, readonly port: number, readonly expected: string, readonly got: string) {
    super(`host key of ${host}:${port} CHANGED — pinned ${expected}, presented ${got}; refusing to connect (if the PC was reinstalled, remove the pin with \`renew forget ${host}\`)`);
    this.name = 'HostKeyMismatchError';
  }
}

export class AuthFailedError extends Error {
  constructor(host: string, method: string) {
    super(`${method} authentication refused by ${host}`);
    this.name = 'AuthFailedError';
  }
}

export function fingerprintOf(key: Buffer): HostKeyInfo {
  const len = key.readUInt32BE(0);
  const keyType = key.subarray(4, 4 + len).toString('latin1');
  return { keyType, fingerprint: `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}` };
}

export interface ConnectOptions {
  host: string;
  port: number;
  username: string;
  privateKey?: string;
  password?: string;
  timeoutMs: number;
  /** Decide on the presented host key: return the pinned fingerprint when it differs, or null to accept. */
  verifyHostKey(info: HostKeyInfo): string | null;
}

export function connect(o: ConnectOptions): Promise<{ client: Client; hostKey: HostKeyInfo }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let seen: HostKeyInfo | undefined;
    let mismatch: HostKeyMismatchError | undefined;
    client.once('ready', () => resolve({ client, hostKey: seen! }));
    client.once('error', (err: Error & { level?: string }) => {
      client.end();
      if (mismatch) return reject(mismatch);
      if (err.level === 'client-authentication') return reject(new AuthFailedError(`${o.host}:${o.port}`, o.privateKey ? 'key' : 'password'));
      reject(new Error(`ssh ${o.host}:${o.port}: ${err.message}`));
    });
    client.connect({
      host: o.host,
      port: o.port,
      username: o.username,
      privateKey: o.privateKey,
      password: o.password,
      readyTimeout: o.timeoutMs,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        seen = fingerprintOf(key);
        const pinned = o.verifyHostKey(seen);
        if (pinned) {
          mismatch = new HostKeyMismatchError(o.host, o.port, pinned, seen.fingerprint);
          return false;
        }
        return true;
      },
    });
  });
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function exec(client: Client, command: string, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err: Error | undefined, ch: ClientChannel) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      const t = opts.timeoutMs ? setTimeout(() => { ch.close(); reject(new Error(`remote command timed out after ${opts.timeoutMs} ms`)); }, opts.timeoutMs) : undefined;
      ch.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      ch.on('close', (code: number | null) => {
        clearTimeout(t);
        resolve({ code, stdout, stderr });
      });
      if (opts.stdin !== undefined) ch.end(opts.stdin);
      else ch.end();
    });
  });
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Append the public key to ~/.ssh/authorized_keys unless it is already there (like ssh-copy-id). */
export async function installPublicKey(client: Client, publicKey: string): Promise<'added' | 'present'> {
  const line = publicKey.trim();
  const cmd = `umask 077; mkdir -p "$HOME/.ssh" && touch "$HOME/.ssh/authorized_keys" && if grep -qxF -- ${q(line)} "$HOME/.ssh/authorized_keys"; then echo present; else printf '%s\\n' ${q(line)} >> "$HOME/.ssh/authorized_keys" && echo added; fi`;
  const r = await exec(client, cmd, { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`installing the key failed (exit ${r.code}): ${r.stderr.trim().slice(0, 200)}`);
  return r.stdout.includes('added') ? 'added' : 'present';
}

function sftpOf(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err: Error | undefined, s: SFTPWrapper) => (err ? reject(err) : resolve(s))));
}

function sftpWrite(s: SFTPWrapper, path: string, data: string): Promise<void> {
  return new Promise((resolve, reject) => s.writeFile(path, data, { mode: 0o700 }, (err: Error | null | undefined) => (err ? reject(err) : resolve())));
}

export interface DeployOptions {
  account: string;
  password: string;
  managedRe: string;
  shell: string;
  sudo: boolean;
  timeoutMs: number;
  onStep?(level: string, message: string): void;
}

export interface DeployOutcome {
  ok: boolean;
  code: number | null;
  facts?: Record<string, unknown>;
  steps: { level: string; message: string }[];
  tmpDir: string;
}

/** Upload and run the deploy script; the temporary directory is removed afterwards in every case. */
export async function deploy(client: Client, o: DeployOptions): Promise<DeployOutcome> {
  const mk = await exec(client, 'umask 077; mktemp -d "${TMPDIR:-/tmp}/sb-renew.XXXXXXXX"', { timeoutMs: 15_000 });
  const dir = mk.stdout.trim();
  if (mk.code !== 0 || !dir.startsWith('/')) throw new Error(`mktemp -d failed on the PC (exit ${mk.code}): ${mk.stderr.trim().slice(0, 200)}`);
  o.onStep?.('DEBUG', `private directory ${dir}`);
  try {
    const sftp = await sftpOf(client);
    try {
      await sftpWrite(sftp, `${dir}/deploy.sh`, DEPLOY_SCRIPT);
    } finally {
      sftp.end();
    }
    o.onStep?.('DEBUG', `deploy script uploaded (${DEPLOY_SCRIPT.length} bytes)`);
    const cmd = `${o.sudo ? 'sudo -n ' : ''}/bin/sh ${q(`${dir}/deploy.sh`)} ${q(o.account)} ${q(o.managedRe)} ${q(o.shell)}`;
    const r = await exec(client, cmd, { stdin: `${o.account}:${o.password}\n`, timeoutMs: o.timeoutMs });
    const steps = r.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const m = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/.exec(l);
        return m ? { level: m[1]!, message: m[2]! } : { level: 'WARNING', message: l.slice(0, 500) };
      });
    for (const s of steps) o.onStep?.(s.level, s.message);
    let facts: Record<string, unknown> | undefined;
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (line.startsWith('{')) {
      try {
        facts = JSON.parse(line) as Record<string, unknown>;
      } catch {
        o.onStep?.('ERROR', 'facts were not valid JSON');
      }
    }
    return { ok: r.code === 0 && !!facts, code: r.code, facts, steps, tmpDir: dir };
  } finally {
    await exec(client, `${o.sudo ? 'sudo -n ' : ''}rm -rf ${q(dir)}`, { timeoutMs: 15_000 }).catch(() => undefined);
  }
}
