// Telegram: long polling (one replica polls, through a lease: a second poller gets 409) or a webhook route on
// the bot's HTTP server; telegraf is imported only when Telegram is on. The allow-list names chats (groups
// have negative ids); a chat not on it is told its id once.
import { probeFailure, probeJson, type ChatPlatform } from '../platform.js';
import { errorReply } from '../../util/errors.js';
import type { TelegramAdapter } from '../adapters/telegram.js';

export interface TelegramConfig {
  enabled?: boolean;
  mode: 'polling' | 'webhook';
  botToken?: string;
  webhookSecret?: string;
  webhookPath: string;
  apiRoot?: string;
  allowedChats: string[];
}

declare module '../platform.js' {
  interface ChatPlatformConfigs {
    telegram: TelegramConfig;
  }
  interface ChatPlatformAdapters {
    telegram: TelegramAdapter;
  }
}

/** A chat not on the allow-list is told its id once; the claim outlives any realistic setup. */
const REFUSAL_NOTICE_TTL_MS = 365 * 24 * 3600_000;

export const platform: ChatPlatform<TelegramConfig, TelegramAdapter> = {
  config: {
    properties: {
      enabled: { type: 'boolean' },
      mode: { enum: ['polling', 'webhook'], default: 'polling' },
      botToken: { type: 'string' },
      webhookSecret: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,256}$' },
      webhookPath: { type: 'string', default: '/telegram/webhook' },
      apiRoot: { type: 'string', pattern: '^https?://' },
      allowedChats: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    },
    env: {
      TELEGRAM_BOT_TOKEN: 'botToken',
      TELEGRAM_WEBHOOK_SECRET: 'webhookSecret',
      TELEGRAM_API_ROOT: 'apiRoot',
      TELEGRAM_MODE: 'mode',
      TELEGRAM_ALLOWED_CHATS: 'allowedChats',
    },
    secrets: ['botToken', 'webhookSecret'],
  },
  allowList: 'allowedChats',
  singleConnection: (c, adapter) => (c.mode === 'polling' ? adapter.botId : undefined),
  async build({ app, config: c, allowList, maxBytes, reconnect, claimInbound, log, setting }) {
    if (!c.botToken) throw new Error(`chat.telegram is enabled but ${setting('botToken')} is not set`);
    if (c.mode === 'webhook' && !c.webhookSecret) throw new Error(`chat.telegram.mode is webhook but ${setting('webhookSecret')} is not set`);
    const { TelegramAdapter } = await import('../adapters/telegram.js');
    const tg = new TelegramAdapter(
      {
        botToken: c.botToken,
        apiRoot: c.apiRoot,
        mode: c.mode,
        webhookSecret: c.webhookSecret,
        allowedChats: allowList,
        maxBytes,
        reconnect,
        registry: app.registry,
        claimInbound,
        claimRefusalNotice: (key) => app.claims.claim(`chat:telegram:${key}`, REFUSAL_NOTICE_TTL_MS),
        allowSetting: 'chat.telegram.allowedChats (env TELEGRAM_ALLOWED_CHATS, comma-separated)',
      },
      log,
    );
    if (c.mode === 'webhook') {
      app.http.post(c.webhookPath, async (req, reply) => {
        if (req.headers['x-telegram-bot-api-secret-token'] !== c.webhookSecret) return errorReply(reply, 'SB_WEBHOOK_SECRET_INVALID', 'bad secret token');
        await tg.handleWebhook(req.body);
        return reply.send({ ok: true });
      });
    }
    return tg;
  },
  async doctor(c, report, timeoutMs) {
    const root = (c.apiRoot ?? 'https://api.telegram.org').replace(/\/$/, '');
    if (!c.botToken) report('Telegram token', 'FAIL', 'Telegram is enabled but TELEGRAM_BOT_TOKEN is not set', 'set TELEGRAM_BOT_TOKEN (from @BotFather)');
    else {
      try {
        const r = await probeJson(`${root}/bot${c.botToken}/getMe`, {}, timeoutMs);
        const me = r.body.result as { username?: string } | undefined;
        if (r.body.ok === true) report('Telegram token', 'OK', `getMe: @${me?.username ?? '?'}`);
        else
          report(
            'Telegram token',
            'FAIL',
            `getMe refused the bot token: ${String(r.body.description ?? `HTTP ${r.status}`)}`,
            'get the token again from @BotFather (/token) and set TELEGRAM_BOT_TOKEN; check TELEGRAM_API_ROOT',
          );
      } catch (e) {
        report('Telegram token', 'FAIL', `cannot reach ${root}: ${probeFailure(e)}`, 'check the network path to Telegram or TELEGRAM_API_ROOT');
      }
    }
    if (!c.allowedChats.length)
      report('Telegram allow-list', 'FAIL', 'chat.telegram.allowedChats is empty: nobody can use the bot from Telegram', 'set TELEGRAM_ALLOWED_CHATS=-100123456789 (group ids are negative)');
    else report('Telegram allow-list', 'OK', `${c.allowedChats.length} chat(s)`);
  },
};
