// Discord adapter (discord.js v14): the slash command `/sb command:<line> [file]` registered per configured
// guild, and a prefix form (`!sb help`, or a mention) where the message-content intent is granted.
// Interactions are deferred at once and answered through the interaction webhook (ephemeral with flag 64);
// other replies, job progress edits and files go through the channel REST API; DMs via POST /users/@me/channels.
// Command buttons are an action row; a press (message component interaction) is handled like a slash command.
// discord.js resumes a dropped gateway connection itself and queues requests per its rate-limit headers
// (429 retry_after honoured). When it gives up (a fatal close code such as 4004, or the client is invalidated)
// the adapter replaces the client and logs in again through its Reconnector with back-off. Every message goes
// out with allowed_mentions {parse: []}: text from data (caller names, room fields) never pings @everyone.
import {
  Client,
  GatewayIntentBits,
  Partials,
  Routes,
  Events,
  MessageFlags,
  ApplicationCommandOptionType,
  type Interaction,
  type Message,
  type Attachment,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
} from 'discord.js';
import type { Logger } from '../../log.js';
import type { ChatAdapter, Incoming, IncomingFile, MessageRef, OutMessage, Target } from '../../core/types.js';
import { allowed, firstDelivery, type InboundClaim } from '../inbound-checks.js';
import { backoff, Reconnector } from '../reconnector.js';
import { BUTTON_PREFIX, buttonLabel, storedButtons } from '../buttons.js';
import { discardWith, downloadCapped, FileTooLarge } from '../inbound-files.js';
import { EditCoalescer } from '../edit-coalescer.js';
import { renderChunks } from '../text-split.js';
import { toDiscordMarkdown } from '../markup.js';

export const DISCORD_LIMIT = 2000;
/** Interaction tokens live 15 minutes; after that replies go to the channel. */
export const INTERACTION_TTL_MS = 14 * 60_000;
/** Edits of one message at least this far apart (Discord allows about 5 per 5 s per channel). */
export const DISCORD_EDIT_INTERVAL_MS = 500;
/** Gateway close codes after which discord.js does not reconnect by itself. */
const FATAL_CLOSE_CODES = new Set([4004, 4010, 4011, 4012, 4013, 4014]);

export interface DiscordOptions {
  botToken: string;
  applicationId: string;
  apiUrl?: string;
  allowedGuilds: string[];
  messageContent: boolean;
  prefix: string;
  allowDirect: boolean;
  maxBytes: number;
  reconnect: { baseMs: number; maxMs: number };
  /** After this long an interaction's message can no longer be edited; default 14 minutes. */
  interactionTtlMs?: number;
  editIntervalMs?: number;
  /** De-duplicates gateway events across sessions and replicas (by interaction id / message id). */
  claimInbound?: InboundClaim;
}

export const SLASH_COMMAND = {
  name: 'sb',
  description: 'Run a Switchboard command (try: help)',
  options: [
    { type: ApplicationCommandOptionType.String, name: 'command', description: 'the command line, e.g. help or dhcp import --dry-run', required: true },
    { type: ApplicationCommandOptionType.Attachment, name: 'file', description: 'a file for the command (e.g. a CSV to import)', required: false },
  ],
};

interface PendingInteraction {
  token: string;
  at: number;
  originalUsed: boolean;
  user: string;
}

export class DiscordAdapter implements ChatAdapter {
  readonly platform = 'discord';
  readonly buttons = true;
  client: Client;
  private sink?: (i: Incoming) => Promise<void>;
  private reconnector: Reconnector;
  private edits: EditCoalescer<{ ref: MessageRef; content: string }>;
  private interactions = new Map<string, PendingInteraction>();
  private askers = new Map<string, string>();
  /** Interaction messages that outlived their token: their edits go to a channel message posted instead. */
  private moved = new Map<string, string>();
  private loggedIn = false;
  /** The client whose login is in flight. */
  private loggingIn?: Client;
  /** Bumped by each registration run: an older run that finishes late schedules no retry. */
  private registerRun = 0;
  private stopped = false;
  /** Guilds whose slash command is registered (registration is retried with back-off until it works). */
  private registered = new Set<string>();
  private registerTimer?: NodeJS.Timeout;
  private registerAttempt = 0;
  private readonly ttlMs: number;

  constructor(
    private opts: DiscordOptions,
    private log: Logger,
  ) {
    this.ttlMs = opts.interactionTtlMs ?? INTERACTION_TTL_MS;
    this.client = this.newClient();
    this.reconnector = new Reconnector('discord', () => this.connect(), log, opts.reconnect.baseMs, opts.reconnect.maxMs);
    this.edits = new EditCoalescer(async (_key, { ref, content }) => {
      const body = { content, allowed_mentions: this.mentions(content, ref) };
      const ix = this.liveInteraction(ref.thread);
      if (ix) return void (await this.client.rest.patch(Routes.webhookMessage(this.opts.applicationId, ix.token, ref.id), { body, auth: false }));
      if (ref.thread?.startsWith('ix:')) {
        // The interaction token has expired: its message cannot be edited any more, so the text goes to the
        // channel as a new message, and later edits edit that one.
        const moved = this.moved.get(ref.id);
        if (moved) return void (await this.client.rest.patch(Routes.channelMessage(ref.channel, moved), { body }));
        const r = (await this.client.rest.post(Routes.channelMessages(ref.channel), { body })) as { id: string };
        if (this.moved.size > 5000) this.moved.clear();
        this.moved.set(ref.id, r.id);
        return;
      }
      await this.client.rest.patch(Routes.channelMessage(ref.channel, ref.id), { body });
    }, opts.editIntervalMs ?? DISCORD_EDIT_INTERVAL_MS);
  }

  private newClient(): Client {
    const intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages];
    if (this.opts.messageContent) intents.push(GatewayIntentBits.MessageContent);
    const client = new Client({
      intents,
      partials: [Partials.Channel, Partials.Message],
      rest: this.opts.apiUrl ? { api: this.opts.apiUrl.replace(/\/$/, '') } : {},
      waitGuildTimeout: 2000,
    });
    // REST works before (and without) a gateway login, e.g. alerts posted from `switchboard exec`.
    client.rest.setToken(this.opts.botToken);
    client.on(Events.InteractionCreate, (i) => void this.onInteraction(i).catch((err) => this.log.error({ err: String(err) }, 'discord interaction failed')));
    client.on(Events.MessageCreate, (m) => void this.onMessage(m).catch((err) => this.log.error({ err: String(err) }, 'discord message failed')));
    client.on(Events.ClientReady, () => {
      this.log.info({ user: client.user?.tag }, 'discord connected');
      this.registerAttempt = 0;
      void this.registerCommands();
    });
    client.on(Events.ShardDisconnect, (ev, id) => {
      this.log.warn({ shard: id, code: ev.code }, 'discord gateway disconnected');
      // discord.js does not come back after these codes: start over with a new client, with back-off.
      if (FATAL_CLOSE_CODES.has(ev.code) && client === this.client) this.lost(client, new Error(`gateway closed with code ${ev.code}`));
    });
    client.on(Events.Invalidated, () => {
      if (client === this.client) this.lost(client, new Error('the gateway session was invalidated'));
    });
    client.on(Events.ShardReconnecting, (id) => this.log.info({ shard: id }, 'discord gateway reconnecting'));
    client.on(Events.ShardResume, (id) => this.log.info({ shard: id }, 'discord gateway resumed'));
    client.on(Events.Error, (err) => this.log.error({ err: String(err) }, 'discord client error'));
    return client;
  }

  /** The client gave up: replace it (so REST keeps working meanwhile) and log in again with back-off. */
  private lost(client: Client, err: Error): void {
    if (this.stopped || client !== this.client) return;
    this.loggedIn = false;
    this.replaceClient(client);
    this.reconnector.lost(err, 'discord gateway gave up; logging in again with back-off');
  }

  /** Swap in a fresh client for one that cannot be used again (REST keeps working through the new one). */
  private replaceClient(client: Client): void {
    if (client !== this.client) return;
    this.client = this.newClient();
    void client.destroy().catch(() => undefined);
  }

  async start(sink: (i: Incoming) => Promise<void>): Promise<void> {
    this.sink = sink;
    this.stopped = false;
    await this.reconnector.start();
  }

  private async connect(): Promise<void> {
    if (this.loggedIn) return;
    const client = this.client;
    this.loggingIn = client;
    try {
      await client.login(this.opts.botToken);
    } catch (err) {
      if (this.loggingIn === client) this.loggingIn = undefined;
      // A failed login leaves the client unusable: the next attempt uses a new one.
      this.replaceClient(client);
      throw err;
    }
    if (this.loggingIn === client) this.loggingIn = undefined;
    if (this.stopped) {
      // stop() ran while logging in: close this gateway connection at once.
      await client.destroy().catch(() => undefined);
      return;
    }
    if (client === this.client) this.loggedIn = true;
  }

  private async registerCommands(): Promise<void> {
    clearTimeout(this.registerTimer);
    this.registerTimer = undefined;
    const run = ++this.registerRun;
    let failed: unknown;
    for (const guild of this.opts.allowedGuilds) {
      if (this.stopped || run !== this.registerRun) return;
      if (this.registered.has(guild)) continue;
      try {
        await this.client.rest.put(Routes.applicationGuildCommands(this.opts.applicationId, guild), { body: [SLASH_COMMAND] });
        this.registered.add(guild);
      } catch (err) {
        failed = err;
        this.log.error({ err: String(err), guild }, 'discord slash command registration failed');
      }
    }
    if (failed && !this.stopped && run === this.registerRun) {
      clearTimeout(this.registerTimer);
      const ms = backoff(this.registerAttempt++, this.opts.reconnect.baseMs, this.opts.reconnect.maxMs);
      this.log.warn({ retryInMs: ms }, 'discord slash command registration will be retried');
      this.registerTimer = setTimeout(() => void this.registerCommands(), ms);
      this.registerTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reconnector.stop();
    clearTimeout(this.registerTimer);
    this.registerTimer = undefined;
    this.registerRun++;
    const inFlight = this.loggingIn;
    await this.reconnector.idle(); // a login in flight finishes (and closes itself) first
    // A destroyed client has no token: a fresh one keeps REST (posts, edits, DMs) working, and start() can log
    // in again (a replica that lost the gateway lease still sends, and connects when it gets the lease back).
    if (this.loggedIn || inFlight === this.client) {
      const old = this.client;
      this.client = this.newClient();
      await old.destroy().catch(() => undefined);
    }
    this.loggedIn = false;
  }

  /** Whether this replica holds a gateway session now. */
  get connected(): boolean {
    return this.loggedIn;
  }

  /** No mass or role pings from text; only an explicit mention of the requester may notify. */
  private mentions(content: string, target: { channel: string; thread?: string }): { parse: never[]; users?: string[] } {
    const asker = target.thread?.startsWith('ix:') ? this.interactions.get(target.thread.slice(3))?.user : target.thread ? this.askers.get(`${target.channel}|${target.thread}`) : undefined;
    return asker && (content.includes(`<@${asker}>`) || content.includes(`<@!${asker}>`)) ? { parse: [], users: [asker] } : { parse: [] };
  }

  private permitted(guildId: string | null, user: string): boolean {
    const ok = guildId ? allowed(this.opts.allowedGuilds, guildId) : this.opts.allowDirect;
    if (!ok) this.log.warn({ platform: 'discord', guild: guildId ?? '(direct)', user }, 'request from a guild that is not allowed; ignored');
    return ok;
  }

  private file(a: Attachment, message?: { channel: string; id: string }): IncomingFile {
    return {
      name: a.name,
      size: a.size,
      mime: a.contentType ?? undefined,
      fetch: async () => {
        if (a.size > this.opts.maxBytes) throw new FileTooLarge(`${a.name} is ${a.size} bytes; the limit is ${this.opts.maxBytes}`);
        return downloadCapped(a.url, this.opts.maxBytes, {}, { name: a.name });
      },
      // A slash command's attachment is not a message in the channel: nothing the bot could delete.
      discard: async () =>
        message
          ? discardWith(this.log, 'discord: could not delete the message carrying an upload (Manage Messages permission?)', { channel: message.channel }, () =>
              this.client.rest.delete(Routes.channelMessage(message.channel, message.id)),
            )
          : false,
    };
  }

  private async onInteraction(i: Interaction): Promise<void> {
    // A press of a command button (a message component interaction): custom_id `sb:<button id>`, looked up in
    // the store by the dispatcher and run as the presser, answered like a slash command (deferred reply).
    if (i.isButton()) {
      if (!i.customId.startsWith(BUTTON_PREFIX)) return;
      return this.dispatchInteraction(i, { text: '', files: [], button: i.customId.slice(BUTTON_PREFIX.length) });
    }
    if (!i.isChatInputCommand() || i.commandName !== SLASH_COMMAND.name) return;
    const att = i.options.getAttachment('file');
    return this.dispatchInteraction(i, { text: i.options.getString('command', true), files: att ? [this.file(att)] : [] });
  }

  /** An interaction (slash command or button) deferred at once and answered through its webhook. */
  private async dispatchInteraction(i: ChatInputCommandInteraction | ButtonInteraction, what: Pick<Incoming, 'text' | 'files' | 'button'>): Promise<void> {
    if (!this.permitted(i.guildId, i.user.id)) return;
    // Claimed before the deferral: an interaction can be acknowledged once, by the replica that claimed it.
    if (!(await firstDelivery(this.opts.claimInbound, `ix:${i.id}`, this.log, { platform: 'discord' }))) return;
    await i.deferReply();
    for (const [k, v] of this.interactions) if (Date.now() - v.at > this.ttlMs) this.interactions.delete(k);
    this.interactions.set(i.id, { token: i.token, at: Date.now(), originalUsed: false, user: i.user.id });
    const inc: Incoming = {
      platform: 'discord',
      channel: i.channelId,
      thread: `ix:${i.id}`,
      user: { id: i.user.id, name: i.user.username },
      ...what,
      direct: !i.guildId,
    };
    await this.sink?.(inc);
    // Nothing was said (a command that only starts a job does say something; this is a guard).
    const ix = this.interactions.get(i.id);
    if (ix && !ix.originalUsed) {
      ix.originalUsed = true;
      await this.client.rest.patch(Routes.webhookMessage(this.opts.applicationId, ix.token, '@original'), { body: { content: '✔️' }, auth: false }).catch(() => undefined);
    }
  }

  private async onMessage(m: Message): Promise<void> {
    if (m.author.bot || !this.sink) return;
    const me = this.client.user?.id;
    let text: string | undefined;
    const content = m.content ?? '';
    if (me && new RegExp(`^<@!?${me}>`).test(content)) text = content.replace(/^<@!?\d+>/, '');
    else if (content.toLowerCase().startsWith(this.opts.prefix.toLowerCase())) text = content.slice(this.opts.prefix.length);
    else if (!m.guildId && content) text = content;
    if (text === undefined) return;
    if (!this.permitted(m.guildId, m.author.id)) return;
    if (!(await firstDelivery(this.opts.claimInbound, `m:${m.id}`, this.log, { platform: 'discord' }))) return;
    if (this.askers.size > 5000) this.askers.clear();
    this.askers.set(`${m.channelId}|${m.id}`, m.author.id);
    await this.sink({
      platform: 'discord',
      channel: m.channelId,
      thread: m.id,
      user: { id: m.author.id, name: m.author.username },
      text: text.trim(),
      files: [...m.attachments.values()].map((a) => this.file(a, { channel: m.channelId, id: m.id })),
      direct: !m.guildId,
    });
  }

  private liveInteraction(thread?: string): PendingInteraction | undefined {
    if (!thread?.startsWith('ix:')) return undefined;
    const ix = this.interactions.get(thread.slice(3));
    if (!ix) return undefined;
    if (Date.now() - ix.at > this.ttlMs) return undefined; // kept (for its requester) until the sweep
    return ix;
  }

  async send(target: Target, msg: OutMessage): Promise<MessageRef> {
    const files = (msg.files ?? []).map((f) => ({ name: f.name, data: f.data, contentType: f.mime }));
    // Discord rejects a message with neither content nor files: there is nothing to send.
    if (!msg.text && !files.length) return { platform: 'discord', channel: target.channel, id: '', thread: target.thread };
    const chunks = msg.text ? renderChunks(msg.text, DISCORD_LIMIT, toDiscordMarkdown) : [''];
    const ix = this.liveInteraction(target.thread);
    // Command buttons: one action row under the last piece, custom_id `sb:<button id>`.
    const buttons = storedButtons(msg);
    const components = buttons.length ? [{ type: 1, components: buttons.map((b) => ({ type: 2, style: 1, label: buttonLabel(b.label, 80), custom_id: `${BUTTON_PREFIX}${b.id}` })) }] : undefined;
    let first: string | undefined;
    for (let n = 0; n < chunks.length; n++) {
      const content = chunks[n]!;
      const last = n === chunks.length - 1;
      const withFiles = last ? files : [];
      const body: Record<string, unknown> = { content, allowed_mentions: this.mentions(content, target) };
      if (last && components) body.components = components;
      if (withFiles.length) body.attachments = withFiles.map((f, id) => ({ id, filename: f.name }));
      let r: { id: string };
      if (ix) {
        if (msg.ephemeral) {
          body.flags = MessageFlags.Ephemeral;
          r = (await this.client.rest.post(Routes.webhook(this.opts.applicationId, ix.token), { body, files: withFiles, auth: false })) as { id: string };
        } else if (!ix.originalUsed) {
          ix.originalUsed = true;
          r = (await this.client.rest.patch(Routes.webhookMessage(this.opts.applicationId, ix.token, '@original'), { body, files: withFiles, auth: false })) as { id: string };
        } else {
          r = (await this.client.rest.post(Routes.webhook(this.opts.applicationId, ix.token), { body, files: withFiles, auth: false })) as { id: string };
        }
      } else {
        const asker = target.thread ? this.askers.get(`${target.channel}|${target.thread}`) : undefined;
        if (msg.ephemeral && asker) {
          await this.dm(asker, { ...msg, ephemeral: false });
          return { platform: 'discord', channel: target.channel, id: '', thread: target.thread };
        }
        if (target.thread && /^\d+$/.test(target.thread) && n === 0) body.message_reference = { message_id: target.thread, fail_if_not_exists: false };
        r = (await this.client.rest.post(Routes.channelMessages(target.channel), { body, files: withFiles })) as { id: string };
      }
      first ??= r.id;
    }
    return { platform: 'discord', channel: target.channel, id: first ?? '', thread: target.thread };
  }

  async update(ref: MessageRef, msg: OutMessage): Promise<void> {
    if (!ref.id) return;
    const content = renderChunks(msg.text, DISCORD_LIMIT, toDiscordMarkdown)[0] ?? '';
    await this.edits.edit(`${ref.channel}|${ref.id}`, { ref, content });
  }

  async dm(userId: string, msg: OutMessage): Promise<void> {
    const ch = (await this.client.rest.post(Routes.userChannels(), { body: { recipient_id: userId } })) as { id: string };
    await this.send({ platform: 'discord', channel: ch.id }, msg);
  }
}
