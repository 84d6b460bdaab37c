// Command buttons: what a button runs is stored here, never in the platform's payload. The notifier stores each
// button of a message it sends (the command sealed with the store key, bound to the platform and channel it goes
// to) and gives the adapter an unguessable id; a press hands the id back and the dispatcher looks it up. So a
// presser cannot make the bot run anything it did not offer, any replica can answer a press (one store), and a
// button stops working after BUTTON_TTL_MS with an answer that names the command to type instead. A single-use
// button (`once`) is used up by the first press whose command succeeds; later presses are told who used it.
import crypto from 'node:crypto';
import type { DB } from '../store/db.js';
import { affected, now } from '../store/db.js';
import { withConflictRetry } from '../store/conflict-retry.js';
import type { Sealer } from '../store/sealer.js';
import type { CommandButton } from './types.js';

declare module '../store/db.js' {
  interface Tables {
    chat_buttons: {
      id: string;
      platform: string;
      /** The channel the message went to; NULL for a direct message (its channel id is the platform's to pick). */
      channel: string | null;
      label: string;
      command: string; // sealed with the store key: a command line may carry a secret
      created_at: number;
      expires_at: number;
      /** 1: single use — the first press whose command succeeds uses it up. */
      once: number;
      used_by: string | null;
      used_at: number | null;
    };
  }
}

/** How long a button works. */
export const BUTTON_TTL_MS = 7 * 24 * 3600_000;
/** Expired buttons are kept this long after expiry, so a late press is told "expired" and not "unknown". */
const EXPIRED_KEPT_MS = 30 * 24 * 3600_000;
/** Buttons per message: one row on every platform (Discord puts five in a row). */
export const MAX_BUTTONS = 5;
/** The ids: 16 random bytes, base64url (22 characters; fits Telegram's 64-byte callback_data with a prefix). */
export const BUTTON_ID_RE = /^[A-Za-z0-9_-]{22}$/;

export type ButtonLookup =
  | { ok: true; command: string; label: string; once: boolean }
  | { ok: false; reason: 'used'; command: string; usedBy: string; usedAt: number }
  | { ok: false; reason: 'unknown' }
  | { ok: false; reason: 'expired'; command?: string; expiredAt: number }
  | { ok: false; reason: 'unreadable' };

export class ButtonStore {
  private lastPrune = 0;

  constructor(
    private db: DB,
    private sealer: Sealer,
    readonly ttlMs = BUTTON_TTL_MS,
  ) {}

  /** Store the buttons of one message going to `platform` (and `channel`, unless a DM); returns them with their ids. */
  async create(platform: string, channel: string | null, buttons: CommandButton[], at = now()): Promise<CommandButton[]> {
    void this.pruneSometimes(at);
    const rows = buttons.map((b) => ({
      id: crypto.randomBytes(16).toString('base64url'),
      platform,
      channel: channel === null ? null : channel.slice(0, 191),
      label: b.label.slice(0, 200),
      command: this.sealer.seal(b.command),
      created_at: at,
      expires_at: at + this.ttlMs,
      once: b.once ? 1 : 0,
    }));
    if (rows.length) await this.db.insertInto('chat_buttons').values(rows).execute();
    return buttons.map((b, i) => ({ ...b, id: rows[i]!.id }));
  }

  /**
   * The command of a pressed button. Unknown: not an id the bot made, or made for another platform or channel
   * (a press carries the platform's word for where it happened, which the presser cannot choose).
   */
  async open(id: string, platform: string, channel: string, at = now()): Promise<ButtonLookup> {
    if (!BUTTON_ID_RE.test(id)) return { ok: false, reason: 'unknown' };
    const row = await this.db.selectFrom('chat_buttons').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.platform !== platform || (row.channel !== null && row.channel !== channel.slice(0, 191))) return { ok: false, reason: 'unknown' };
    let command: string | undefined;
    try {
      command = this.sealer.open(row.command);
    } catch {
      command = undefined;
    }
    if (row.expires_at <= at) return { ok: false, reason: 'expired', expiredAt: row.expires_at, ...(command !== undefined ? { command } : {}) };
    if (command === undefined) return { ok: false, reason: 'unreadable' };
    if (row.once && row.used_at !== null) return { ok: false, reason: 'used', command, usedBy: row.used_by ?? '?', usedAt: row.used_at };
    return { ok: true, command, label: row.label, once: row.once === 1 };
  }

  /**
   * Takes a single-use button for `user` (a conditional UPDATE: of two presses at once, one wins). False when
   * someone else took it first.
   */
  async take(id: string, user: string, at = now()): Promise<boolean> {
    const r = await withConflictRetry(() =>
      this.db
        .updateTable('chat_buttons')
        .set({ used_by: user.slice(0, 191), used_at: at })
        .where('id', '=', id)
        .where('once', '=', 1)
        .where('used_at', 'is', null)
        .executeTakeFirst(),
    );
    return affected(r) === 1;
  }

  /** Gives a single-use button back: the command it ran did not succeed (refused, failed, waiting for a confirmation). */
  async release(id: string, user: string): Promise<void> {
    await withConflictRetry(() => this.db.updateTable('chat_buttons').set({ used_by: null, used_at: null }).where('id', '=', id).where('used_by', '=', user.slice(0, 191)).execute());
  }

  /** Who used a single-use button (after `take` lost the race). */
  async usedBy(id: string): Promise<{ usedBy: string; usedAt: number } | undefined> {
    const r = await this.db.selectFrom('chat_buttons').select(['used_by', 'used_at']).where('id', '=', id).executeTakeFirst();
    return r?.used_at != null ? { usedBy: r.used_by ?? '?', usedAt: r.used_at } : undefined;
  }

  /** Rows long past their expiry: dropped now and then (at most once an hour per process). */
  private async pruneSometimes(at: number): Promise<void> {
    if (at - this.lastPrune < 3600_000) return;
    this.lastPrune = at;
    try {
      await this.db
        .deleteFrom('chat_buttons')
        .where('expires_at', '<', at - EXPIRED_KEPT_MS)
        .execute();
    } catch {
      /* another process is pruning, or the store is busy: the next send tries again */
    }
  }
}
