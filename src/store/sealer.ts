// Secrets at rest (phones' SIP passwords, the store's shared secrets): AES-256-GCM with the store key from
// SWITCHBOARD_PROVISION_KEY (32 bytes, base64 or hex) or a key file created once with mode 0600 in the data
// dir. Every replica on one store needs the same key. Sealed text: v1:<iv>:<tag>:<ciphertext> (base64).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export class Sealer {
  constructor(private key: Buffer) {
    if (key.length !== 32) throw new Error('the provisioning key must be 32 bytes');
  }

  /** Where the key came from, for messages: the variable or the file, never the key. */
  source = 'the key';

  static fromEnvOrFile(env: NodeJS.ProcessEnv, dataDir: string): Sealer {
    const s = Sealer.load(env, dataDir);
    s.source = env.SWITCHBOARD_PROVISION_KEY ? 'SWITCHBOARD_PROVISION_KEY' : path.join(dataDir, 'provision.key');
    return s;
  }

  private static load(env: NodeJS.ProcessEnv, dataDir: string): Sealer {
    const raw = env.SWITCHBOARD_PROVISION_KEY;
    if (raw) {
      const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
      if (key.length !== 32) throw new Error('SWITCHBOARD_PROVISION_KEY must be 32 bytes, as 64 hex digits or base64');
      return new Sealer(key);
    }
    const file = path.join(dataDir, 'provision.key');
    try {
      const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
      if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
      return new Sealer(key);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    fs.mkdirSync(dataDir, { recursive: true });
    const key = crypto.randomBytes(32);
    try {
      fs.writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      return new Sealer(key);
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return Sealer.load({}, dataDir);
      throw err;
    }
  }

  private pool = Buffer.alloc(0);
  private poolAt = 0;

  /** Random bytes from a pooled CSPRNG buffer (one syscall per 4 KiB instead of one per seal). */
  random(n: number): Buffer {
    if (this.poolAt + n > this.pool.length) {
      this.pool = crypto.randomBytes(Math.max(4096, n));
      this.poolAt = 0;
    }
    const out = Buffer.from(this.pool.subarray(this.poolAt, this.poolAt + n));
    this.poolAt += n;
    return out;
  }

  seal(plain: string): string {
    const iv = this.random(12);
    const c = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `v1:${iv.toString('base64')}:${c.getAuthTag().toString('base64')}:${ct.toString('base64')}`;
  }

  open(sealed: string): string {
    const [v, iv, tag, ct] = sealed.split(':');
    if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('not a sealed value');
    const d = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      return Buffer.concat([d.update(Buffer.from(ct, 'base64')), d.final()]).toString('utf8');
    } catch {
      throw new Error('a sealed SIP password cannot be opened with this key (was SWITCHBOARD_PROVISION_KEY or provision.key changed?)');
    }
  }
}
