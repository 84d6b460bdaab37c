// Discord adapter (discord.js v14): the slash command `/sb command:<line> [file]` registered per configured
// guild, and a prefix form (`!sb help`, or a mention) where the message-content intent is granted.
// Interactions are deferred at once and answered through the interaction webhook (ephemeral with flag 64);
// other replies, job progress edits and files go through the channel REST API; DMs via POST /users/@me/channels.
// discord.js resumes a dropped gateway connection itself and queues requests per its rate-limit headers
// (429 retry_after honoured).
import { Client, GatewayIntentBits, Partials, Routes, Events, MessageFlags, ApplicationCommandOptionType, type Interaction, type Message, type Attachment } from 'discord.js';
import type { Logger } from '../log.js';
import type { ChatAdapter, Incoming, IncomingFile, MessageRef, OutMessage, Target } from '../core/types.js';
import { allowed, downloadCapped, FileTooLarge, EditCoalescer, Reconnector, renderChunks, toDiscordMarkdown } from './util.js';

export const DISCORD_LIMIT = 2000;
/** Interaction tokens live 15 minutes; after that replies go to the channel. */
const INTERACTION_TTL_MS = 14 * 60_000;

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
  readonly client: Client;
  private sink?: (i: Incoming) => Promise<void>;
  private reconnector: Reconnector;
  private edits: EditCoalescer<{ ref: MessageRef; content: string }>;
  private interactions = new Map<string, PendingInteraction>();
  private askers = new Map<string, string>();
  private loggedIn = false;

  constructor(private opts: DiscordOptions, private log: Logger) {
    const intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages];
    if (opts.messageContent) intents.push(GatewayIntentBits.MessageContent);
    this.client = new Client({
      intents,
      partials: [Partials.Channel, Partials.Message],
      rest: opts.apiUrl ? { api: opts.apiUrl.replace(/\/$/, '') } : {},
      waitGuildTimeout: 2000,
    });
    // REST works before (and without) a gateway login, e.g. alerts posted from `switchboard exec`.
    this.client.rest.setToken(opts.botToken);
    this.client.on(Events.InteractionCreate, (i) => void this.onInteraction(i).catch((err) => this.log.error({ err: String(err) }, 'discord interaction failed')));
    this.client.on(Events.MessageCreate, (m) => void this.onMessage(m).catch((err) => this.log.error({ err: String(err) }, 'discord message failed')));
    this.client.on(Events.ClientReady, () => void this.registerCommands());
    this.client.on(Events.ShardDisconnect, (ev, id) => this.log.warn({ shard: id, code: ev.code }, 'discord gateway disconnected'));
    this.client.on(Events.ShardReconnecting, (id) => this.log.info({ shard: id }, 'discord gateway reconnecting'));
    this.client.on(Events.ShardResume, (id) => this.log.info({ shard: id }, 'discord gateway resumed'));
    this.client.on(Events.Error, (err) => this.log.error({ err: String(err) }, 'discord client error'));
    this.reconnector = new Reconnector('discord', () => this.connect(), log, opts.reconnect.baseMs, opts.reconnect.maxMs);
    this.edits = new EditCoalescer(async (_key, { ref, content }) => {
      const ix = this.liveInteraction(ref.thread);
      if (ix) await this.client.rest.patch(Routes.webhookMessage(this.opts.applicationId, ix.token, ref.id), { body: { content }, auth: false });
      else await this.client.rest.patch(Routes.channelMessage(ref.channel, ref.id), { body: { content } });
    });
  }

  async start(sink: (i: Incoming) => Promise<void>): Promise<void> {
    this.sink = sink;
    await this.reconnector.start();
  }

  private async connect(): Promise<void> {
    if (this.loggedIn) return;
    await this.client.login(this.opts.botToken);
    this.loggedIn = true;
  }

  private async registerCommands(): Promise<void> {
    this.log.info({ user: this.client.user?.tag }, 'discord connected');
    for (const guild of this.opts.allowedGuilds) {
      try {
        await this.client.rest.put(Routes.applicationGuildCommands(this.opts.applicationId, guild), { body: [SLASH_COMMAND] });
      } catch (err) {
        this.log.error({ err: String(err), guild }, 'discord slash command registration failed');
      }
    }
  }

  async stop(): Promise<void> {
    this.reconnector.stop();
    if (this.loggedIn) await this.client.destroy();
    this.loggedIn = false;
  }

  private permitted(guildId: string | null, user: string): boolean {
    const ok = guildId ? allowed(this.opts.allowedGuilds, guildId) : this.opts.allowDirect;
    if (!ok) this.log.warn({ platform: 'discord', guild: guildId ?? '(direct)', user }, 'request from a guild that is not allowed; ignored');
    return ok;
  }

  private file(a: Attachment): IncomingFile {
    return {
      name: a.name,
      size: a.size,
      mime: a.contentType ?? undefined,
      fetch: async () => {
        if (a.size > this.opts.maxBytes) throw new FileTooLarge(`${a.name} is ${a.size} bytes; the limit is ${this.opts.maxBytes}`);
        return downloadCapped(a.url, this.opts.maxBytes);
      },
    };
  }

  private async onInteraction(i: Interaction): Promise<void> {
    if (!i.isChatInputCommand() || i.commandName !== SLASH_COMMAND.name) return;
    if (!this.permitted(i.guildId, i.user.id)) return;
    await i.deferReply();
    for (const [k, v] of this.interactions) if (Date.now() - v.at > INTERACTION_TTL_MS) this.interactions.delete(k);
    this.interactions.set(i.id, { token: i.token, at: Date.now(), originalUsed: false, user: i.user.id });
    const att = i.options.getAttachment('file');
    const inc: Incoming = {
      platform: 'discord',
      channel: i.channelId,
      thread: `ix:${i.id}`,
      user: { id: i.user.id, name: i.user.username },
      text: i.options.getString('command', true),
      files: att ? [this.file(att)] : [],
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
    if (this.askers.size > 5000) this.askers.clear();
    this.askers.set(`${m.channelId}|${m.id}`, m.author.id);
    await this.sink({
      platform: 'discord',
      channel: m.channelId,
      thread: m.id,
      user: { id: m.author.id, name: m.author.username },
      text: text.trim(),
      files: [...m.attachments.values()].map((a) => this.file(a)),
      direct: !m.guildId,
    });
  }

  private liveInteraction(thread?: string): PendingInteraction | undefined {
    if (!thread?.startsWith('ix:')) return undefined;
    const ix = this.interactions.get(thread.slice(3));
    if (!ix) return undefined;
    if (Date.now() - ix.at > INTERACTION_TTL_MS) {
      this.interactions.delete(thread.slice(3));
      return undefined;
    }
    return ix;
  }

  async send(target: Target, msg: OutMessage): Promise<MessageRef> {
    const chunks = msg.text ? renderChunks(msg.text, DISCORD_LIMIT, toDiscordMarkdown) : [''];
    const files = (msg.files ?? []).map((f) => ({ name: f.name, data: f.data, contentType: f.mime }));
    const ix = this.liveInteraction(target.thread);
    let first: string | undefined;
    for (let n = 0; n < chunks.length; n++) {
      const content = chunks[n]!;
      const withFiles = n === chunks.length - 1 ? files : [];
      const body: Record<string, unknown> = { content };
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
