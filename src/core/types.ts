// The chat-agnostic model every adapter speaks and every command handler sees.
// Nothing here knows about Slack, Telegram, Discord or the web console.

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** A file attached to an incoming command. Bytes are fetched lazily, size-capped by the adapter. */
export interface IncomingFile {
  name: string;
  size?: number;
  mime?: string;
  fetch(): Promise<Buffer>;
  /**
   * Removes the upload from the chat where the platform lets the bot do so (a sheet of SIP passwords
   * should not linger in a channel). Resolves true when it is gone, false when the platform or the bot's
   * permissions do not allow it; never throws. Absent: the platform keeps no copy (console, cli).
   */
  discard?(): Promise<boolean>;
}

/** One command attempt as it arrives from any platform. */
export interface Incoming {
  platform: string; // 'console' | 'cli' | 'slack' | 'telegram' | 'discord' | ...
  channel: string; // platform channel id; for direct messages the DM channel
  thread?: string; // platform thread/reply anchor, if any
  user: { id: string; name?: string };
  text: string;
  files: IncomingFile[];
  direct?: boolean; // arrived in a direct message
  /**
   * A press of a command button: the id the platform handed back (Slack action value, Telegram callback_data,
   * Discord custom_id, the console's click). The dispatcher runs the command stored for it (`text` is ignored)
   * with this user's identity and role, or refuses an unknown or expired id.
   */
  button?: string;
}

/** A file going out (upload). */
export interface OutFile {
  name: string;
  data: Buffer;
  mime?: string;
  title?: string;
}

/** Column alignment of a table part; numbers read best right-aligned. */
export type Align = 'left' | 'right';

/**
 * One piece of a structured message. Adapters that know a kind render it natively (the console as HTML, Slack
 * as Block Kit); every other adapter uses `OutMessage.text`, the same content as plain text.
 * - text: plain text with the one markup of `OutMessage.text` (``` fences, `inline code`)
 * - code: a monospace block, shown verbatim
 * - table: a header row and rows of cells (plain text, never markup)
 * - image / file: refer by name to an entry of `OutMessage.files` (an image is shown inline where it can be)
 */
export type MessagePart =
  | { kind: 'text'; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'table'; columns: string[]; rows: string[][]; align?: Align[]; caption?: string }
  | { kind: 'image'; file: string; alt: string }
  | { kind: 'file'; file: string };

/**
 * A button that runs a command when pressed. The command runs as the person who pressed it (their role, their
 * audit row, a confirmation if the command asks for one), never as whoever caused the message. The notifier
 * stores the command in the store (`chat_buttons`) and sets `id` before the adapter sees the message; an
 * adapter renders only buttons that have an id, and the platform hands back only that id.
 */
export interface CommandButton {
  /** What the button says (kept short: Slack shows at most 75 characters). */
  label: string;
  /**
   * The command line it runs, exactly as typed. The message text should carry it too, for platforms without
   * buttons; it is shown again when a press comes after the button expired, so it must never hold a secret.
   */
  command: string;
  /**
   * Single use: the first press whose command succeeds uses the button up (a refused or failed press, or one
   * waiting for its confirmation, leaves it usable); later presses are told who used it. For commands that must
   * not run twice by accident (provisioning with a generated password).
   */
  once?: boolean;
  /** Set by the notifier once stored. */
  id?: string;
}

/**
 * A message going out. `text` is plain text with one markup: fenced blocks (```...```) are
 * monospace and `single backticks` inline code. Adapters translate that to their platform (Slack mrkdwn,
 * Telegram HTML, Discord markdown). `parts`, when present, is the same message with its structure kept
 * (see `structured()` in core/message.ts, which derives `text` from it): `text` stays the complete fallback.
 */
export interface OutMessage {
  text: string;
  parts?: MessagePart[];
  files?: OutFile[];
  /**
   * Command buttons (at most MAX_BUTTONS; see CommandButton). Rendered natively where the platform has buttons
   * (Slack actions block, Telegram inline keyboard, Discord action row, console button); elsewhere the text
   * alone goes out, so the command must also be in `text`. Sent with a new message only, never with an edit.
   */
  buttons?: CommandButton[];
  /** Only the requester should see it (Discord ephemeral, Slack ephemeral); others fall back to a DM. */
  ephemeral?: boolean;
}

/** Where a message goes: a platform channel, optionally a thread. */
export interface Target {
  platform: string;
  channel: string;
  thread?: string;
}

/** Opaque reference to a sent message so it can be edited later. Must be JSON-serialisable. */
export interface MessageRef {
  platform: string;
  channel: string;
  id: string;
  thread?: string;
}

/** What a chat platform must offer the core. */
export interface ChatAdapter {
  readonly platform: string;
  /** The platform shows command buttons (the notifier stores them only for such adapters). */
  readonly buttons?: boolean;
  start(sink: (incoming: Incoming) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
  send(target: Target, msg: OutMessage): Promise<MessageRef>;
  update(ref: MessageRef, msg: OutMessage): Promise<void>;
  /** Direct message to a user of this platform. `secret` messages bypass the secret scrubber. */
  dm(userId: string, msg: OutMessage, opts?: { secret?: boolean }): Promise<void>;
}

export function formatTarget(t: Target): string {
  return `${t.platform}:${t.channel}`;
}

/** Parse `platform:channel` (the channel may itself contain ':'). */
export function parseTarget(s: string): Target {
  const i = s.indexOf(':');
  if (i <= 0 || i === s.length - 1) throw new Error(`not a notification target: "${s}" (expected platform:channel, e.g. console:support)`);
  return { platform: s.slice(0, i), channel: s.slice(i + 1) };
}
