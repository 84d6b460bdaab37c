// Renewal service: the bot's SSH key pair, the bootstrap credential, and the per-host renewal flow
// (TOFU host key → key or bootstrap → deploy script → inventory).
import fs from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import ssh2 from 'ssh2';
import type { App } from '../app-types.js';
import { registerSecret } from '../secrets.js';
import { UserError } from '../core/command.js';
import { connect, deploy, installPublicKey, AuthFailedError, HostKeyMismatchError, type HostKeyInfo } from '../../drivers/targets/linux-ssh.js';
import { Inventory, type Level } from './inventory.js';
import { generatePassword } from './passwords.js';
import { accountName, managedRegex, type RenewConfig } from './config.js';
import { probe } from './scanner.js';

export interface HostOutcome {
  host: string;
  port: number;
  requestId: number;
  status: 'ok' | 'failed' | 'refused' | 'dry-run';
  account?: string;
  /** Only in memory, for the requester's DM and user sheet; never stored or returned in job data. */
  password?: string;
  mac?: string;
  facts?: Record<string, unknown>;
  error?: string;
  keyStep?: 'skipped' | 'deployed';
}

export class RenewService {
  readonly inventory: Inventory;
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
      pw = fs.readFileSync(f, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new UserError(`cannot read renew.bootstrap.passwordFile ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!pw) throw new UserError(`renew.bootstrap.passwordFile ${f} is empty`);
    registerSecret(pw);
    return pw;
  }

  /** Renew one host. Never throws: failures end up in the outcome and the request's step log. */
  async renewHost(host: string, port: number, o: { jobId: number | null; requester: string; dryRun?: boolean }): Promise<HostOutcome> {
    const inv = this.inventory;
    const requestId = await inv.newRequest(host, port, o.jobId, o.requester);
    const log = (level: Level, msg: string) => inv.log(requestId, level, msg).catch(() => undefined);
    const out: HostOutcome = { host, port, requestId, status: 'failed' };
    const user = this.cfg.ssh.user;
    let client: import('ssh2').Client | undefined;
    try {
      await log('INFO', `renewal of ${host}:${port} requested by ${o.requester}${o.dryRun ? ' (dry run)' : ''}`);
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
      const verifyHostKey = (k: HostKeyInfo) => (pinned && pinned.fingerprint !== k.fingerprint ? pinned.fingerprint : null);
      const { privateKey, publicKey } = this.keyPair();
      const known = await inv.pcByIp(host);
      let hostKey: HostKeyInfo;
      try {
        ({ client, hostKey } = await connect({ host, port, username: user, privateKey, timeoutMs: this.cfg.timeoutMs, verifyHostKey }));
        out.keyStep = 'skipped';
        await log('INFO', known?.key_ok ? `PC ${known.mac} is inventoried and the bot's key works: key step skipped` : "the bot's key already works: key step skipped");
      } catch (e) {
        if (!(e instanceof AuthFailedError)) throw e;
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
      if (!pinned) {
        await inv.pin(host, port, hostKey.keyType, hostKey.fingerprint);
        await log('INFO', `host key pinned on first contact (TOFU): ${hostKey.keyType} ${hostKey.fingerprint}`);
      } else {
        await inv.pin(host, port, hostKey.keyType, hostKey.fingerprint);
        await log('DEBUG', `host key matches the pinned ${hostKey.fingerprint}`);
      }
      const password = generatePassword(this.cfg.passwordPolicy);
      registerSecret(password);
      await log('INFO', `renewing: new account ${account}; managed accounts match ${managedRegex(this.cfg)}`);
      const res = await deploy(client, {
        account,
        password,
        managedRe: managedRegex(this.cfg),
        shell: this.cfg.shell,
        sudo: user !== 'root',
        timeoutMs: this.cfg.timeoutMs,
        onStep: (level, message) => void log(level as Level, `[pc] ${message}`),
      });
      if (!res.ok || !res.facts) throw new Error(`deploy script failed (exit ${res.code}): ${res.steps.filter((s) => s.level === 'CRITICAL' || s.level === 'ERROR').map((s) => s.message).join('; ') || 'no facts returned'}`);
      const f = res.facts;
      const mac = String(f.mac ?? '').toLowerCase();
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) throw new Error(`the PC reported no usable MAC address ("${mac}")`);
      await inv.recordRenewal({ mac, hostname: String(f.hostname ?? ''), ip: host, port, facts: f, account, hostKeyFp: hostKey.fingerprint, requestId });
      await log('INFO', `done: ${account} on ${f.hostname} (${mac}); inventory updated`);
      await inv.finishRequest(requestId, 'ok', { mac, account });
      return { ...out, status: 'ok', account, password, mac, facts: f };
    } catch (e) {
      const err = e as Error;
      if (err instanceof HostKeyMismatchError) {
        await log('CRITICAL', err.message);
        await inv.finishRequest(requestId, 'refused', { detail: err.message });
        return { ...out, status: 'refused', error: err.message };
      }
      await log(err instanceof UserError ? 'ERROR' : 'CRITICAL', err.message);
      await inv.finishRequest(requestId, 'failed', { detail: err.message });
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
