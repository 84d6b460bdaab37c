// Slack adapter (@slack/bolt v4): Socket Mode (bot + app-level token) by default, HTTP mode (signing secret;
// Bolt's receiver answers 401 to a bad signature or a timestamp older than 5 minutes) as an option.
// Commands arrive as a mention, a DM or `/sb <line>` (acked at once; long work continues as a job).
// Replies go in the request's thread; progress edits one message (chat.update, coalesced); files go out with
// files.getUploadURLExternal + completeUploadExternal; DMs through conversations.open. Rate limits (429 +
// Retry-After) are honoured by the Web API client.
import type { Server } from 'node:http';
import { App, SocketModeReceiver, HTTPReceiver, LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../log.js';
import type { ChatAdapter, Incoming, IncomingFile, MessageRef, OutMessage, Target } from '../core/types.js';
import { allowed, downloadCapped, FileTooLarge, EditCoalescer, Reconnector, renderChunks, toSlackMrkdwn } from './util.js';

export const SLACK_LIMIT = 3900;

export interface SlackOptions {
  mode: 'socket' | 'http';
  botToken: string;
  appToken?: string;
  signingSecret?: string;
  apiUrl?: string;
  allowedWorkspaces: string[];
  http: { host: string; port: number; path: string };
  pingTimeoutMs: number;
  maxBytes: number;
  reconnect: { baseMs: number; maxMs: number };
}

function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.INFO;
  return {
    debug: (...m: unknown[]) => log.debug({ sdk: 'bolt' }, m.map(String).join(' ')),
    info: (...m: unknown[]) => log.debug({ sdk: 'bolt' }, m.map(String).join(' ')),
    warn: (...m: unknown[]) => log.warn({ sdk: 'bolt' }, m.map(String).join(' ')),
    error: (...m: unknown[]) => log.error({ sdk: 'bolt' }, m.map(String).join(' ')),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

interface SlackFile {
  name?: string;
  title?: string;
  size?: number;
  mimetype?: string;
  url_private?: string;
  url_private_download?: string;
}

export class SlackAdapter implements ChatAdapter {
  readonly platform = 'slack';
  readonly app: App;
  private sink?: (i: Incoming) => Promise<void>;
  private reconnector: Reconnector;
  private edits: EditCoalescer<string>;
  /** Who asked in a channel/thread, for ephemeral replies. */
  private askers = new Map<string, string>();
  server?: Server;
  private botUserId?: string;

  constructor(private opts: SlackOptions, private log: Logger) {
    const logger = boltLogger(log);
    const slackApiUrl = opts.apiUrl ? opts.apiUrl.replace(/\/?$/, '/') : undefined;
    const clientOptions = slackApiUrl ? { slackApiUrl } : {};
    const receiver =
      opts.mode === 'socket'
        ? new SocketModeReceiver({ appToken: opts.appToken!, logger, clientPingTimeout: opts.pingTimeoutMs, installerOptions: { clientOptions } })
        : new HTTPReceiver({ signingSecret: opts.signingSecret!, endpoints: opts.http.path, logger });
    this.app = new App({ token: opts.botToken, receiver, clientOptions, logger, deferInitialization: true });
    this.app.use(async (args) => {
      const body = args.body as { team_id?: string; team?: { id?: string } | string; user?: { team_id?: string } };
      const team = body.team_id ?? (typeof body.team === 'string' ? body.team : body.team?.id) ?? body.user?.team_id;
      if (!allowed(this.opts.allowedWorkspaces, team)) {
        this.log.warn({ platform: 'slack', team }, 'request from a workspace that is not allowed; ignored');
        if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
        return;
      }
      await args.next();
    });
    this.app.event('app_mention', async ({ event }) => {
      const e = event as unknown as SlackMsg;
      await this.fromMessage(e, false);
    });
    this.app.message(async ({ message }) => {
      const e = message as unknown as SlackMsg;
      if (e.channel_type !== 'im') return; // channel messages come in as app_mention
      await this.fromMessage(e, true);
    });
    this.app.command('/sb', async ({ command, ack }) => {
      await ack();
      this.askers.set(`${command.channel_id}|`, command.user_id);
      const inc: Incoming = { platform: 'slack', channel: command.channel_id, user: { id: command.user_id, name: command.user_name }, text: command.text ?? '', files: [], direct: command.channel_name === 'directmessage' };
      void this.deliver(inc);
    });
    this.app.error(async (err) => {
      this.log.error({ err: String(err) }, 'slack handler error');
    });
    this.reconnector = new Reconnector('slack', () => this.connect(), log, opts.reconnect.baseMs, opts.reconnect.maxMs);
    this.edits = new EditCoalescer(async (key, text) => {
      const [channel, ts] = key.split('|');
      await this.app.client.chat.update({ channel: channel!, ts: ts!, text });
    });
  }

  private async deliver(inc: Incoming): Promise<void> {
    try {
      await this.sink?.(inc);
    } catch (err) {
      this.log.error({ err: String(err) }, 'slack dispatch failed');
    }
  }

  private async fromMessage(e: SlackMsg, direct: boolean): Promise<void> {
    if (e.bot_id || (e.subtype && e.subtype !== 'file_share') || !e.user) return;
    if (this.botUserId && e.user === this.botUserId) return;
    const text = (e.text ?? '').replace(/<@[A-Z0-9]+(\|[^>]*)?>/g, '').trim();
    const thread = e.thread_ts ?? e.ts;
    if (this.askers.size > 5000) this.askers.clear();
    this.askers.set(`${e.channel}|${thread}`, e.user);
    const files: IncomingFile[] = (e.files ?? []).map((f: SlackFile) => ({
      name: f.name ?? f.title ?? 'file',
      size: f.size,
      mime: f.mimetype,
      fetch: async () => {
        if (f.size !== undefined && f.size > this.opts.maxBytes) throw new FileTooLarge(`${f.name} is ${f.size} bytes; the limit is ${this.opts.maxBytes}`);
        const url = f.url_private_download ?? f.url_private;
        if (!url) throw new Error(`${f.name} has no download URL`);
        return downloadCapped(url, this.opts.maxBytes, { Authorization: `Bearer ${this.opts.botToken}` });
      },
    }));
    // Do not hold Bolt's listener (and with it the ack) while the command runs.
    void this.deliver({ platform: 'slack', channel: e.channel, thread, user: { id: e.user }, text: unescapeSlack(text), files, direct });
  }

  async start(sink: (i: Incoming) => Promise<void>): Promise<void> {
    this.sink = sink;
    await this.reconnector.start();
  }

  private started = false;
  private initialized = false;
  private async connect(): Promise<void> {
    if (!this.initialized) {
      await this.app.init();
      this.initialized = true;
    }
    const auth = await this.app.client.auth.test();
    this.botUserId = auth.user_id;
    if (!this.started) {
      const r = this.opts.mode === 'http' ? await this.app.start({ port: this.opts.http.port, host: this.opts.http.host }) : await this.app.start();
      this.started = true;
      if (this.opts.mode === 'http') this.server = r as Server;
    }
    this.log.info({ mode: this.opts.mode, team: auth.team_id }, 'slack connected');
  }

  async stop(): Promise<void> {
    this.reconnector.stop();
    if (this.started) await this.app.stop().catch(() => undefined);
    this.started = false;
  }

  async send(target: Target, msg: OutMessage): Promise<MessageRef> {
    const client = this.app.client;
    let first: string | undefined;
    const asker = this.askers.get(`${target.channel}|${target.thread ?? ''}`);
    for (const text of msg.text ? renderChunks(msg.text, SLACK_LIMIT, toSlackMrkdwn) : []) {
      if (msg.ephemeral && asker) {
        await client.chat.postEphemeral({ channel: target.channel, user: asker, text, ...(target.thread ? { thread_ts: target.thread } : {}) });
        first ??= 'ephemeral';
        continue;
      }
      const r = await client.chat.postMessage({ channel: target.channel, text, ...(target.thread ? { thread_ts: target.thread } : {}) });
      first ??= r.ts;
    }
    if (msg.files?.length) {
      await client.filesUploadV2({
        channel_id: target.channel,
        ...(target.thread ? { thread_ts: target.thread } : {}),
        file_uploads: msg.files.map((f) => ({ file: f.data, filename: f.name, title: f.title ?? f.name })),
      } as never);
    }
    return { platform: 'slack', channel: target.channel, id: first ?? '', thread: target.thread };
  }

  async update(ref: MessageRef, msg: OutMessage): Promise<void> {
    if (!ref.id || ref.id === 'ephemeral') return;
    const text = renderChunks(msg.text, SLACK_LIMIT, toSlackMrkdwn)[0] ?? '';
    await this.edits.edit(`${ref.channel}|${ref.id}`, text);
  }

  async dm(userId: string, msg: OutMessage): Promise<void> {
    const r = await this.app.client.conversations.open({ users: userId });
    const channel = r.channel?.id;
    if (!channel) throw new Error(`could not open a DM with ${userId}`);
    await this.send({ platform: 'slack', channel }, msg);
  }
}

function unescapeSlack(s: string): string {
  return s.replace(/<(https?:\/\/[^|>]+)(\|[^>]*)?>/g, '$1').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

interface SlackMsg {
  channel: string;
  channel_type?: string;
  user?: string;
  bot_id?: string;
  subtype?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  files?: SlackFile[];
}
