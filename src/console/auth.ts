// Console logins: scrypt password hashes in console_users, every attempt in login_attempts, and a lockout
// after N failures for one username from one address within a window.
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Generated } from 'kysely';
import type { DB } from '../store/db.js';
import { isUniqueViolation, now } from '../store/db.js';

declare module '../store/db.js' {
  interface Tables {
    console_users: {
      id: Generated<number>;
      username: string;
      password_hash: string;
      created_at: number;
      updated_at: number;
    };
    console_sessions: {
      id: string; // sha256 of the cookie value
      username: string;
      csrf: string;
      created_at: number;
      expires_at: number;
    };
    login_attempts: {
      id: Generated<number>;
      username: string;
      at: number;
      source: string;
      success: number;
    };
  }
}

const scryptAsync = promisify(crypto.scrypt) as (pw: string, salt: Buffer, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;
const N = 16384,
  R = 8,
  P = 1,
  LEN = 32;

export async function hashPassword(pw: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const h = await scryptAsync(pw, salt, LEN, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${h.toString('base64')}`;
}

export async function verifyPassword(pw: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const got = await scryptAsync(pw, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024 });
  return crypto.timingSafeEqual(got, expected);
}

/** A password that is easy to type and read off a terminal: 20 characters from an unambiguous alphabet. */
export function randomPassword(len = 20): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789';
  const out: string[] = [];
  while (out.length < len) {
    const b = crypto.randomBytes(1)[0]!;
    if (b < 256 - (256 % alphabet.length)) out.push(alphabet[b % alphabet.length]!);
  }
  return out.join('');
}

export const USERNAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/;

/** One row of `login_attempts`: `username` is a console user's name, or `#` + a keyed hash for any other name. */
export interface LoginAttempt {
  id: number;
  username: string;
  at: number;
  source: string;
  success: number;
}

export interface ConsoleAuthOptions {
  lockoutFailures: number;
  lockoutMinutes: number;
  sessionHours: number;
  /**
   * The HMAC key for names that match no console user (a password typed into the username field must not be
   * stored as text): a secret in the store (app.secrets), so every replica hashes a name alike.
   */
  nameKey?: () => Promise<string>;
}

/** Stored names starting with this are keyed hashes; a console user's name cannot start with it (USERNAME_RE). */
const HASHED = '#';

export class ConsoleAuth {
  constructor(
    private db: DB,
    private opts: ConsoleAuthOptions,
  ) {}

  /** `#` + the first 128 bits (hex) of HMAC-SHA256(store secret, name): how an unknown name is stored. */
  async hashedName(name: string): Promise<string> {
    if (!this.opts.nameKey) throw new Error('console logins need the store secrets (nameKey) to record unknown names');
    const key = await this.opts.nameKey();
    return HASHED + crypto.createHmac('sha256', key).update(name.slice(0, 64), 'utf8').digest('hex').slice(0, 32);
  }

  static isHashedName(stored: string): boolean {
    return stored.startsWith(HASHED);
  }

  /** Login attempts, newest first; for a name, those stored under it and under its keyed hash. */
  async attempts(opts: { name?: string; limit: number }): Promise<LoginAttempt[]> {
    let q = this.db.selectFrom('login_attempts').selectAll().orderBy('id', 'desc').limit(opts.limit);
    if (opts.name !== undefined) q = q.where('username', 'in', [opts.name.slice(0, 64), await this.hashedName(opts.name)]);
    return q.execute();
  }

  /** How many attempts a name has had (stored as the name or as its hash), and how many failed. */
  async countAttempts(name: string): Promise<{ total: number; failed: number; first?: number }> {
    const r = await this.db
      .selectFrom('login_attempts')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>(eb.case().when('success', '=', 0).then(1).else(0).end()).as('failed'), eb.fn.min('at').as('first')])
      .where('username', 'in', [name.slice(0, 64), await this.hashedName(name)])
      .executeTakeFirst();
    return { total: Number(r?.n ?? 0), failed: Number(r?.failed ?? 0), first: r?.first == null ? undefined : Number(r.first) };
  }

  async count(): Promise<number> {
    const r = await this.db
      .selectFrom('console_users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async exists(username: string): Promise<boolean> {
    return !!(await this.db.selectFrom('console_users').select('id').where('username', '=', username).executeTakeFirst());
  }

  /** Create or reset a console user's password. */
  async setUser(username: string, password: string): Promise<'created' | 'reset'> {
    if (!USERNAME_RE.test(username)) throw new Error(`console user name "${username}" is not valid (letters, digits, . _ -; at most 64)`);
    const hash = await hashPassword(password);
    const t = now();
    const r = await this.db.updateTable('console_users').set({ password_hash: hash, updated_at: t }).where('username', '=', username).executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) {
      await this.db.deleteFrom('console_sessions').where('username', '=', username).execute();
      return 'reset';
    }
    await this.db.insertInto('console_users').values({ username, password_hash: hash, created_at: t, updated_at: t }).execute();
    return 'created';
  }

  /**
   * Create a console user unless one of that name exists; never resets. True only for the caller whose insert
   * made the user, so of several processes bootstrapping at once exactly one learns it created it.
   */
  async createIfAbsent(username: string, password: string): Promise<boolean> {
    if (!USERNAME_RE.test(username)) throw new Error(`console user name "${username}" is not valid (letters, digits, . _ -; at most 64)`);
    if (await this.exists(username)) return false;
    const hash = await hashPassword(password);
    const t = now();
    try {
      await this.db.insertInto('console_users').values({ username, password_hash: hash, created_at: t, updated_at: t }).execute();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async isLocked(username: string, source: string): Promise<boolean> {
    const since = now() - this.opts.lockoutMinutes * 60_000;
    const lastOk = await this.db
      .selectFrom('login_attempts')
      .select((eb) => eb.fn.max('at').as('at'))
      .where('username', '=', username)
      .where('source', '=', source)
      .where('success', '=', 1)
      .executeTakeFirst();
    const from = Math.max(since, Number(lastOk?.at ?? 0));
    const r = await this.db
      .selectFrom('login_attempts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('username', '=', username)
      .where('source', '=', source)
      .where('success', '=', 0)
      .where('at', '>', from)
      .executeTakeFirst();
    return Number(r?.n ?? 0) >= this.opts.lockoutFailures;
  }

  /**
   * Check a login; every attempt is recorded, under the user's name or, for a name that matches no console
   * user, under its keyed hash (`as`: what was recorded, the only form of the name fit for a log).
   */
  async login(username: string, password: string, source: string): Promise<{ ok: true; session: string; csrf: string } | { ok: false; locked: boolean; as: string }> {
    const name = username.slice(0, 64);
    const user = await this.db.selectFrom('console_users').select(['password_hash']).where('username', '=', name).executeTakeFirst();
    const as = user ? name : await this.hashedName(name);
    const record = (success: boolean) =>
      this.db
        .insertInto('login_attempts')
        .values({ username: as, at: now(), source: source.slice(0, 64), success: success ? 1 : 0 })
        .execute();
    if (await this.isLocked(as, source)) {
      await record(false);
      return { ok: false, locked: true, as };
    }
    const ok = user ? await verifyPassword(password, user.password_hash) : (await hashPassword(password), false);
    await record(ok);
    if (!ok) return { ok: false, locked: await this.isLocked(as, source), as };
    const session = crypto.randomBytes(32).toString('base64url');
    const csrf = crypto.randomBytes(24).toString('base64url');
    const t = now();
    await this.db
      .insertInto('console_sessions')
      .values({ id: sha256(session), username: name, csrf, created_at: t, expires_at: t + this.opts.sessionHours * 3600_000 })
      .execute();
    return { ok: true, session, csrf };
  }

  async session(cookie: string | undefined): Promise<{ username: string; csrf: string } | undefined> {
    if (!cookie) return undefined;
    const row = await this.db.selectFrom('console_sessions').select(['username', 'csrf', 'expires_at']).where('id', '=', sha256(cookie)).executeTakeFirst();
    if (!row || row.expires_at < now()) return undefined;
    return { username: row.username, csrf: row.csrf };
  }

  async logout(cookie: string): Promise<void> {
    await this.db.deleteFrom('console_sessions').where('id', '=', sha256(cookie)).execute();
  }
}

function sha256(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}
