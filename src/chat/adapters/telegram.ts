// Telegram adapter (telegraf v4): long polling by default, webhook mode (secret token header checked) as an
// option. Commands are `/dhcp add …` (the first word after / is the command; @botname is stripped); a
// document whose caption is a command is fetched with getFile and handed to the command. Replies quote the
// request, progress edits one message (editMessageText), text is HTML (parse_mode) split at 4 096 characters.
// Command buttons are an inline keyboard; a press arrives as a callback_query, answered at once and run as the presser.
import { Telegraf, TelegramError } from 'telegraf';
import type { Logger } from '../../log.js';
import type { Registry } from '../../core/registry.js';
import type { ChatAdapter, Incoming, IncomingFile, MessageRef, OutMessage, Target } from '../../core/types.js';
import { allowed, firstDelivery, type InboundClaim } from '../inbound-checks.js';
import { BUTTON_PREFIX, buttonLabel, storedButtons } from '../buttons.js';
import { discardWith, downloadCapped, FileTooLarge } from '../inbound-files.js';
import { EditCoalescer } from '../edit-coalescer.js';
import { Reconnector } from '../reconnector.js';
import { renderChunks } from '../text-split.js';
import { retryRateLimited } from '../rate-limit.js';
import { toTelegramHtml } from '../markup.js';

export const TELEGRAM_LIMIT = 4096;

export interface TelegramOptions {
  botToken: string;
  apiRoot?: string;
  mode: 'polling' | 'webhook';
  webhookSecret?: string;
  allowedChats: string[];
  maxBytes: number;
  reconnect: { baseMs: number; maxMs: number };
  registry?: Registry;
  /** Minimum time between two edits of one message (Telegram allows about one per second per chat). */
  editIntervalMs?: number;
  /** De-duplicates updates across replicas and pollers (by the bot's id and update_id). */
  claimInbound?: InboundClaim;
  /**
   * True for the one delivery that should answer a chat not on the allow-list (a claim in the store per bot and
   * chat, so replicas and restarts agree); without it such chats are never answered.
   */
  claimRefusalNotice?: InboundClaim;
  /** Where the allow-list is set, named in that answer. */
  allowSetting?: string;
}

/** Progress edits of one message are at least this far apart unless configured otherwise. */
export const TELEGRAM_EDIT_INTERVAL_MS = 1000;

/** Split text so each piece, rendered as Telegram HTML, fits the 4 096 limit. */
export function telegramChunks(text: string): string[] {
  return renderChunks(text, TELEGRAM_LIMIT, toTelegramHtml);
}

function retryAfter(err: unknown): number | undefined {
  if (err instanceof TelegramError && err.code === 429) return (err.parameters?.retry_after ?? 1) * 1000;
  return undefined;
}

export class TelegramAdapter implements ChatAdapter {
  readonly platform = 'telegram';
  readonly buttons = true;
  readonly bot: Telegraf;
  private sink?: (i: Incoming) => Promise<void>;
  private reconnector: Reconnector;
  private edits: EditCoalescer<string>;
  private running = false;
  private stopping = false;
  /** Who asked, per chat and request message: ephemeral replies in groups go to them privately. */
  private askers = new Map<string, string>();
  /** deleteWebhook runs once per start(): another replica may own a webhook that a retry loop must not remove. */
  private webhookCleared = false;

  constructor(
    private opts: TelegramOptions,
    private log: Logger,
  ) {
    this.bot = new Telegraf(opts.botToken, { telegram: { apiRoot: opts.apiRoot ?? 'https://api.telegram.org' }, handlerTimeout: 10_000 });
    // An update arrived: polling works, so the next failure starts the back-off from its shortest delay.
    this.bot.use((_ctx, next) => {
      this.reconnector.healthy();
      return next();
    });
    this.bot.on('message', (ctx) => {
      void this.onMessage(ctx.message as unknown as TgMessage, ctx.update.update_id).catch((err) => this.log.error({ err: String(err) }, 'telegram message handling failed'));
    });
    this.bot.on('callback_query', (ctx) => {
      void this.onPress(ctx.callbackQuery as unknown as TgCallbackQuery, ctx.update.update_id).catch((err) => this.log.error({ err: String(err) }, 'telegram button press handling failed'));
    });
    this.bot.catch((err) => this.log.error({ err: String(err) }, 'telegram handler error'));
    this.reconnector = new Reconnector('telegram', () => this.connect(), log, opts.reconnect.baseMs, opts.reconnect.maxMs);
    this.edits = new EditCoalescer(async (key, html) => {
      const [chat, id] = key.split('|');
      try {
        // The newest text of a message must not be lost to a run of 429s: keep honouring retry_after.
        await this.call(() => this.bot.telegram.editMessageText(chat!, Number(id), undefined, html, { parse_mode: 'HTML' }), 'editMessageText', 50);
      } catch (err) {
        if (err instanceof TelegramError && /not modified/i.test(err.description)) return;
        throw err;
      }
    }, opts.editIntervalMs ?? TELEGRAM_EDIT_INTERVAL_MS);
  }

  private call<T>(fn: () => Promise<T>, what: string, maxTries?: number): Promise<T> {
    return retryRateLimited(fn, retryAfter, this.log, `telegram ${what}`, maxTries);
  }

  async start(sink: (i: Incoming) => Promise<void>): Promise<void> {
    this.sink = sink;
    this.webhookCleared = false;
    this.stopping = false;
    await this.reconnector.start();
  }

  private pollingEnded(err: unknown): void {
    if (!this.running) return;
    if (err instanceof TelegramError && err.code === 409) {
      this.reconnector.lost(
        err,
        'telegram: another process is using this bot token (409 Conflict: a second poller or a webhook); run Telegram polling on one replica only or use webhook mode; retrying with back-off',
      );
    } else if (err instanceof TelegramError && err.code === 401) {
      this.reconnector.lost(err, 'telegram: the bot token was refused (401 Unauthorized); check TELEGRAM_BOT_TOKEN; retrying with back-off');
    } else this.reconnector.lost(err, 'telegram polling stopped; reconnecting with back-off');
  }

  private async connect(): Promise<void> {
    // After each step: stop() may have run meanwhile, and then nothing is started.
    this.bot.botInfo = await this.bot.telegram.getMe();
    if (this.stopping) return;
    await this.setCommands().catch((err) => this.log.warn({ err: String(err) }, 'telegram setMyCommands failed'));
    if (this.stopping) return;
    if (this.opts.mode === 'webhook') {
      this.running = true;
      return; // updates arrive on the HTTP route (see handleWebhook)
    }
    if (!this.webhookCleared) {
      await this.bot.telegram.deleteWebhook({ drop_pending_updates: false });
      this.webhookCleared = true;
    }
    if (this.stopping) return;
    this.running = true;
    this.log.info({ bot: this.bot.botInfo.username }, 'telegram connected (long polling)');
    // The polling loop retries network errors, 429 and 5xx itself; anything else (409, 401) ends it: reconnect.
    void (this.bot as unknown as { startPolling(): Promise<void> }).startPolling().then(
      () => this.pollingEnded(new Error('polling stopped')),
      (err: unknown) => this.pollingEnded(err),
    );
  }

  /** Command menu from the registry's top-level names. */
  async setCommands(): Promise<void> {
    if (!this.opts.registry) return;
    const seen = new Map<string, string>();
    for (const c of this.opts.registry.all()) {
      const top = c.name.split(' ')[0]!.toLowerCase();
      if (!/^[a-z0-9_]{1,32}$/.test(top) || seen.has(top)) continue;
      seen.set(top, c.name.includes(' ') ? `${top} commands` : c.summary);
    }
    const commands = [...seen].slice(0, 100).map(([command, description]) => ({ command, description: description.slice(0, 256) || command }));
    await this.call(() => this.bot.telegram.setMyCommands(commands), 'setMyCommands');
  }

  /** Webhook mode: feed one update (the caller checked the secret token header). */
  async handleWebhook(update: unknown): Promise<void> {
    await this.bot.handleUpdate(update as Parameters<Telegraf['handleUpdate']>[0]);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.running = false;
    this.reconnector.stop();
    await this.reconnector.idle(); // a connect in flight sees `stopping` and starts no polling
    try {
      this.bot.stop('shutdown');
    } catch {
      /* not running */
    }
  }

  /** Command text of a message, or undefined when it is not addressed to the bot. */
  commandText(text: string, isPrivate: boolean): string | undefined {
    const t = text.trim();
    const me = this.bot.botInfo?.username?.toLowerCase();
    if (t.startsWith('/')) {
      const m = /^\/([^\s@]+)(?:@(\S+))?(.*)$/s.exec(t);
      if (!m) return undefined;
      if (m[2] && me && m[2].toLowerCase() !== me) return undefined; // for another bot
      const cmd = m[1]!.toLowerCase() === 'start' ? 'help' : m[1]; // BotFather's /start button
      return `${cmd}${m[3]}`.trim();
    }
    if (me && t.toLowerCase().startsWith(`@${me}`)) return t.slice(me.length + 1).trim();
    return isPrivate ? t : undefined;
  }

  /** The bot's id: the public part of its token (`<id>:<secret>`), never the secret. */
  get botId(): string {
    return /^(\d+):/.exec(this.opts.botToken)?.[1] ?? 'bot';
  }

  /** Whether this replica is polling now (the holder of the polling lease). */
  get polling(): boolean {
    return this.running && this.opts.mode === 'polling';
  }

  private async onMessage(msg: TgMessage, updateId: number): Promise<void> {
    if (!this.sink) return;
    const chatId = String(msg.chat.id);
    const isPrivate = msg.chat.type === 'private';
    const raw = msg.text ?? msg.caption ?? '';
    const text = this.commandText(raw, isPrivate);
    if (text === undefined || !msg.from || msg.from.is_bot) return;
    if (!allowed(this.opts.allowedChats, chatId)) {
      this.log.warn({ platform: 'telegram', chat: chatId, user: String(msg.from.id) }, 'message from a chat that is not allowed; ignored');
      await this.answerRefusedChat(chatId, msg.message_id);
      return;
    }
    // update_id counts per bot: the bot's id keeps two bots on one store apart.
    if (!(await firstDelivery(this.opts.claimInbound, `${this.botId}:u:${updateId}`, this.log, { platform: 'telegram' }))) return;
    const files: IncomingFile[] = [];
    if (msg.document) {
      const d = msg.document;
      files.push({
        name: d.file_name ?? 'file',
        size: d.file_size,
        mime: d.mime_type,
        fetch: async () => {
          if (d.file_size !== undefined && d.file_size > this.opts.maxBytes) throw new FileTooLarge(`${d.file_name ?? 'file'} is ${d.file_size} bytes; the limit is ${this.opts.maxBytes}`);
          const link = await this.call(() => this.bot.telegram.getFileLink(d.file_id), 'getFile');
          return downloadCapped(link.toString(), this.opts.maxBytes);
        },
        discard: () =>
          discardWith(this.log, 'telegram: could not delete the message carrying an upload', { chat: chatId }, () =>
            this.call(() => this.bot.telegram.deleteMessage(chatId, msg.message_id), 'deleteMessage'),
          ),
      });
    }
    if (this.askers.size > 5000) this.askers.clear();
    this.askers.set(`${chatId}|${msg.message_id}`, String(msg.from.id));
    const inc: Incoming = {
      platform: 'telegram',
      channel: chatId,
      thread: String(msg.message_id),
      user: { id: String(msg.from.id), name: msg.from.username ?? msg.from.first_name },
      text,
      files,
      direct: isPrivate,
    };
    await this.sink(inc);
  }

  /** Stops the client's spinner on a pressed button; a short text shows as a notice. Never throws. */
  private async answerPress(id: string, text?: string): Promise<void> {
    try {
      await this.call(() => this.bot.telegram.answerCbQuery(id, text), 'answerCallbackQuery');
    } catch (err) {
      this.log.warn({ err: String(err) }, 'telegram answerCallbackQuery failed');
    }
  }

  /**
   * A press of a command button (callback_query): its data is `sb:<button id>`, which the dispatcher looks up in
   * the store (the data comes from the presser's client and proves nothing by itself). Answered at once so the
   * client stops waiting; the command runs as the presser and replies to the message that carried the button.
   */
  private async onPress(q: TgCallbackQuery, updateId: number): Promise<void> {
    if (!this.sink) return;
    const msg = q.message;
    if (!q.data?.startsWith(BUTTON_PREFIX) || !msg) return this.answerPress(q.id);
    const chatId = String(msg.chat.id);
    if (!allowed(this.opts.allowedChats, chatId)) {
      this.log.warn({ platform: 'telegram', chat: chatId, user: String(q.from.id) }, 'button press from a chat that is not allowed; ignored');
      return this.answerPress(q.id, 'This chat is not allowed to use this bot, so nothing was run.');
    }
    if (!(await firstDelivery(this.opts.claimInbound, `${this.botId}:u:${updateId}`, this.log, { platform: 'telegram' }))) return;
    await this.answerPress(q.id);
    if (this.askers.size > 5000) this.askers.clear();
    this.askers.set(`${chatId}|${msg.message_id}`, String(q.from.id));
    await this.sink({
      platform: 'telegram',
      channel: chatId,
      thread: String(msg.message_id),
      user: { id: String(q.from.id), name: q.from.username ?? q.from.first_name },
      text: '',
      files: [],
      direct: msg.chat.type === 'private',
      button: q.data.slice(BUTTON_PREFIX.length),
    });
  }

  /**
   * Tells a chat that is not on the allow-list, once, its id and the setting that would let it in: the person
   * setting the bot up has no other way to learn the id. Nothing of the command runs.
   */
  private async answerRefusedChat(chatId: string, messageId: number): Promise<void> {
    if (!this.opts.claimRefusalNotice) return;
    try {
      if (!(await this.opts.claimRefusalNotice(`${this.botId}:refused:${chatId}`))) return;
      const setting = this.opts.allowSetting ?? 'chat.telegram.allowedChats (TELEGRAM_ALLOWED_CHATS)';
      const text = `This chat is not allowed to use this bot, so nothing was run. Its chat id is ${chatId}: to allow it, add ${chatId} to ${setting} and restart the bot. (Said once per chat.)`;
      await this.send({ platform: 'telegram', channel: chatId, thread: String(messageId) }, { text });
    } catch (err) {
      this.log.warn({ platform: 'telegram', chat: chatId, err: String(err) }, 'could not answer a chat that is not allowed');
    }
  }

  async send(target: Target, msg: OutMessage): Promise<MessageRef> {
    const asker = target.thread ? this.askers.get(`${target.channel}|${target.thread}`) : undefined;
    if (msg.ephemeral && asker && asker !== target.channel) {
      // Telegram has no ephemeral messages: the requester gets it in their private chat with the bot.
      return this.send({ platform: 'telegram', channel: asker }, { ...msg, ephemeral: false });
    }
    const chunks = msg.text ? telegramChunks(msg.text) : [];
    let first: number | undefined;
    const reply = target.thread && /^\d+$/.test(target.thread) ? { reply_parameters: { message_id: Number(target.thread), allow_sending_without_reply: true } } : {};
    // Command buttons: an inline keyboard under the last piece of text, callback_data `sb:<button id>` (fits 64 bytes).
    const buttons = storedButtons(msg);
    const keyboard = buttons.length ? { reply_markup: { inline_keyboard: [buttons.map((b) => ({ text: buttonLabel(b.label, 64), callback_data: `${BUTTON_PREFIX}${b.id}` }))] } } : {};
    for (const [n, html] of chunks.entries()) {
      const extra = n === chunks.length - 1 ? keyboard : {};
      const sent = await this.call(() => this.bot.telegram.sendMessage(target.channel, html, { parse_mode: 'HTML', ...reply, ...extra } as never), 'sendMessage');
      first ??= sent.message_id;
    }
    for (const f of msg.files ?? []) {
      const sent = await this.call(
        () =>
          this.bot.telegram.sendDocument(target.channel, { source: f.data, filename: f.name }, {
            ...(f.title ? { caption: f.title } : {}),
            ...(reply.reply_parameters ? { reply_parameters: JSON.stringify(reply.reply_parameters) } : {}),
          } as never),
        'sendDocument',
      );
      first ??= sent.message_id;
    }
    return { platform: 'telegram', channel: target.channel, id: String(first ?? 0), thread: target.thread };
  }

  async update(ref: MessageRef, msg: OutMessage): Promise<void> {
    const html = telegramChunks(msg.text)[0] ?? '';
    await this.edits.edit(`${ref.channel}|${ref.id}`, html);
  }

  async dm(userId: string, msg: OutMessage): Promise<void> {
    await this.send({ platform: 'telegram', channel: userId }, msg);
  }
}

interface TgMessage {
  message_id: number;
  chat: { id: number; type: string };
  from?: { id: number; is_bot: boolean; username?: string; first_name?: string };
  text?: string;
  caption?: string;
  document?: { file_id: string; file_name?: string; file_size?: number; mime_type?: string };
}

interface TgCallbackQuery {
  id: string;
  from: { id: number; is_bot: boolean; username?: string; first_name?: string };
  /** Absent for a button on an inline-mode message (the bot sends none). */
  message?: { message_id: number; chat: { id: number; type: string } };
  data?: string;
}
