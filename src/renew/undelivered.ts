// Passwords set on a PC whose direct message to the requester could not be sent (the chat platform down,
// DMs closed). They are kept in this process's memory only — never in the store, a log, a job row or an
// error — for a day, still registered with the secret scrubber, until the requester has them sent again
// with `renew resend <request>`. A restart loses them: then the only way left is renewing the PC again.
import type { OutFile } from '../core/types.js';
import { forgetSecret } from '../secrets.js';

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

export class UndeliveredPasswords {
  private items = new Map<number, UndeliveredPassword>();

  constructor(
    readonly ttlMs = 24 * 3600_000,
    private clock: () => number = Date.now,
  ) {}

  keep(u: Omit<UndeliveredPassword, 'expiresAt'>): UndeliveredPassword {
    this.sweep();
    const kept = { ...u, expiresAt: this.clock() + this.ttlMs };
    this.items.set(u.requestId, kept);
    return kept;
  }

  has(requestId: number): boolean {
    this.sweep();
    return this.items.has(requestId);
  }

  get(requestId: number): UndeliveredPassword | undefined {
    this.sweep();
    return this.items.get(requestId);
  }

  /** Delivered at last: drop it, and let the scrubber forget the password. */
  delivered(requestId: number): void {
    const u = this.items.get(requestId);
    if (!u) return;
    this.items.delete(requestId);
    forgetSecret(u.password);
  }

  private sweep(): void {
    const t = this.clock();
    for (const [id, u] of this.items) {
      if (u.expiresAt > t) continue;
      this.items.delete(id);
      forgetSecret(u.password);
    }
  }
}
