// The ssh2 side of account renewal on a Linux PC: connect (key or bootstrap password) with host-key
// verification, install the bot's public key like ssh-copy-id, upload the deploy script by SFTP into a
// private `mktemp -d` directory and run it (as root, or through `sudo -n`), feeding "user:password" on its
// standard input so the password is never part of any command line.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import type * as Ssh2 from 'ssh2';
import { DEPLOY_SCRIPT, PASSWORD_SET_MARKER } from './linux-ssh-deploy.js';

export interface HostKeyInfo {
  keyType: string;
  fingerprint: string; // "SHA256:<base64>" as OpenSSH prints it
}

/** The host presented a key different from the pinned one. */
export class HostKeyMismatchError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly expected: string,
    readonly got: string,
  ) {
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
  /**
   * Decide on the presented host key, before any authentication is attempted: return (or resolve to) the
   * pinned fingerprint when it differs, or null to accept. A promise lets the caller store a first-contact
   * pin before the handshake goes on.
   */
  verifyHostKey(info: HostKeyInfo): string | null | Promise<string | null>;
}

export function connect(o: ConnectOptions): Promise<{ client: Client; hostKey: HostKeyInfo }> {
  return new Promise((resolve, reject) => {
    // ssh2 is loaded on the first connection, not at start-up.
    const { Client } = createRequire(import.meta.url)('ssh2') as typeof Ssh2;
    const client = new Client();
    let seen: HostKeyInfo | undefined;
    let mismatch: HostKeyMismatchError | undefined;
    let verifyError: Error | undefined;
    let settled = false;
    client.once('ready', () => {
      settled = true;
      resolve({ client, hostKey: seen! });
    });
    // Kept for the client's whole life: an 'error' after 'ready' (connection reset mid-command) must not
    // become an uncaught exception. Commands in flight see their channel close.
    client.on('error', (err: Error & { level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      if (mismatch) return reject(mismatch);
      if (verifyError) return reject(verifyError);
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
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        seen = fingerprintOf(key);
        const info = seen;
        Promise.resolve()
          .then(() => o.verifyHostKey(info))
          .then(
            (pinned) => {
              if (pinned) mismatch = new HostKeyMismatchError(o.host, o.port, pinned, info.fingerprint);
              verify(!pinned);
            },
            (e: Error) => {
              verifyError = new Error(`ssh ${o.host}:${o.port}: host key check failed: ${e.message}`);
              verify(false);
            },
          );
        return undefined;
      },
    });
  });
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  /** The local timeout fired: the channel was signalled (KILL) and closed; output is what arrived so far. */
  timedOut?: boolean;
}

/** Run a command; never rejects on a timeout (resolves with timedOut and the partial output instead). */
export function exec(client: Client, command: string, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err: Error | undefined, ch: ClientChannel) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      let done = false;
      const finish = (code: number | null, signal?: string) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        clearTimeout(t2);
        resolve({ code, signal, stdout, stderr, timedOut });
      };
      let t2: NodeJS.Timeout | undefined;
      const t = opts.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            try {
              ch.signal('KILL');
            } catch {
              /* the server may not support signals; closing the channel follows */
            }
            ch.close();
            t2 = setTimeout(() => finish(null), 2000); // the server never confirmed the close
          }, opts.timeoutMs)
        : undefined;
      ch.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      let exitInfo: { code: number | null; signal?: string } | undefined;
      ch.on('exit', (code: number | null, signal?: string) => (exitInfo = { code, signal }));
      ch.on('close', (code: number | null) => finish(exitInfo?.code ?? code ?? null, exitInfo?.signal));
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
  /** The SSH login user: the script never deletes it (nor root, nor system accounts). */
  sshUser: string;
  sudo: boolean;
  timeoutMs: number;
  onStep?(level: string, message: string): void;
}

export interface DeployOutcome {
  code: number | null;
  /**
   * 'yes': the script reported (marker line) that chpasswd succeeded — the password is live on the PC;
   * 'no': the script ended without reaching that point; 'unknown': the run was cut short (timeout, lost
   * connection, killed) before the marker arrived, so the password may be live.
   */
  passwordSet: 'yes' | 'no' | 'unknown';
  facts?: Record<string, unknown>;
  /** Why facts are missing (not printed, not JSON). */
  factsError?: string;
  steps: { level: string; message: string }[];
}

/** Grace after renew.timeoutMs for the PC's own `timeout` to kill the script and report, before we cut the channel. */
const DEPLOY_KILL_GRACE_MS = 8000;

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
    // `timeout` puts the script in its own process group and kills the whole group (chpasswd, userdel, …)
    // when the time is up; -k escalates to KILL. Our own timer only fires if the PC does not do it.
    const secs = Math.max(1, Math.ceil(o.timeoutMs / 1000));
    const cmd = `${o.sudo ? 'sudo -n ' : ''}timeout -k 5 ${secs} /bin/sh ${q(`${dir}/deploy.sh`)} ${q(o.account)} ${q(o.managedRe)} ${q(o.shell)} ${q(o.sshUser)}`;
    const r = await exec(client, cmd, { stdin: `${o.account}:${o.password}\n`, timeoutMs: o.timeoutMs + DEPLOY_KILL_GRACE_MS });
    let marker = false;
    const steps = r.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .flatMap((l) => {
        if (l === `${PASSWORD_SET_MARKER} ${o.account}`) {
          marker = true;
          return [];
        }
        const m = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/.exec(l);
        return [m ? { level: m[1]!, message: m[2]! } : { level: 'WARNING', message: l.slice(0, 500) }];
      });
    const killed = r.timedOut || r.code === null || r.code === 124 || r.code === 137;
    if (r.timedOut) steps.push({ level: 'ERROR', message: `the deploy script did not finish within ${o.timeoutMs + DEPLOY_KILL_GRACE_MS} ms: channel killed` });
    else if (r.code === 124 || r.code === 137) steps.push({ level: 'ERROR', message: `the deploy script ran out of time (${secs} s) and was killed on the PC` });
    else if (r.code === null) steps.push({ level: 'ERROR', message: `the deploy script ended without an exit status${r.signal ? ` (signal ${r.signal})` : ''}: connection lost?` });
    let facts: Record<string, unknown> | undefined;
    let factsError: string | undefined;
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (line.startsWith('{')) {
      try {
        const v = JSON.parse(line) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) facts = v as Record<string, unknown>;
        else factsError = 'the facts were not a JSON object';
      } catch {
        factsError = 'the facts were not valid JSON';
      }
    } else factsError = 'the script printed no facts';
    if (factsError) steps.push({ level: 'WARNING', message: factsError });
    for (const s of steps) o.onStep?.(s.level, s.message);
    return { code: r.code, passwordSet: marker ? 'yes' : killed ? 'unknown' : 'no', facts, factsError, steps };
  } finally {
    // The upload holds the deploy script: remove it, once more after a moment if the first try did not work
    // (a busy sshd can refuse a channel), and say so in the step log when it stays.
    const rm = () =>
      exec(client, `${o.sudo ? 'sudo -n ' : ''}rm -rf ${q(dir)}`, { timeoutMs: 15_000 }).then(
        (r) => r.code === 0,
        () => false,
      );
    if (!(await rm())) {
      await new Promise((r) => setTimeout(r, 500));
      if (!(await rm())) o.onStep?.('WARNING', `could not remove the upload directory ${dir} on the PC`);
    }
  }
}
