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
}

/** A file going out (upload). */
export interface OutFile {
  name: string;
  data: Buffer;
  mime?: string;
  title?: string;
}

/**
 * A message going out. `text` is plain text with one markup: fenced blocks (```...```) are
 * monospace. Adapters translate that to their platform (Slack mrkdwn, Telegram HTML, Discord markdown).
 */
export interface OutMessage {
  text: string;
  files?: OutFile[];
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
