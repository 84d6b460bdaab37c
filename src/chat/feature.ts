// The `chat` feature: creates the enabled Slack / Telegram / Discord adapters, registers them with the
// notifier (so `slack:C0123`-style targets work) and connects them on start. One platform failing to
// connect never stops the others: each adapter retries with back-off in the background. Across replicas: the
// Discord gateway and Telegram long polling are held by one replica through a lease (connection-lease.ts),
// and every inbound event is claimed in the store by its platform id, so it is dispatched once.
import { errorReply } from '../util/errors.js';
import crypto from 'node:crypto';
import type { App, Feature } from '../app-types.js';
import type { ChatAdapter } from '../core/types.js';
import { registerSecret } from '../secrets.js';
import { Leases } from '../core/leases.js';
import { OWNER } from '../core/jobs.js';
import { ConnectionLease } from './connection-lease.js';
import type { InboundClaim } from './util.js';
// The platform SDKs are loaded only for the platforms in use (each is tens of MB of resident memory).
import type { SlackAdapter } from './slack.js';
import type { TelegramAdapter } from './telegram.js';
import type { DiscordAdapter } from './discord.js';

export interface ChatConfig {
  reconnect: { baseMs: number; maxMs: number };
  slack: {
    enabled?: boolean;
    mode: 'socket' | 'http';
    botToken?: string;
    appToken?: string;
    signingSecret?: string;
    apiUrl?: string;
    allowedWorkspaces: string[];
    http: { host: string; port: number; path: string };
    pingTimeoutMs: number;
  };
  telegram: {
    enabled?: boolean;
    mode: 'polling' | 'webhook';
    botToken?: string;
    webhookSecret?: string;
    webhookPath: string;
    apiRoot?: string;
    allowedChats: string[];
  };
  discord: {
    enabled?: boolean;
    botToken?: string;
    applicationId?: string;
    apiUrl?: string;
    allowedGuilds: string[];
    messageContent: boolean;
    prefix: string;
    allowDirect: boolean;
    interactionTtlMs: number;
  };
}

declare module '../config.js' {
  interface ConfigSections {
    chat: ChatConfig;
  }
}

export interface ChatService {
  adapters: ChatAdapter[];
  slack?: SlackAdapter;
  telegram?: TelegramAdapter;
  discord?: DiscordAdapter;
  /** The connections held through a lease (server mode): Discord's gateway, Telegram's long polling. */
  leases: { discord?: ConnectionLease; telegram?: ConnectionLease };
}

/** Inbound events are remembered this long: Slack retries an event for about 5 minutes after the first try. */
export const INBOUND_CLAIM_TTL_MS = 60 * 60_000;

/** A lease name within the store's 64 characters (ids are short; anything odd is hashed). */
function leaseName(platform: string, id: string): string {
  const name = `chat:${platform}:${id}`;
  return name.length <= 64 ? name : `chat:${platform}:${crypto.createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

declare module '../app-types.js' {
  interface Services {
    chat: ChatService;
  }
}

const idList = { type: 'array', items: { type: 'string', minLength: 1 }, default: [] };

export const chatConfigSection = {
  key: 'chat',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      reconnect: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: { baseMs: { type: 'integer', minimum: 10, default: 1000 }, maxMs: { type: 'integer', minimum: 100, default: 60000 } },
      },
      slack: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          enabled: { type: 'boolean' },
          mode: { enum: ['socket', 'http'], default: 'socket' },
          botToken: { type: 'string' },
          appToken: { type: 'string' },
          signingSecret: { type: 'string' },
          apiUrl: { type: 'string', pattern: '^https?://' },
          allowedWorkspaces: idList,
          http: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: { host: { type: 'string', default: '0.0.0.0' }, port: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 }, path: { type: 'string', default: '/slack/events' } },
          },
          pingTimeoutMs: { type: 'integer', minimum: 100, default: 5000 },
        },
      },
      telegram: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          enabled: { type: 'boolean' },
          mode: { enum: ['polling', 'webhook'], default: 'polling' },
          botToken: { type: 'string' },
          webhookSecret: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,256}$' },
          webhookPath: { type: 'string', default: '/telegram/webhook' },
          apiRoot: { type: 'string', pattern: '^https?://' },
          allowedChats: idList,
        },
      },
      discord: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          enabled: { type: 'boolean' },
          botToken: { type: 'string' },
          applicationId: { type: 'string' },
          apiUrl: { type: 'string', pattern: '^https?://' },
          allowedGuilds: idList,
          messageContent: { type: 'boolean', default: false },
          prefix: { type: 'string', minLength: 1, default: '!sb' },
          allowDirect: { type: 'boolean', default: false },
          interactionTtlMs: { type: 'integer', minimum: 1000, maximum: 900000, default: 840000 },
        },
      },
    },
  },
  env: {
    SLACK_BOT_TOKEN: 'slack.botToken',
    SLACK_APP_TOKEN: 'slack.appToken',
    SLACK_SIGNING_SECRET: 'slack.signingSecret',
    SLACK_API_URL: 'slack.apiUrl',
    SLACK_MODE: 'slack.mode',
    SLACK_ALLOWED_WORKSPACES: 'slack.allowedWorkspaces',
    TELEGRAM_BOT_TOKEN: 'telegram.botToken',
    TELEGRAM_WEBHOOK_SECRET: 'telegram.webhookSecret',
    TELEGRAM_API_ROOT: 'telegram.apiRoot',
    TELEGRAM_MODE: 'telegram.mode',
    TELEGRAM_ALLOWED_CHATS: 'telegram.allowedChats',
    DISCORD_BOT_TOKEN: 'discord.botToken',
    DISCORD_APPLICATION_ID: 'discord.applicationId',
    DISCORD_API_URL: 'discord.apiUrl',
    DISCORD_ALLOWED_GUILDS: 'discord.allowedGuilds',
  },
  secrets: ['slack.botToken', 'slack.appToken', 'slack.signingSecret', 'telegram.botToken', 'telegram.webhookSecret', 'discord.botToken'],
};

/** "a,b" env values arrive as one string; accept comma lists. */
const ids = (l: string[]) => l.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);

function on(enabled: boolean | undefined, token: string | undefined): boolean {
  return enabled ?? Boolean(token);
}

export const chatFeature: Feature = {
  name: 'chat',
  // Connects the chat platforms last, once every capability is up.
  after: ['dhcp', 'monitor', 'provision', 'renew'],
  config: chatConfigSection,
  async init(app: App) {
    const c = app.config.chat;
    const log = app.log.child({ mod: 'chat' });
    const maxBytes = app.config.uploads.maxBytes;
    const svc: ChatService = { adapters: [], leases: {} };
    // The store decides which replica handles an event; if it cannot answer, the event is handled here
    // (a possible duplicate rather than a lost command).
    // A chat not on the Telegram allow-list is told its id once; the claim outlives any realistic setup.
    const REFUSAL_NOTICE_TTL_MS = 365 * 24 * 3600_000;
    const claimInbound =
      (platform: string): InboundClaim =>
      async (key) => {
        try {
          return await app.claims.claim(`chat:${platform}:${key}`, INBOUND_CLAIM_TTL_MS);
        } catch (err) {
          log.warn({ platform, err: String(err) }, 'could not claim an inbound event in the store; handling it here');
          return true;
        }
      };
    for (const s of [c.slack.botToken, c.slack.appToken, c.slack.signingSecret, c.telegram.botToken, c.telegram.webhookSecret, c.discord.botToken]) registerSecret(s);
    if (on(c.slack.enabled, c.slack.botToken)) {
      if (!c.slack.botToken) throw new Error('chat.slack is enabled but SLACK_BOT_TOKEN (chat.slack.botToken) is not set');
      if (c.slack.mode === 'socket' && !c.slack.appToken) throw new Error('chat.slack.mode is socket but SLACK_APP_TOKEN (chat.slack.appToken) is not set');
      if (c.slack.mode === 'http' && !c.slack.signingSecret) throw new Error('chat.slack.mode is http but SLACK_SIGNING_SECRET (chat.slack.signingSecret) is not set');
      const { SlackAdapter } = await import('./slack.js');
      svc.slack = new SlackAdapter(
        { ...c.slack, botToken: c.slack.botToken, allowedWorkspaces: ids(c.slack.allowedWorkspaces), maxBytes, reconnect: c.reconnect, claimInbound: claimInbound('slack') },
        log.child({ platform: 'slack' }),
      );
    }
    if (on(c.telegram.enabled, c.telegram.botToken)) {
      if (!c.telegram.botToken) throw new Error('chat.telegram is enabled but TELEGRAM_BOT_TOKEN (chat.telegram.botToken) is not set');
      if (c.telegram.mode === 'webhook' && !c.telegram.webhookSecret) throw new Error('chat.telegram.mode is webhook but TELEGRAM_WEBHOOK_SECRET (chat.telegram.webhookSecret) is not set');
      const { TelegramAdapter } = await import('./telegram.js');
      const tg = new TelegramAdapter(
        { botToken: c.telegram.botToken, apiRoot: c.telegram.apiRoot, mode: c.telegram.mode, webhookSecret: c.telegram.webhookSecret, allowedChats: ids(c.telegram.allowedChats), maxBytes, reconnect: c.reconnect, registry: app.registry, claimInbound: claimInbound('telegram'), claimRefusalNotice: (key) => app.claims.claim(`chat:telegram:${key}`, REFUSAL_NOTICE_TTL_MS), allowSetting: 'chat.telegram.allowedChats (env TELEGRAM_ALLOWED_CHATS, comma-separated)' },
        log.child({ platform: 'telegram' }),
      );
      svc.telegram = tg;
      if (c.telegram.mode === 'webhook') {
        app.http.post(c.telegram.webhookPath, async (req, reply) => {
          if (req.headers['x-telegram-bot-api-secret-token'] !== c.telegram.webhookSecret) return errorReply(reply, 'SB_WEBHOOK_SECRET_INVALID', 'bad secret token');
          await tg.handleWebhook(req.body);
          return reply.send({ ok: true });
        });
      }
    }
    if (on(c.discord.enabled, c.discord.botToken)) {
      if (!c.discord.botToken || !c.discord.applicationId) throw new Error('chat.discord is enabled but DISCORD_BOT_TOKEN and DISCORD_APPLICATION_ID must both be set');
      const { DiscordAdapter } = await import('./discord.js');
      svc.discord = new DiscordAdapter(
        { ...c.discord, botToken: c.discord.botToken, applicationId: c.discord.applicationId, allowedGuilds: ids(c.discord.allowedGuilds), maxBytes, reconnect: c.reconnect, claimInbound: claimInbound('discord') },
        log.child({ platform: 'discord' }),
      );
    }
    const lists: [unknown, string[], string][] = [
      [svc.slack, c.slack.allowedWorkspaces, 'chat.slack.allowedWorkspaces (SLACK_ALLOWED_WORKSPACES)'],
      [svc.telegram, c.telegram.allowedChats, 'chat.telegram.allowedChats (TELEGRAM_ALLOWED_CHATS)'],
      [svc.discord, c.discord.allowedGuilds, 'chat.discord.allowedGuilds (DISCORD_ALLOWED_GUILDS)'],
    ];
    for (const [a, list, key] of lists) if (a && ids(list).length === 0) log.warn(`${key} is empty: nobody can use the bot there until it lists who may`);
    svc.adapters = [svc.slack, svc.telegram, svc.discord].filter((a): a is NonNullable<typeof a> => a !== undefined);
    for (const a of svc.adapters) app.notifier.register(a);
    app.services.chat = svc;
  },
  async start(app: App) {
    const sink = async (inc: Parameters<App['dispatcher']['handle']>[0]) => {
      try {
        await app.dispatcher.handle(inc);
      } catch (err) {
        app.log.error({ err: String(err), platform: inc.platform }, 'dispatch failed');
      }
    };
    const svc = app.services.chat;
    const c = app.config.chat;
    // This app instance's name in the lease rows (several app instances in one process are distinct holders).
    const leases = new Leases(app.db, `${OWNER}/chat-${crypto.randomBytes(4).toString('hex')}`);
    const single: { platform: 'discord' | 'telegram'; name: string }[] = [];
    if (svc.discord) single.push({ platform: 'discord', name: leaseName('discord', c.discord.applicationId!) });
    if (svc.telegram && c.telegram.mode === 'polling') single.push({ platform: 'telegram', name: leaseName('telegram', svc.telegram.botId) });
    // Adapters retry their own connection with back-off; connect them side by side and in the background,
    // so a platform that is down neither delays start-up nor holds up the others.
    for (const a of svc.adapters) {
      const leased = single.find((s) => s.platform === a.platform);
      if (!leased) {
        void a.start(sink).catch((err) => app.log.error({ err: String(err), platform: a.platform }, 'chat adapter failed to start'));
        continue;
      }
      const lease = new ConnectionLease(leases, leased.name, { connect: () => a.start(sink), disconnect: () => a.stop() }, app.log.child({ mod: 'chat', platform: a.platform }));
      svc.leases[leased.platform] = lease;
      lease.start();
    }
    app.onStop(async () => {
      await Promise.all(Object.values(svc.leases).map((l) => l.stop()));
      await Promise.all(svc.adapters.map((a) => a.stop().catch(() => undefined)));
    });
  },
};
