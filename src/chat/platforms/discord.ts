// Discord: the gateway (one replica holds it, through a lease: every session gets every event) plus REST;
// discord.js is imported only when Discord is on. The allow-list names guilds.
import { probeFailure, probeJson, type ChatPlatform } from '../platform.js';
import type { DiscordAdapter } from '../adapters/discord.js';

export interface DiscordConfig {
  enabled?: boolean;
  botToken?: string;
  applicationId?: string;
  apiUrl?: string;
  allowedGuilds: string[];
  messageContent: boolean;
  prefix: string;
  allowDirect: boolean;
  interactionTtlMs: number;
}

declare module '../platform.js' {
  interface ChatPlatformConfigs {
    discord: DiscordConfig;
  }
  interface ChatPlatformAdapters {
    discord: DiscordAdapter;
  }
}

export const platform: ChatPlatform<DiscordConfig, DiscordAdapter> = {
  config: {
    properties: {
      enabled: { type: 'boolean' },
      botToken: { type: 'string' },
      applicationId: { type: 'string' },
      apiUrl: { type: 'string', pattern: '^https?://' },
      allowedGuilds: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      messageContent: { type: 'boolean', default: false },
      prefix: { type: 'string', minLength: 1, default: '!sb' },
      allowDirect: { type: 'boolean', default: false },
      interactionTtlMs: { type: 'integer', minimum: 1000, maximum: 900000, default: 840000 },
    },
    env: {
      DISCORD_BOT_TOKEN: 'botToken',
      DISCORD_APPLICATION_ID: 'applicationId',
      DISCORD_API_URL: 'apiUrl',
      DISCORD_ALLOWED_GUILDS: 'allowedGuilds',
    },
    secrets: ['botToken'],
  },
  allowList: 'allowedGuilds',
  singleConnection: (c) => c.applicationId,
  async build({ config: c, allowList, maxBytes, reconnect, claimInbound, log, setting }) {
    if (!c.botToken || !c.applicationId) throw new Error(`chat.discord is enabled but ${setting('botToken')} and ${setting('applicationId')} must both be set`);
    const { DiscordAdapter } = await import('../adapters/discord.js');
    return new DiscordAdapter({ ...c, botToken: c.botToken, applicationId: c.applicationId, allowedGuilds: allowList, maxBytes, reconnect, claimInbound }, log);
  },
  async doctor(c, report, timeoutMs) {
    const api = (c.apiUrl ?? 'https://discord.com/api').replace(/\/$/, '');
    if (!c.botToken) report('Discord token', 'FAIL', 'Discord is enabled but DISCORD_BOT_TOKEN is not set', 'set DISCORD_BOT_TOKEN (Bot → Reset Token)');
    else {
      try {
        const r = await probeJson(`${api}/v10/users/@me`, { headers: { authorization: `Bot ${c.botToken}` } }, timeoutMs);
        if (r.status === 200) report('Discord token', 'OK', `/users/@me: ${String(r.body.username ?? '?')} (${String(r.body.id ?? '?')})`);
        else
          report(
            'Discord token',
            'FAIL',
            `/users/@me refused the bot token: ${String(r.body.message ?? `HTTP ${r.status}`)}`,
            'reset the bot token (Bot → Reset Token) and set DISCORD_BOT_TOKEN; check DISCORD_API_URL',
          );
      } catch (e) {
        report('Discord token', 'FAIL', `cannot reach ${api}: ${probeFailure(e)}`, 'check the network path to Discord or DISCORD_API_URL');
      }
    }
    if (!c.allowedGuilds.length) report('Discord allow-list', 'FAIL', 'chat.discord.allowedGuilds is empty: nobody can use the bot from Discord', 'set DISCORD_ALLOWED_GUILDS=<guild id>');
    else report('Discord allow-list', 'OK', `${c.allowedGuilds.length} guild(s)`);
  },
};
