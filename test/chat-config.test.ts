// The `chat` config section: tokens and base URLs from the environment, platforms enabled by their tokens.
import { describe, expect, it } from 'vitest';
import { makeTestApp } from './helpers/app.js';
import { loadConfig } from '../src/config.js';
import { chatConfigSection, chatFeature } from '../src/chat/feature.js';
import { createLogger } from '../src/log.js';
import type { App } from '../src/app-types.js';

describe('chat config', () => {
  it('reads tokens, base URLs and allow-lists from the environment', () => {
    const cfg = loadConfig({
      sections: [chatConfigSection],
      env: {
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_APP_TOKEN: 'xapp-1',
        SLACK_API_URL: 'http://127.0.0.1:1/api/',
        SLACK_ALLOWED_WORKSPACES: 'T1',
        TELEGRAM_BOT_TOKEN: '1:abc',
        TELEGRAM_API_ROOT: 'http://127.0.0.1:2',
        TELEGRAM_MODE: 'webhook',
        TELEGRAM_WEBHOOK_SECRET: 's3cret',
        DISCORD_BOT_TOKEN: 'd.t',
        DISCORD_APPLICATION_ID: '99',
        DISCORD_API_URL: 'http://127.0.0.1:3/api',
        DISCORD_ALLOWED_GUILDS: '["1","2"]',
      },
    });
    expect(cfg.chat.slack).toMatchObject({ botToken: 'xoxb-1', appToken: 'xapp-1', apiUrl: 'http://127.0.0.1:1/api/', allowedWorkspaces: ['T1'], mode: 'socket' });
    expect(cfg.chat.telegram).toMatchObject({ botToken: '1:abc', apiRoot: 'http://127.0.0.1:2', mode: 'webhook', webhookSecret: 's3cret', webhookPath: '/telegram/webhook' });
    expect(cfg.chat.discord).toMatchObject({ botToken: 'd.t', applicationId: '99', apiUrl: 'http://127.0.0.1:3/api', allowedGuilds: ['1', '2'], prefix: '!sb', messageContent: false });
    expect(() => loadConfig({ sections: [chatConfigSection], env: { SLACK_MODE: 'rtm' } })).toThrow(/chat\.slack\.mode/);
  });

  it('registers only the platforms with tokens, and refuses a half-configured one', async () => {
    const t = await makeTestApp({ env: { TELEGRAM_BOT_TOKEN: '1:abc', TELEGRAM_ALLOWED_CHATS: '-100,42' } });
    try {
      expect(t.app.notifier.platforms().sort()).toEqual(['console', 'telegram', 'test']);
      expect(t.logs.join('')).not.toContain('is empty');
    } finally {
      await t.close();
    }
    const init = (env: Record<string, string>) => {
      const config = loadConfig({ sections: [chatConfigSection], env });
      const app = { config, log: createLogger({ level: 'silent' }), notifier: { register() {} }, services: {} } as unknown as App;
      return async () => chatFeature.init!(app);
    };
    await expect(init({ SLACK_BOT_TOKEN: 'xoxb-1' })()).rejects.toThrow(/SLACK_APP_TOKEN/);
    await expect(init({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_MODE: 'http' })()).rejects.toThrow(/SLACK_SIGNING_SECRET/);
    await expect(init({ DISCORD_BOT_TOKEN: 'x' })()).rejects.toThrow(/DISCORD_APPLICATION_ID/);
    await expect(init({ TELEGRAM_BOT_TOKEN: '1:a', TELEGRAM_MODE: 'webhook' })()).rejects.toThrow(/TELEGRAM_WEBHOOK_SECRET/);
  });
});
