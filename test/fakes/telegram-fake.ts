// A local Telegram Bot API: /bot<token>/<method> (JSON or multipart), /file/bot<token>/<path>, long-polled
// getUpdates. Records what the bot sends; injects user messages, documents and failures (429 retry_after, 5xx,
// a 409 Conflict as when another process polls the same token, a long poll whose TCP connection is cut).
// Like the Bot API it serves one poller at a time: a getUpdates that arrives while a long poll waits ends the
// waiting one with 409 "Conflict: terminated by other getUpdates request" (counted in `conflicts`). Inline
// keyboards are recorded with their message; a press is a callback_query update (with the data of the pressed
// button, or any data: a client can send what it likes), answered with answerCallbackQuery.
import http from 'node:http';
import { json, listen, parseBody, readBody, type Failure } from './common.js';

export interface TgSent {
  method: string;
  chat_id: string;
  message_id: number;
  text?: string;
  parse_mode?: string;
  reply_to?: number;
  document?: { name: string; data: Buffer };
  /** The inline keyboard under the message: rows of buttons. */
  reply_markup?: { inline_keyboard: { text: string; callback_data: string }[][] };
  edits: string[];
  /** When the message and each edit arrived (ms). */
  times: number[];
}

export class TelegramFake {
  url = '';
  readonly token: string;
  readonly sent: TgSent[] = [];
  readonly calls: { method: string; params: Record<string, unknown>; at: number }[] = [];
  /** Messages removed with deleteMessage (chat|message id). */
  readonly deleted: string[] = [];
  /** answerCallbackQuery calls: the query answered and the notice shown, if any. */
  readonly answers: { callback_query_id: string; text?: string }[] = [];
  /** While true, every getUpdates answers 409 Conflict (another process polls this token). */
  conflict = false;
  /** Cut the TCP connection of the next long poll while it waits. */
  destroyNextPoll = false;
  destroyedPolls = 0;
  /** Long polls ended with 409 because another getUpdates came in meanwhile (a second poller). */
  conflicts = 0;
  /** Ends the long poll that waits now with 409 (there is at most one). */
  private activePoll?: () => void;
  commands: { command: string; description: string }[] = [];
  /** Per method: answer every call this many ms late (a slow connect). */
  readonly delays = new Map<string, number>();
  private server: http.Server;
  private updates: ({ update_id: number } & Record<string, unknown>)[] = [];
  private nextQuery = 1;
  private nextUpdate = 1;
  private nextMsg = 1000;
  private waiters: (() => void)[] = [];
  private failures = new Map<string, Failure[]>();
  private files = new Map<string, { path: string; data: Buffer; name: string }>();
  readonly me = { id: 777, is_bot: true, first_name: 'Switchboard', username: 'sb_test_bot' };

  constructor(token = '123456:TEST-token') {
    this.token = token;
    this.server = http.createServer((req, res) => void this.handle(req, res).catch((e) => json(res, 500, { ok: false, error_code: 500, description: String(e) })));
  }

  async start(): Promise<this> {
    this.url = await listen(this.server);
    return this;
  }

  async close(): Promise<void> {
    this.waiters.forEach((w) => w());
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** The next call(s) of `method` fail with this response. */
  failNext(method: string, f: Failure, times = 1): void {
    const l = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) l.push(f);
    this.failures.set(method, l);
  }

  /** Answer pending long polls now (so injected failures hit the next call). */
  kick(): void {
    this.waiters.splice(0).forEach((w) => w());
  }

  pendingFailures(method: string): number {
    return this.failures.get(method)?.length ?? 0;
  }

  /** A user writes in a chat. Returns the message id. */
  say(opts: {
    chat: number;
    user?: number;
    username?: string;
    text?: string;
    caption?: string;
    type?: 'private' | 'group' | 'supergroup';
    document?: { name: string; data: Buffer; mime?: string };
  }): number {
    const message_id = this.nextMsg++;
    const from = { id: opts.user ?? 42, is_bot: false, first_name: 'Ann', username: opts.username ?? 'ann' };
    const message: Record<string, unknown> = {
      message_id,
      date: Math.floor(Date.now() / 1000),
      chat: { id: opts.chat, type: opts.type ?? (opts.chat > 0 ? 'private' : 'supergroup'), title: 'ops' },
      from,
    };
    if (opts.text !== undefined) {
      message.text = opts.text;
      const m = /^\/\S+/.exec(opts.text);
      if (m) message.entities = [{ type: 'bot_command', offset: 0, length: m[0].length }];
    }
    if (opts.document) {
      const file_id = `F${message_id}`;
      this.files.set(file_id, { path: `documents/file_${message_id}.${opts.document.name.split('.').pop()}`, data: opts.document.data, name: opts.document.name });
      message.document = { file_id, file_unique_id: `U${message_id}`, file_name: opts.document.name, mime_type: opts.document.mime ?? 'text/csv', file_size: opts.document.data.length };
      if (opts.caption !== undefined) message.caption = opts.caption;
    }
    this.updates.push({ update_id: this.nextUpdate++, message });
    this.waiters.splice(0).forEach((w) => w());
    return message_id;
  }

  /**
   * A user presses button `index` of the first row under a message the bot sent (or sends `data` of their own,
   * as a modified client can). Returns the callback query id.
   */
  press(o: { sent: TgSent; user?: number; username?: string; index?: number; data?: string }): string {
    const button = o.sent.reply_markup?.inline_keyboard[0]?.[o.index ?? 0];
    if (!button && o.data === undefined) throw new Error(`message ${o.sent.message_id} has no button ${o.index ?? 0}`);
    const id = `${Date.now()}${this.nextQuery++}`;
    const chatId = Number(o.sent.chat_id);
    const message = {
      message_id: o.sent.message_id,
      date: Math.floor(Date.now() / 1000),
      chat: { id: chatId, type: chatId > 0 ? 'private' : 'supergroup', title: 'ops' },
      from: this.me,
      text: o.sent.text,
      reply_markup: o.sent.reply_markup,
    };
    const from = { id: o.user ?? 42, is_bot: false, first_name: 'Ann', username: o.username ?? 'ann' };
    this.updates.push({ update_id: this.nextUpdate++, callback_query: { id, from, message, chat_instance: String(-chatId), data: o.data ?? button!.callback_data } });
    this.waiters.splice(0).forEach((w) => w());
    return id;
  }

  /** Messages the bot sent to a chat (replies, documents). */
  to(chat: number | string): TgSent[] {
    return this.sent.filter((s) => s.chat_id === String(chat));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    const fileM = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (fileM) {
      const f = [...this.files.values()].find((x) => x.path === fileM[2]);
      if (fileM[1] !== this.token || !f) return json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': f.data.length });
      res.end(f.data);
      return;
    }
    const m = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
    if (!m) return json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    if (m[1] !== this.token) return json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = m[2]!;
    const { fields: p, files } = await parseBody(req, body);
    this.calls.push({ method, params: p, at: Date.now() });
    const delay = this.delays.get(method);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const fail = this.failures.get(method)?.shift();
    if (fail) return json(res, fail.status, fail.body, fail.headers);
    const ok = (result: unknown) => json(res, 200, { ok: true, result });
    const chat = (id: unknown) => ({ id: Number(id), type: Number(id) > 0 ? 'private' : 'supergroup' });
    switch (method) {
      case 'getMe':
        return ok(this.me);
      case 'deleteWebhook':
      case 'setWebhook':
        return ok(true);
      case 'setMyCommands':
        this.commands = typeof p.commands === 'string' ? JSON.parse(p.commands) : (p.commands as typeof this.commands);
        return ok(true);
      case 'getUpdates': {
        const conflict = () => json(res, 409, { ok: false, error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
        if (this.conflict) return conflict();
        if (this.activePoll) {
          this.conflicts++;
          this.activePoll();
        }
        if (this.destroyNextPoll && Number(p.timeout ?? 0) > 0) {
          this.destroyNextPoll = false;
          this.destroyedPolls++;
          setTimeout(() => req.socket.destroy(), 100);
          return;
        }
        const offset = Number(p.offset ?? 0);
        const timeout = Math.min(Number(p.timeout ?? 0), 1);
        let pending = this.updates.filter((u) => u.update_id >= offset);
        if (!pending.length && timeout > 0) {
          const outcome = await new Promise<'answer' | 'conflict' | 'gone'>((r) => {
            const finish = (o: 'answer' | 'conflict' | 'gone') => {
              clearTimeout(t);
              const i = this.waiters.indexOf(wake);
              if (i >= 0) this.waiters.splice(i, 1);
              if (this.activePoll === terminate) this.activePoll = undefined;
              res.off('close', gone);
              r(o);
            };
            const wake = () => finish('answer');
            const terminate = () => finish('conflict');
            const gone = () => finish('gone'); // the client gave up (aborted): no longer a poller
            const t = setTimeout(wake, timeout * 1000);
            this.waiters.push(wake);
            this.activePoll = terminate;
            res.on('close', gone);
          });
          if (outcome === 'conflict') return conflict();
          if (outcome === 'gone') return;
          pending = this.updates.filter((u) => u.update_id >= offset);
        }
        this.updates = this.updates.filter((u) => u.update_id >= offset);
        if (p.limit) pending = pending.slice(0, Number(p.limit));
        return ok(pending);
      }
      case 'sendMessage': {
        const text = String(p.text ?? '');
        if (text.length > 4096) return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message is too long' });
        const rp = (typeof p.reply_parameters === 'string' ? JSON.parse(p.reply_parameters) : p.reply_parameters) as { message_id?: number } | undefined;
        const markup = (typeof p.reply_markup === 'string' ? JSON.parse(p.reply_markup) : p.reply_markup) as TgSent['reply_markup'];
        for (const b of markup?.inline_keyboard.flat() ?? [])
          if (Buffer.byteLength(b.callback_data ?? '') > 64) return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: BUTTON_DATA_INVALID' });
        const s: TgSent = {
          method,
          chat_id: String(p.chat_id),
          message_id: this.nextMsg++,
          text,
          parse_mode: p.parse_mode as string,
          reply_to: rp?.message_id ?? (p.reply_to_message_id as number),
          ...(markup ? { reply_markup: markup } : {}),
          edits: [],
          times: [Date.now()],
        };
        this.sent.push(s);
        return ok({ message_id: s.message_id, date: Math.floor(Date.now() / 1000), chat: chat(p.chat_id), from: this.me, text });
      }
      case 'editMessageText': {
        const s = this.sent.find((x) => x.chat_id === String(p.chat_id) && x.message_id === Number(p.message_id));
        if (!s) return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message to edit not found' });
        const text = String(p.text ?? '');
        if (text.length > 4096) return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message is too long' });
        if (text === s.text) return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message is not modified' });
        s.text = text;
        s.edits.push(text);
        s.times.push(Date.now());
        return ok({ message_id: s.message_id, chat: chat(p.chat_id), text });
      }
      case 'sendDocument': {
        const doc = files.document;
        if (!doc) return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: there is no document in the request' });
        const rp = (typeof p.reply_parameters === 'string' ? JSON.parse(p.reply_parameters) : p.reply_parameters) as { message_id?: number } | undefined;
        const s: TgSent = { method, chat_id: String(p.chat_id), message_id: this.nextMsg++, document: { name: doc.name, data: doc.data }, reply_to: rp?.message_id, edits: [], times: [Date.now()] };
        this.sent.push(s);
        return ok({ message_id: s.message_id, chat: chat(p.chat_id), document: { file_id: 'X', file_name: doc.name } });
      }
      case 'answerCallbackQuery':
        this.answers.push({ callback_query_id: String(p.callback_query_id), ...(p.text ? { text: String(p.text) } : {}) });
        return ok(true);
      case 'deleteMessage':
        this.deleted.push(`${String(p.chat_id)}|${String(p.message_id)}`);
        return ok(true);
      case 'getFile': {
        const f = this.files.get(String(p.file_id));
        if (!f) return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: invalid file_id' });
        return ok({ file_id: p.file_id, file_unique_id: 'U', file_size: f.data.length, file_path: f.path });
      }
      default:
        return json(res, 404, { ok: false, error_code: 404, description: `Not Found: method ${method}` });
    }
  }
}
