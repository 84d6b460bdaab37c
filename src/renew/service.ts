// Renewal service: the bot's SSH key pair, the bootstrap credential, and the per-host renewal flow
// (TOFU host key → key or bootstrap → deploy script → inventory).
import fs from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import ssh2 from 'ssh2';
import type { App } from '../app-types.js';
import { forgetSecret, registerSecret, scrub } from '../secrets.js';
import { UndeliveredPasswords } from './undelivered.js';
import { UserError } from '../core/command.js';
import { connect, deploy, installPublicKey, AuthFailedError, HostKeyMismatchError, type HostKeyInfo } from '../../drivers/targets/linux-ssh.js';
import { Inventory, type Level } from './inventory.js';
import { generatePassword } from './passwords.js';
import { accountName, managedRegex, readBootstrapPassword, type RenewConfig } from './config.js';
import { checkAllowed, probe } from './scanner.js';
import { parseMac } from '../util/mac.js';

export type HostStatus = 'ok' | 'warning' | 'failed' | 'refused' | 'dry-run';

export interface HostOutcome {
  host: string;
  port: number;
  requestId: number;
  /** 'warning': the account was renewed (the password is live and in `password`) but a later step failed. */
  status: HostStatus;
  account?: string;
  /**
   * Only in memory, for the requester's DM and user sheet; never stored or returned in job data. Set as soon
   * as the password may be live on the PC, whatever fails afterwards. Registered with the scrubber until
   * `release()`.
   */
  password?: string;
  mac?: string;
  hostname?: string;
  facts?: Record<string, unknown>;
  error?: string;
  /** Problems after the password was set (no password in them). */
  warnings: string[];
  keyStep?: 'skipped' | 'present' | 'deployed';
}

/**
 * Record a problem on a host's outcome: scrubbed (the host's password is still registered while this runs),
 * added to its warnings, an 'ok' host becomes 'warning', and the line goes to the host's step log.
 */
export async function noteProblem(inv: Inventory, out: HostOutcome, msg: string, level: Level = 'WARNING'): Promise<void> {
  const m = scrub(msg);
  out.warnings.push(m);
  if (out.status === 'ok') out.status = 'warning';
  await inv.log(out.requestId, level, m).catch(() => undefined);
}

export class RenewService {
  readonly inventory: Inventory;
  /** Passwords whose direct message failed, until `renew resend` (memory only, 24 h). */
  readonly undelivered = new UndeliveredPasswords();
  private keys?: { privateKey: string; publicKey: string };

  constructor(private app: App) {
    this.inventory = new Inventory(app.db);
  }

  get cfg(): RenewConfig {
    return this.app.config.renew;
  }

  /** The bot's key pair, generated on first use into <dataDir>/renew/ (private key mode 0600). */
  keyPair(): { privateKey: string; publicKey: string } {
    if (this.keys) return this.keys;
    const dir = path.join(this.app.config.dataDir, 'renew');
    const priv = path.join(dir, 'id_ed25519');
    const pub = `${priv}.pub`;
    if (!fs.existsSync(priv)) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const kp = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'switchboard-renew' });
      fs.writeFileSync(priv, kp.private, { mode: 0o600 });
      fs.writeFileSync(pub, `${kp.public}\n`, { mode: 0o644 });
      this.app.log.info({ path: pub }, 'renew: generated the SSH key pair');
    }
    fs.chmodSync(priv, 0o600);
    this.keys = { privateKey: fs.readFileSync(priv, 'utf8'), publicKey: fs.readFileSync(pub, 'utf8').trim() };
    registerSecret(this.keys.privateKey);
    return this.keys;
  }

  private bootstrapPassword(): string | undefined {
    const f = this.cfg.bootstrap.passwordFile;
    if (!f) return undefined;
    let pw: string;
    try {
      pw = readBootstrapPassword(f);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    registerSecret(pw);
    return pw;
  }

  /** Drop a delivered password from the scrubber (call once the job has handed it out). */
  release(o: Pick<HostOutcome, 'password'>): void {
    if (o.password) forgetSecret(o.password);
  }

  /** Renew one host. Never throws: failures end up in the outcome and the request's step log. */
  async renewHost(host: string, port: number, o: { jobId: number | null; requester: string; dryRun?: boolean }): Promise<HostOutcome> {
    const inv = this.inventory;
    const requestId = await inv.newRequest(host, port, o.jobId, o.requester);
    const log = (level: Level, msg: string) => inv.log(requestId, level, msg).catch(() => undefined);
    const out: HostOutcome = { host, port, requestId, status: 'failed', warnings: [] };
    const warn = (msg: string) => noteProblem(inv, out, msg); // job results carry these
    const user = this.cfg.ssh.user;
    let client: import('ssh2').Client | undefined;
    try {
      await log('INFO', `renewal of ${host}:${port} requested by ${o.requester}${o.dryRun ? ' (dry run)' : ''}`);
      // The service checks the allow list itself, whoever calls it.
      checkAllowed([host], this.cfg.allow, host);
      const pinned = await inv.pinned(host, port);
      const hostNumber = Number(host.split('.').pop()) || 0;
      const account = accountName(this.cfg.accountPattern, this.cfg.site, hostNumber, randomInt(10000));
      if (o.dryRun) {
        const st = await probe(host, port, Math.min(this.cfg.timeoutMs, 5000));
        const known = await inv.pcByIp(host);
        const text = `port ${port} ${st}; host key ${pinned ? `pinned ${pinned.fingerprint}` : 'not pinned yet (would be pinned on first contact)'}; ${known ? `known PC ${known.mac} (${known.hostname})` : 'unknown PC (bootstrap key step)'}; would create ${account} and remove accounts matching ${managedRegex(this.cfg)}`;
        await log('INFO', `dry run: ${text}`);
        await inv.finishRequest(requestId, 'dry-run', { account, detail: text });
        return { ...out, status: 'dry-run', account, error: undefined };
      }
      // Trust on first use, for the whole run: the first key any connection sees is pinned (stored) before
      // that connection authenticates; every later connection of this run must present the same key.
      let pin: string | undefined = pinned?.fingerprint;
      const verifyHostKey = async (k: HostKeyInfo): Promise<string | null> => {
        if (!pin) {
          pin = await inv.pinFirst(host, port, k.keyType, k.fingerprint);
          if (pin === k.fingerprint) await log('INFO', `host key pinned on first contact (TOFU): ${k.keyType} ${k.fingerprint}`);
        }
        return pin === k.fingerprint ? null : pin;
      };
      const { privateKey, publicKey } = this.keyPair();
      const known = await inv.pcByIp(host);
      let hostKey: HostKeyInfo;
      try {
        ({ client, hostKey } = await connect({ host, port, username: user, privateKey, timeoutMs: this.cfg.timeoutMs, verifyHostKey }));
        if (known?.key_ok) {
          out.keyStep = 'skipped';
          await log('INFO', `PC ${known.mac} is inventoried and the bot's key works: key step skipped`);
        } else {
          out.keyStep = 'present';
          await log('INFO', "the bot's key is already installed (as ssh-copy-id checks first): nothing to deploy");
        }
      } catch (e) {
        if (!(e instanceof AuthFailedError)) throw e;
        if (known?.key_ok) {
          await inv.setKeyOk(known.mac, false);
          await log('WARNING', `the bot's key stopped working on PC ${known.mac}: marked as not installed`);
        }
        await log('WARNING', `the bot's key is not accepted by ${user}@${host}: deploying it with the bootstrap credential`);
        const pw = this.bootstrapPassword();
        if (!pw) throw new UserError('the PC does not accept the bot key and renew.bootstrap.passwordFile is not set');
        const boot = await connect({ host, port, username: user, password: pw, timeoutMs: this.cfg.timeoutMs, verifyHostKey });
        try {
          const r = await installPublicKey(boot.client, publicKey);
          await log('INFO', r === 'added' ? `public key appended to ~${user}/.ssh/authorized_keys` : 'public key was already in authorized_keys');
        } finally {
          boot.client.end();
        }
        ({ client, hostKey } = await connect({ host, port, username: user, privateKey, timeoutMs: this.cfg.timeoutMs, verifyHostKey }));
        out.keyStep = 'deployed';
        await log('INFO', 'connected with the bot key');
      }
      await inv.pin(host, port, hostKey.keyType, hostKey.fingerprint); // last_seen
      if (pinned) await log('DEBUG', `host key matches the pinned ${hostKey.fingerprint}`);
      const password = generatePassword(this.cfg.passwordPolicy);
      registerSecret(password);
      let res: Awaited<ReturnType<typeof deploy>>;
      let problems = '';
      try {
        await log('INFO', `renewing: new account ${account}; managed accounts match ${managedRegex(this.cfg)}`);
        res = await deploy(client, {
          account,
          password,
          managedRe: managedRegex(this.cfg),
          shell: this.cfg.shell,
          sshUser: user,
          sudo: user !== 'root',
          timeoutMs: this.cfg.timeoutMs,
          onStep: (level, message) => void log(level as Level, `[pc] ${message}`),
        });
        problems = res.steps.filter((s) => s.level === 'CRITICAL' || s.level === 'ERROR').map((s) => s.message).join('; ');
        if (res.passwordSet === 'no') {
          throw new Error(`deploy script failed before setting the password (exit ${res.code}): ${problems || 'no details'}`);
        }
        // From here on the password may be live on the PC: it stays in the outcome whatever fails next.
        out.account = account;
        out.password = password;
      } finally {
        // Not handed out (deploy threw, or the script never set it): off the scrubber's list at once.
        if (out.password !== password) forgetSecret(password);
      }
      if (res.passwordSet === 'unknown') await warn(`the deploy script was cut short before confirming the password of ${account}; it may be set — the password is sent anyway`);
      else await log('INFO', `password of ${account} set on the PC`);
      if (res.code !== 0) await warn(`the deploy script failed after the password was set (exit ${res.code ?? 'none'})${problems ? `: ${problems}` : ''}`);
      else if (problems) await warn(`the PC reported errors: ${problems}`);
      const f = res.facts;
      if (!f) {
        await warn(`no facts from the PC (${res.factsError ?? 'none'}): the inventory was not updated`);
      } else {
        out.facts = f;
        out.hostname = String(f.hostname ?? '');
        const reported = String(f.mac ?? '');
        const mac = parseMac(reported);
        if (!mac) {
          await warn(`the PC reported no usable MAC address ("${reported.slice(0, 40)}"): not recorded in the inventory and no label (set MAC= in /etc/switchboard/facts.env on the PC)`);
        } else {
          if (known && known.mac !== mac) await warn(`${host} was PC ${known.mac} in the inventory; it is now ${mac}`);
          try {
            await inv.recordRenewal({ mac, hostname: out.hostname, ip: host, port, facts: f, account, hostKeyFp: hostKey.fingerprint, requestId });
            out.mac = mac;
            await log('INFO', `inventory updated: ${account} on ${out.hostname} (${mac})`);
          } catch (e) {
            await warn(`recording the renewal in the inventory failed: ${(e as Error).message}`);
          }
        }
      }
      out.status = out.warnings.length ? 'warning' : 'ok';
      await log(out.status === 'ok' ? 'INFO' : 'WARNING', out.status === 'ok' ? `done: ${account}` : `renewed with warnings: ${account}`);
      await inv.finishRequest(requestId, out.status, { mac: out.mac ?? null, account, detail: out.warnings.join('; ') || null }).catch(() => undefined);
      return out;
    } catch (e) {
      const err = e as Error;
      if (out.password) {
        // A failure after the password went live never loses it.
        await warn(`after the password was set: ${err.message}`);
        await inv.finishRequest(requestId, 'warning', { mac: out.mac ?? null, account: out.account ?? null, detail: out.warnings.join('; ') }).catch(() => undefined);
        return { ...out, status: 'warning' };
      }
      if (err instanceof HostKeyMismatchError) {
        await log('CRITICAL', err.message);
        await inv.finishRequest(requestId, 'refused', { detail: err.message }).catch(() => undefined);
        return { ...out, status: 'refused', error: err.message };
      }
      await log(err instanceof UserError ? 'ERROR' : 'CRITICAL', err.message);
      await inv.finishRequest(requestId, 'failed', { detail: err.message }).catch(() => undefined);
      return { ...out, status: 'failed', error: err.message };
    } finally {
      client?.end();
    }
  }
}

declare module '../app-types.js' {
  interface Services {
    renew: RenewService;
  }
}
