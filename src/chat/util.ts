// Helpers shared by the Slack, Telegram and Discord adapters: markup translation, message splitting,
// edit coalescing, retry on rate limits, reconnect back-off, allow-list checks and capped downloads.
import type { Logger } from '../log.js';
import { UserError } from '../core/command.js';
import { tableAsText } from '../core/message.js';
import type { CommandButton, MessagePart } from '../core/types.js';

/** Split text into chunks of at most `limit` characters, preferring line breaks; fenced blocks are re-opened. */
export function splitText(text: string, limit: number): string[] {
  if (text.length <= limit) return [text];
  const out: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    let cut = rest.lastIndexOf('\n', limit);
    if (cut < limit / 2) cut = limit;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^\n/, '');
  }
  if (rest) out.push(rest);
  // Keep fences balanced in every chunk.
  let open = false;
  return out.map((c) => {
    let s = open ? '```\n' + c : c;
    const n = (c.match(/```/g) ?? []).length;
    if (n % 2 === 1) open = !open;
    if (open) s += '\n```';
    return s;
  });
}

/** Split text and render each piece so every rendered piece fits `limit` (escaping makes text longer). */
export function renderChunks(text: string, limit: number, render: (s: string) => string): string[] {
  for (let l = limit - 16; l > 200; l = Math.floor(l * 0.8)) {
    const out = splitText(text, l).map(render);
    if (out.every((h) => h.length <= limit)) return out;
  }
  return splitText(render(text), limit);
}

/** Pieces of text: plain runs and fenced (```) monospace blocks. */
function pieces(text: string): { code: boolean; text: string }[] {
  const parts = text.split('```');
  return parts.map((p, i) => ({ code: i % 2 === 1, text: i % 2 === 1 ? p.replace(/^[a-z0-9_-]*\n/i, '').replace(/\n$/, '') : p }));
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Telegram parse_mode HTML: fences -> <pre>, `inline` -> <code>, everything escaped. */
export function toTelegramHtml(text: string): string {
  return pieces(text)
    .map((p) => (p.code ? `<pre>${escapeHtml(p.text)}</pre>` : escapeHtml(p.text).replace(/`([^`\n]+)`/g, '<code>$1</code>')))
    .join('');
}

/** Slack mrkdwn: & < > escaped, fences kept as Slack code blocks. */
export function toSlackMrkdwn(text: string): string {
  return pieces(text)
    .map((p) => (p.code ? '```' + escapeHtml(p.text) + '```' : escapeHtml(p.text)))
    .join('');
}

/** Slack Block Kit limits this renderer keeps to (per message, per section text, per table block). */
const SLACK_BLOCKS = { maxBlocks: 50, sectionChars: 3000, tableRows: 100, tableCols: 20 };

/**
 * Slack Block Kit for a structured message: text as mrkdwn sections, code as a code block, the first table as a
 * native table block (Slack allows one per message; header row + at most 99 rows, 20 columns) and any other
 * table as a monospace code block. Images and files go as uploads beside it. Undefined when the message does
 * not fit Block Kit's limits: the caller then sends the plain text.
 */
export function toSlackBlocks(parts: MessagePart[]): Record<string, unknown>[] | undefined {
  const blocks: Record<string, unknown>[] = [];
  let tableUsed = false;
  const section = (mrkdwn: string) => {
    for (const chunk of renderChunks(mrkdwn, SLACK_BLOCKS.sectionChars, (x) => x)) if (chunk.trim()) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: chunk } });
  };
  for (const p of parts) {
    if (p.kind === 'text') section(toSlackMrkdwn(p.text));
    else if (p.kind === 'code') section('```' + escapeHtml(p.text) + '```');
    else if (p.kind === 'table') {
      if (p.caption) section(escapeHtml(p.caption));
      if (!tableUsed && p.rows.length < SLACK_BLOCKS.tableRows && p.columns.length <= SLACK_BLOCKS.tableCols) {
        tableUsed = true;
        const cell = (s: string) => ({ type: 'raw_text', text: s === '' ? ' ' : s });
        blocks.push({
          type: 'table',
          column_settings: p.columns.map((_, i) => ({ align: p.align?.[i] === 'right' ? 'right' : 'left' })),
          rows: [p.columns.map(cell), ...p.rows.map((r) => p.columns.map((_, i) => cell(r[i] ?? '')))],
        });
      } else section('```' + escapeHtml(tableAsText(p)) + '```');
    }
  }
  return blocks.length && blocks.length <= SLACK_BLOCKS.maxBlocks ? blocks : undefined;
}

/** A button's label cut to a platform's limit (with an ellipsis), never empty. */
export function buttonLabel(label: string, max: number): string {
  const l = label.replace(/\s+/g, ' ').trim() || 'Run';
  return l.length > max ? `${l.slice(0, max - 1)}…` : l;
}

/** The buttons of a message that the notifier stored (only those have an id the platform can hand back). */
export function storedButtons(msg: { buttons?: CommandButton[] }): (CommandButton & { id: string })[] {
  return (msg.buttons ?? []).filter((b): b is CommandButton & { id: string } => typeof b.id === 'string' && b.id.length > 0);
}

/** The prefix of Telegram callback_data and Discord custom_id for a command button (`sb:<button id>`). */
export const BUTTON_PREFIX = 'sb:';
/** Slack action_ids of command buttons: `sb-button-<n>` (unique within the message); the value is the button id. */
export const SLACK_BUTTON_ACTION = /^sb-button-\d+$/;

/** A Slack `actions` block with one button element per command button. */
export function slackActionsBlock(buttons: (CommandButton & { id: string })[]): Record<string, unknown> {
  return {
    type: 'actions',
    block_id: 'sb-buttons',
    elements: buttons.map((b, i) => ({ type: 'button', action_id: `sb-button-${i}`, text: { type: 'plain_text', text: buttonLabel(b.label, 75), emoji: true }, value: b.id })),
  };
}

/** Slack Block Kit for a piece of mrkdwn text followed by command buttons (sections of at most 3 000 characters). */
export function slackTextWithButtons(mrkdwn: string, buttons: (CommandButton & { id: string })[]): Record<string, unknown>[] {
  const sections = renderChunks(mrkdwn, SLACK_BLOCKS.sectionChars, (x) => x)
    .filter((c) => c.trim())
    .map((c) => ({ type: 'section', text: { type: 'mrkdwn', text: c } }));
  return [...sections.slice(0, SLACK_BLOCKS.maxBlocks - 1), slackActionsBlock(buttons)];
}

/** Slack's message-level limit on blocks: a structured message's blocks plus the actions block must fit. */
export const SLACK_MAX_BLOCKS = SLACK_BLOCKS.maxBlocks;

/** Discord markdown: fences are native; make sure they start on their own line. */
export function toDiscordMarkdown(text: string): string {
  return pieces(text)
    .map((p) => (p.code ? '```\n' + p.text + '\n```' : p.text))
    .join('');
}

/** Delay of reconnect attempt n (0-based): base * 2^n, capped, with ±20 % jitter. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(d * (0.8 + Math.random() * 0.4));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Retry `fn` while it fails with a rate limit; `retryAfterMs(err)` returns the delay or undefined when not a rate limit. */
export async function retryRateLimited<T>(fn: () => Promise<T>, retryAfterMs: (err: unknown) => number | undefined, log: Logger, what: string, maxTries = 5): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const ms = retryAfterMs(err);
      if (ms === undefined || i >= maxTries - 1) throw err;
      log.warn({ what, retryAfterMs: ms }, 'rate limited; retrying');
      await sleep(ms);
    }
  }
}

/**
 * Coalesces edits of one message: at most one edit in flight per key; while one runs, newer texts replace
 * older pending ones, so a burst of progress updates becomes one edit with the latest text. Edits of one
 * message are at least `minIntervalMs` apart (also across bursts), and the newest text always goes out last.
 * The promise of each call resolves when its text or a newer one has been applied.
 */
type EditState<T> = { running: boolean; lastAt: number; pending?: { value: T; waiters: { resolve(): void; reject(e: unknown): void }[] } };
export class EditCoalescer<T> {
  private state = new Map<string, EditState<T>>();
  constructor(private apply: (key: string, value: T) => Promise<void>, private minIntervalMs = 0) {}

  edit(key: string, value: T): Promise<void> {
    let s = this.state.get(key);
    if (!s) this.state.set(key, (s = { running: false, lastAt: 0 }));
    const p = new Promise<void>((resolve, reject) => {
      if (s.pending) {
        s.pending.value = value;
        s.pending.waiters.push({ resolve, reject });
      } else s.pending = { value, waiters: [{ resolve, reject }] };
    });
    if (!s.running) void this.drain(key, s);
    return p;
  }

  private async drain(key: string, s: EditState<T>): Promise<void> {
    s.running = true;
    while (s.pending) {
      const wait = s.lastAt + this.minIntervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      const job = s.pending;
      s.pending = undefined;
      try {
        await this.apply(key, job.value);
        job.waiters.forEach((w) => w.resolve());
      } catch (e) {
        job.waiters.forEach((w) => w.reject(e));
      }
      s.lastAt = Date.now();
    }
    s.running = false;
    // Remember the last edit's time for one interval, so the next burst is paced too.
    if (!this.minIntervalMs) this.state.delete(key);
    else
      setTimeout(() => {
        if (this.state.get(key) === s && !s.running && !s.pending) this.state.delete(key);
      }, this.minIntervalMs).unref();
  }
}

/**
 * `IncomingFile.discard` for a platform: runs the platform's delete call; true when it went through, false
 * (logged with `what`) when the platform or the bot's permissions refused it. Never throws.
 */
export async function discardWith(log: Logger, what: string, fields: Record<string, unknown>, remove: () => Promise<unknown>): Promise<boolean> {
  try {
    await remove();
    return true;
  } catch (err) {
    log.warn({ ...fields, err: String((err as Error).message ?? err) }, what);
    return false;
  }
}

/** A user-facing refusal: the command replies with it (❌ …) instead of an internal error. */
export class FileTooLarge extends UserError {
  constructor(message: string) {
    super(message, 'SB_ATTACHMENT_TOO_LARGE');
  }
}

export interface DownloadOptions {
  /** Sent only to these hosts (URL.host, with port); a redirect elsewhere goes without them. */
  trustedHosts?: readonly string[];
  /** An HTML page instead of the file (e.g. a login page) is refused with this message. */
  htmlMessage?: string;
  /** The file's name, put in front of a "too large" refusal. */
  name?: string;
}

/** Let go of a response body that will not be read (the connection is freed). */
export const drop = (res: Response): Promise<void> => res.body?.cancel().catch(() => undefined) ?? Promise.resolve();

/**
 * Download a URL with optional headers, refusing more than maxBytes (by Content-Length and while streaming).
 * Redirects are followed by hand (at most 5) so credentials never go to a host outside `trustedHosts`.
 */
export async function downloadCapped(url: string, maxBytes: number, headers: Record<string, string> = {}, opts: DownloadOptions = {}): Promise<Buffer> {
  let res: Response;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const trusted = !opts.trustedHosts || opts.trustedHosts.includes(current.host);
    res = await fetch(current, { headers: trusted ? headers : {}, redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await drop(res);
      if (hop >= 5) throw new UserError('the download was redirected too many times');
      current = new URL(location, current);
      if (current.protocol !== 'https:' && current.protocol !== 'http:') throw new UserError(`the download was redirected to an unsupported URL scheme (${current.protocol})`);
      continue;
    }
    break;
  }
  if (!res.ok) {
    await drop(res);
    throw new UserError(`the download failed: HTTP ${res.status}`);
  }
  if (opts.htmlMessage && /^\s*text\/html\b/i.test(res.headers.get('content-type') ?? '')) {
    await drop(res);
    throw new UserError(opts.htmlMessage);
  }
  const len = Number(res.headers.get('content-length') ?? 0);
  if (len > maxBytes) {
    await drop(res);
    throw new FileTooLarge(`${opts.name ? `${opts.name}: ` : ''}the file is ${len} bytes; the limit is ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      if (total > maxBytes) throw new FileTooLarge(`${opts.name ? `${opts.name}: ` : ''}the file is larger than the limit of ${maxBytes} bytes`);
      chunks.push(Buffer.from(chunk));
    }
  }
  return Buffer.concat(chunks);
}

/**
 * Keeps a connection alive: runs `connect` and, when it fails or reports a drop (`lost`), retries with
 * exponential back-off until stopped. The back-off starts over only once the connection has proven healthy:
 * `healthy()` was called (e.g. an update arrived) or it stayed up for `healthyAfterMs` after connecting.
 */
export class Reconnector {
  private attempt = 0;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private inflight?: Promise<void>;
  constructor(
    private name: string,
    private connect: () => Promise<void>,
    private log: Logger,
    private baseMs: number,
    private maxMs: number,
    private healthyAfterMs = 30_000,
    /** The delay of retry n (tests record what is scheduled through it). */
    private delayOf: (attempt: number, baseMs: number, maxMs: number) => number = backoff,
  ) {}

  /** First attempt; never throws (failures are retried in the background). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.tryOnce();
  }

  /** Failed attempts since the connection was last healthy. */
  get failures(): number {
    return this.attempt;
  }

  private tryOnce(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const p = this.attemptOnce().finally(() => {
      if (this.inflight === p) this.inflight = undefined;
    });
    this.inflight = p;
    return p;
  }

  private async attemptOnce(): Promise<void> {
    try {
      await this.connect();
      // stop() ran while connecting: nothing more to schedule (the adapter closes what connect opened).
      if (this.stopped) return;
      clearTimeout(this.healthTimer);
      this.healthTimer = setTimeout(() => this.healthy(), this.healthyAfterMs);
      this.healthTimer.unref();
    } catch (err) {
      this.schedule(err);
    }
  }

  /**
   * Resolves once no connection attempt is in flight (or after `maxWaitMs`): an adapter's stop() waits for it,
   * so a connection that completes during stop() is closed by stop() itself.
   */
  async idle(maxWaitMs = 10_000): Promise<void> {
    const p = this.inflight;
    if (!p) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, maxWaitMs)))]);
    clearTimeout(t);
  }

  /** The connection works (it delivered something): the next drop retries from the shortest delay. */
  healthy(): void {
    clearTimeout(this.healthTimer);
    this.healthTimer = undefined;
    this.attempt = 0;
  }

  /** Called when an established connection is lost for good (the SDK gave up). */
  lost(err: unknown, hint?: string): void {
    if (this.stopped) return;
    clearTimeout(this.healthTimer);
    this.healthTimer = undefined;
    this.schedule(err, hint);
  }

  private schedule(err: unknown, hint?: string): void {
    if (this.stopped || this.timer) return;
    const ms = this.delayOf(this.attempt++, this.baseMs, this.maxMs);
    this.log.warn({ platform: this.name, err: String((err as Error)?.message ?? err), retryInMs: ms, attempt: this.attempt }, hint ?? 'chat platform connection failed; retrying');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tryOnce();
    }, ms);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.healthTimer);
    this.timer = undefined;
    this.healthTimer = undefined;
  }
}

/**
 * Claims an inbound event for the whole cluster: true for exactly one call per key (the store's claims), so
 * a retried delivery or the same event from a second connection is dispatched once.
 */
export type InboundClaim = (key: string) => Promise<boolean>;

/** True when this delivery of `key` is the one to handle (always, without a claimer); a repeat is logged. */
export async function firstDelivery(claim: InboundClaim | undefined, key: string, log: Logger, fields: Record<string, unknown> = {}): Promise<boolean> {
  if (!claim || (await claim(key))) return true;
  log.info({ ...fields, event: key }, 'inbound event already handled (a retry, or another connection delivered it); not dispatched again');
  return false;
}

export function allowed(list: readonly string[], id: string | undefined): boolean {
  return id !== undefined && list.includes(String(id));
}
