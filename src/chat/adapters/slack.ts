// Slack adapter (@slack/bolt v4): Socket Mode (bot + app-level token) by default, HTTP mode (signing secret;
// Bolt's receiver answers 401 to a bad signature or a timestamp older than 5 minutes) as an option.
// Commands arrive as a mention, a DM or `/sb <line>` (acked at once; long work continues as a job), and as a
// press of a command button (a block_actions interaction: acked at once, run as the presser).
// Replies go in the request's thread; progress edits one message (chat.update, coalesced); files go out with
// files.getUploadURLExternal + completeUploadExternal; DMs through conversations.open. Rate limits (429 +
// Retry-After) are honoured by the Web API client. The allow-list checks the requesting user's own team (in a
// Slack Connect channel the envelope's team is the host workspace). The Socket Mode client's own reconnect is
// off: every closed connection is re-opened by the adapter's Reconnector with back-off, so a client that
// would otherwise give up (apps.connections.open failing) keeps being retried while other platforms serve.
import type { Server } from 'node:http';
import { App, SocketModeReceiver, HTTPReceiver, LogLevel, type BlockAction, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../../log.js';
import type { ChatAdapter, Incoming, IncomingFile, MessageRef, OutMessage, Target } from '../../core/types.js';
import { allowed, firstDelivery, type InboundClaim } from '../inbound-checks.js';
import { drop } from '../inbound-files.js';
import { eventKey, requestTeams, slackFile, unescapeSlack, type SlackMsg } from '../slack-inbound.js';
import { EditCoalescer } from '../edit-coalescer.js';
import { Reconnector } from '../reconnector.js';
import { renderChunks } from '../text-split.js';
import { SLACK_BUTTON_ACTION, SLACK_MAX_BLOCKS, slackActionsBlock, slackTextWithButtons, toSlackBlocks } from '../slack-blocks.js';
import { storedButtons } from '../buttons.js';
import { toSlackMrkdwn } from '../markup.js';

export const SLACK_LIMIT = 3900;
/** Edits of one message at most about once a second (chat.update is a tier-3 method, ~50/min). */
export const SLACK_EDIT_INTERVAL_MS = 1000;
/** Slack allows five uses of a slash command's response_url within 30 minutes. */
const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60_000;
/** How a job message still in progress starts (renderJob's queued/running lines): such texts never take the last use. */
const PROGRESS_MARK = '⏳';

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
  editIntervalMs?: number;
  /** De-duplicates inbound events across retries and replicas (by event_id; slash commands by trigger_id). */
  claimInbound?: InboundClaim;
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

export class SlackAdapter implements ChatAdapter {
  readonly platform = 'slack';
  readonly buttons = true;
  readonly app: App;
  private sink?: (i: Incoming) => Promise<void>;
  private reconnector: Reconnector;
  private edits: EditCoalescer<string>;
  /** Who asked in a channel/thread, for ephemeral replies. */
  private askers = new Map<string, string>();
  server?: Server;
  private botUserId?: string;
  private stopping = false;
  /** Slash commands in flight: their response_url is the way to answer where the bot is not a member. */
  private slashes = new Map<string, { responseUrl?: string; user: string; at: number; uses: number }>();
  private slashSeq = 0;
  private receiver: SocketModeReceiver | HTTPReceiver;

  constructor(
    private opts: SlackOptions,
    private log: Logger,
  ) {
    const logger = boltLogger(log);
    const slackApiUrl = opts.apiUrl ? opts.apiUrl.replace(/\/?$/, '/') : undefined;
    // Separate objects: the Socket Mode client writes its own retry policy into the options it is given.
    const clientOptions = slackApiUrl ? { slackApiUrl } : {};
    const receiver = (this.receiver =
      opts.mode === 'socket'
        ? new SocketModeReceiver({
            appToken: opts.appToken!,
            logger,
            clientPingTimeout: opts.pingTimeoutMs,
            autoReconnectEnabled: false,
            installerOptions: { clientOptions: { ...clientOptions, retryConfig: { retries: 1 } } },
          })
        : new HTTPReceiver({ signingSecret: opts.signingSecret!, endpoints: opts.http.path, logger }));
    this.app = new App({ token: opts.botToken, receiver, clientOptions: { ...clientOptions }, logger, deferInitialization: true });
    if (receiver instanceof SocketModeReceiver) {
      receiver.client.on('disconnected', () => {
        if (this.started && !this.stopping) this.reconnector.lost(new Error('socket mode connection closed'), 'slack socket mode connection closed; reconnecting with back-off');
      });
      receiver.client.on('connected', () => this.log.info('slack socket mode connected'));
    }
    this.app.use(async (args) => {
      const teams = requestTeams(args.body as Record<string, unknown>);
      if (!teams.length || !teams.every((t) => allowed(this.opts.allowedWorkspaces, t))) {
        this.log.warn({ platform: 'slack', team: teams.join(',') || '(none)' }, 'request from a workspace that is not allowed; ignored');
        if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
        return;
      }
      await args.next();
    });
    // Events are acked by Bolt before these run; a retry (X-Slack-Retry-Num / retry_attempt) carries the
    // same event_id and is answered but dispatched once.
    this.app.event('app_mention', async ({ event, body, context }) => {
      const e = event as unknown as SlackMsg;
      await this.fromMessage(e, false, eventKey(body), context.retryNum);
    });
    this.app.message(async ({ message, body, context }) => {
      const e = message as unknown as SlackMsg;
      if (e.channel_type !== 'im') return; // channel messages come in as app_mention
      await this.fromMessage(e, true, eventKey(body), context.retryNum);
    });
    this.app.command('/sb', async ({ command, ack, context }) => {
      await ack();
      if (command.trigger_id && !(await this.first(`cmd:${command.trigger_id}`, context.retryNum))) return;
      // A synthetic thread names this command, so its replies can fall back to its response_url.
      const thread = `slash:${++this.slashSeq}`;
      for (const [k, v] of this.slashes) if (Date.now() - v.at > RESPONSE_URL_TTL_MS) this.slashes.delete(k);
      this.slashes.set(thread, { responseUrl: command.response_url, user: command.user_id, at: Date.now(), uses: 0 });
      this.askers.set(`${command.channel_id}|${thread}`, command.user_id);
      const inc: Incoming = {
        platform: 'slack',
        channel: command.channel_id,
        thread,
        user: { id: command.user_id, name: command.user_name },
        text: command.text ?? '',
        files: [],
        direct: command.channel_name === 'directmessage',
      };
      void this.deliver(inc);
    });
    // A press of a command button (block_actions): acked at once, then dispatched as the presser. The action's
    // value is the button's id; what it runs is looked up in the store by the dispatcher.
    this.app.action({ type: 'block_actions', action_id: SLACK_BUTTON_ACTION }, async ({ ack, body, action, context }) => {
      await ack();
      const b = body as BlockAction;
      const value = (action as { value?: unknown }).value;
      const channel = b.channel?.id ?? (typeof b.container?.channel_id === 'string' ? b.container.channel_id : undefined);
      if (typeof value !== 'string' || !channel) return;
      const key = b.trigger_id || (action as { action_ts?: string }).action_ts;
      if (key && !(await this.first(`act:${key}`, context.retryNum))) return;
      // Answers go in the thread of the message that carried the button.
      const thread = (b.message?.thread_ts as string | undefined) ?? b.message?.ts ?? (typeof b.container?.message_ts === 'string' ? b.container.message_ts : undefined);
      if (thread) this.askers.set(`${channel}|${thread}`, b.user.id);
      void this.deliver({
        platform: 'slack',
        channel,
        thread,
        user: { id: b.user.id, name: b.user.username ?? b.user.name },
        text: '',
        files: [],
        direct: b.channel?.name === 'directmessage' || channel.startsWith('D'),
        button: value,
      });
    });
    this.app.error(async (err) => {
      this.log.error({ err: String(err) }, 'slack handler error');
    });
    this.reconnector = new Reconnector('slack', () => this.connect(), log, opts.reconnect.baseMs, opts.reconnect.maxMs);
    this.edits = new EditCoalescer(async (key, text) => {
      const [channel, ts] = key.split('|');
      if (ts!.startsWith('slash:')) {
        await this.viaResponseUrl(ts!, text, false, true);
        return;
      }
      await this.app.client.chat.update({ channel: channel!, ts: ts!, text });
    }, opts.editIntervalMs ?? SLACK_EDIT_INTERVAL_MS);
  }

  /** Hosts that may receive the bot token with a file download: Slack's file host and the configured API host. */
  private get fileHosts(): string[] {
    return ['files.slack.com', new URL(this.opts.apiUrl ?? 'https://slack.com/api/').host];
  }

  /**
   * Answer a slash command through its response_url (works where the bot is not a member). The last of its
   * five uses is kept for a final text: a job's progress line (⏳ …) is sent only while more than one use
   * remains, so the job's result always gets through.
   */
  private async viaResponseUrl(thread: string, text: string, ephemeral: boolean, replace: boolean): Promise<boolean> {
    const sc = this.slashes.get(thread);
    if (!sc?.responseUrl || Date.now() - sc.at > RESPONSE_URL_TTL_MS) return false;
    const left = RESPONSE_URL_USES - sc.uses;
    if (left <= 0) {
      this.log.warn({ thread }, 'slack response_url used up (5 uses); further updates of this reply are dropped');
      return true;
    }
    if (left === 1 && text.startsWith(PROGRESS_MARK)) {
      this.log.debug({ thread }, 'slack response_url: progress update skipped, the last use is kept for the result');
      return true;
    }
    sc.uses++;
    const res = await fetch(sc.responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text, response_type: ephemeral ? 'ephemeral' : 'in_channel', ...(replace ? { replace_original: true } : {}) }),
    });
    await drop(res);
    if (!res.ok) throw new Error(`slack response_url answered HTTP ${res.status}`);
    return true;
  }

  private async deliver(inc: Incoming): Promise<void> {
    try {
      await this.sink?.(inc);
    } catch (err) {
      this.log.error({ err: String(err) }, 'slack dispatch failed');
    }
  }

  /** Whether this delivery is the first of its event across retries and replicas (claimed in the store). */
  private first(key: string, retryNum: number | undefined): Promise<boolean> {
    return firstDelivery(this.opts.claimInbound, key, this.log, { platform: 'slack', retry: retryNum });
  }

  private async fromMessage(e: SlackMsg, direct: boolean, key: string | undefined, retryNum: number | undefined): Promise<void> {
    if (e.bot_id || (e.subtype && e.subtype !== 'file_share') || !e.user) return;
    if (this.botUserId && e.user === this.botUserId) return;
    if (key && !(await this.first(key, retryNum))) return;
    const text = (e.text ?? '').replace(/<@[A-Z0-9]+(\|[^>]*)?>/g, '').trim();
    const thread = e.thread_ts ?? e.ts;
    if (this.askers.size > 5000) this.askers.clear();
    this.askers.set(`${e.channel}|${thread}`, e.user);
    const files: IncomingFile[] = (e.files ?? []).map((f) =>
      slackFile(f, { maxBytes: this.opts.maxBytes, botToken: this.opts.botToken, fileHosts: this.fileHosts, log: this.log, remove: (id) => this.app.client.files.delete({ file: id }) }),
    );
    // Do not hold Bolt's listener (and with it the ack) while the command runs.
    void this.deliver({ platform: 'slack', channel: e.channel, thread, user: { id: e.user }, text: unescapeSlack(text), files, direct });
  }

  async start(sink: (i: Incoming) => Promise<void>): Promise<void> {
    this.sink = sink;
    this.stopping = false;
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
    if (this.stopping) return;
    this.botUserId = auth.user_id;
    if (!this.started) {
      const r = this.opts.mode === 'http' ? await this.app.start({ port: this.opts.http.port, host: this.opts.http.host }) : await this.app.start();
      this.started = true;
      if (this.opts.mode === 'http') this.server = r as Server;
    } else if (this.receiver instanceof SocketModeReceiver) {
      await this.receiver.client.start(); // a new Socket Mode connection after a drop
    }
    if (this.stopping) {
      // stop() ran while this connection was being opened: close it at once.
      await this.teardown();
      return;
    }
    this.log.info({ mode: this.opts.mode, team: auth.team_id }, 'slack connected');
  }

  private async teardown(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.app.stop().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.reconnector.stop();
    await this.reconnector.idle(); // a connect in flight finishes (and closes itself) first
    await this.teardown();
  }

  async send(target: Target, msg: OutMessage): Promise<MessageRef> {
    const client = this.app.client;
    let first: string | undefined;
    const asker = this.askers.get(`${target.channel}|${target.thread ?? ''}`);
    // A slash command has no thread; its synthetic thread only names its response_url.
    const slash = target.thread?.startsWith('slash:') ? target.thread : undefined;
    const threadTs = slash ? undefined : target.thread;
    // Command buttons: an actions block under the message (not on ephemeral or response_url answers).
    const buttons = !msg.ephemeral && !slash ? storedButtons(msg) : [];
    // A structured reply goes as one Block Kit message (its plain text is the notification's fallback).
    let blocks = msg.parts && !msg.ephemeral && !slash ? toSlackBlocks(msg.parts) : undefined;
    if (blocks && buttons.length) blocks = blocks.length < SLACK_MAX_BLOCKS ? [...blocks, slackActionsBlock(buttons)] : undefined;
    if (blocks) {
      const fallback = renderChunks(msg.text, SLACK_LIMIT, toSlackMrkdwn)[0] ?? '';
      const r = await client.chat.postMessage({ channel: target.channel, text: fallback, blocks: blocks as never, ...(threadTs ? { thread_ts: threadTs } : {}) });
      first = r.ts;
    }
    const chunks = msg.text && !blocks ? renderChunks(msg.text, SLACK_LIMIT, toSlackMrkdwn) : [];
    for (const [n, text] of chunks.entries()) {
      try {
        if (msg.ephemeral && asker) {
          await client.chat.postEphemeral({ channel: target.channel, user: asker, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
          first ??= 'ephemeral';
          continue;
        }
        // The last piece carries the buttons: its text as sections, then the actions block.
        const withButtons = buttons.length && n === chunks.length - 1 ? { blocks: slackTextWithButtons(text, buttons) as never } : {};
        const r = await client.chat.postMessage({ channel: target.channel, text, ...withButtons, ...(threadTs ? { thread_ts: threadTs } : {}) });
        first ??= r.ts;
      } catch (err) {
        // A private channel the bot has not joined: answer through the slash command's response_url.
        const code = (err as { data?: { error?: string } }).data?.error;
        if (!slash || (code !== 'not_in_channel' && code !== 'channel_not_found') || !(await this.viaResponseUrl(slash, text, Boolean(msg.ephemeral), false))) throw err;
        this.log.info({ channel: target.channel, error: code }, 'slack: not in this channel; answered through the slash command response_url');
        first ??= msg.ephemeral ? 'ephemeral' : slash;
      }
    }
    if (msg.files?.length) {
      await client.filesUploadV2({
        channel_id: target.channel,
        ...(threadTs ? { thread_ts: threadTs } : {}),
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
