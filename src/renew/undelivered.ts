// Passwords set on a PC whose direct message to the requester could not be sent (the chat platform down, DMs
// closed). They are kept for a day, sealed with the store key in `renew_undelivered` — never in clear in the
// store, a log, a job row or an error — so that the requester can have them sent again with
// `renew resend <request>` from any replica, also after a restart. Opened only to be sent; a password read back
// is registered with the secret scrubber until it is delivered or expires.
import type { DB } from '../store/db.js';
import type { Sealer } from '../store/sealer.js';
import type { OutFile } from '../core/types.js';
import { forgetSecret, registerSecret } from '../secrets.js';

declare module '../store/db.js' {
  interface Tables {
    renew_undelivered: { request_id: number; requester: string; account: string; host: string; sealed: string; expires_at: number };
  }
}

export interface UndeliveredPassword {
  requestId: number;
  /** `platform:user id` of whoever ran the renewal: the only one who may have it sent. */
  requester: string;
  account: string;
  host: string;
  password: string;
  /** The direct message as it should have gone out (text with the password, the user sheet). */
  text: string;
  files: OutFile[];
  expiresAt: number;
}

interface SealedPart {
  password: string;
  text: string;
  files: { name: string; mime?: string; data: string }[];
}

export class UndeliveredPasswords {
  constructor(
    private db: DB,
    private sealer: Sealer,
    readonly ttlMs = 24 * 3600_000,
    private clock: () => number = Date.now,
  ) {}

  async keep(u: Omit<UndeliveredPassword, 'expiresAt'>): Promise<UndeliveredPassword> {
    await this.sweep();
    const expiresAt = this.clock() + this.ttlMs;
    const part: SealedPart = { password: u.password, text: u.text, files: u.files.map((f) => ({ name: f.name, mime: f.mime, data: f.data.toString('base64') })) };
    const row = { requester: u.requester, account: u.account, host: u.host, sealed: this.sealer.seal(JSON.stringify(part)), expires_at: expiresAt };
    await this.db.deleteFrom('renew_undelivered').where('request_id', '=', u.requestId).execute();
    await this.db
      .insertInto('renew_undelivered')
      .values({ request_id: u.requestId, ...row })
      .execute();
    return { ...u, expiresAt };
  }

  async has(requestId: number): Promise<boolean> {
    const row = await this.db.selectFrom('renew_undelivered').select('request_id').where('request_id', '=', requestId).where('expires_at', '>', this.clock()).executeTakeFirst();
    return !!row;
  }

  async get(requestId: number): Promise<UndeliveredPassword | undefined> {
    await this.sweep();
    const row = await this.db.selectFrom('renew_undelivered').selectAll().where('request_id', '=', requestId).executeTakeFirst();
    if (!row) return undefined;
    const part = JSON.parse(this.sealer.open(row.sealed)) as SealedPart;
    registerSecret(part.password);
    return {
      requestId,
      requester: row.requester,
      account: row.account,
      host: row.host,
      password: part.password,
      text: part.text,
      files: part.files.map((f) => ({ name: f.name, mime: f.mime, data: Buffer.from(f.data, 'base64') })),
      expiresAt: Number(row.expires_at),
    };
  }

  /** Delivered at last: drop it, and let the scrubber forget the password. */
  async delivered(requestId: number, password?: string): Promise<void> {
    await this.db.deleteFrom('renew_undelivered').where('request_id', '=', requestId).execute();
    if (password) forgetSecret(password);
  }

  private async sweep(): Promise<void> {
    await this.db.deleteFrom('renew_undelivered').where('expires_at', '<=', this.clock()).execute();
  }
}
