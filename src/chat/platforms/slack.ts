// Slack: Socket Mode (app token) or the Events API over HTTP on its own port (signing secret); Bolt is
// imported only when Slack is on. The allow-list names workspaces (team ids).
import { probeFailure, probeJson, type ChatPlatform } from '../platform.js';
import type { SlackAdapter } from '../adapters/slack.js';

export interface SlackConfig {
  enabled?: boolean;
  mode: 'socket' | 'http';
  botToken?: string;
  appToken?: string;
  signingSecret?: string;
  apiUrl?: string;
  allowedWorkspaces: string[];
  http: { host: string; port: number; path: string };
  pingTimeoutMs: number;
}

declare module '../platform.js' {
  interface ChatPlatformConfigs {
    slack: SlackConfig;
  }
  interface ChatPlatformAdapters {
    slack: SlackAdapter;
  }
}

export const platform: ChatPlatform<SlackConfig, SlackAdapter> = {
  config: {
    properties: {
      enabled: { type: 'boolean' },
      mode: { enum: ['socket', 'http'], default: 'socket' },
      botToken: { type: 'string' },
      appToken: { type: 'string' },
      signingSecret: { type: 'string' },
      apiUrl: { type: 'string', pattern: '^https?://' },
      allowedWorkspaces: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      http: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: { host: { type: 'string', default: '0.0.0.0' }, port: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 }, path: { type: 'string', default: '/slack/events' } },
      },
      pingTimeoutMs: { type: 'integer', minimum: 100, default: 5000 },
    },
    env: {
      SLACK_BOT_TOKEN: 'botToken',
      SLACK_APP_TOKEN: 'appToken',
      SLACK_SIGNING_SECRET: 'signingSecret',
      SLACK_API_URL: 'apiUrl',
      SLACK_MODE: 'mode',
      SLACK_ALLOWED_WORKSPACES: 'allowedWorkspaces',
    },
    secrets: ['botToken', 'appToken', 'signingSecret'],
  },
  allowList: 'allowedWorkspaces',
  async build({ config: c, allowList, maxBytes, reconnect, claimInbound, log, setting }) {
    if (!c.botToken) throw new Error(`chat.slack is enabled but ${setting('botToken')} is not set`);
    if (c.mode === 'socket' && !c.appToken) throw new Error(`chat.slack.mode is socket but ${setting('appToken')} is not set`);
    if (c.mode === 'http' && !c.signingSecret) throw new Error(`chat.slack.mode is http but ${setting('signingSecret')} is not set`);
    const { SlackAdapter } = await import('../adapters/slack.js');
    return new SlackAdapter({ ...c, botToken: c.botToken, allowedWorkspaces: allowList, maxBytes, reconnect, claimInbound }, log);
  },
  async doctor(c, report, timeoutMs) {
    const api = (c.apiUrl ?? 'https://slack.com/api/').replace(/\/?$/, '/');
    if (!c.botToken) report('Slack token', 'FAIL', 'Slack is enabled but SLACK_BOT_TOKEN is not set', 'set SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token)');
    else {
      try {
        const r = await probeJson(`${api}auth.test`, { method: 'POST', headers: { authorization: `Bearer ${c.botToken}`, 'content-type': 'application/x-www-form-urlencoded' } }, timeoutMs);
        if (r.body.ok === true) report('Slack token', 'OK', `auth.test: bot ${String(r.body.user ?? '?')} in team ${String(r.body.team_id ?? '?')}`);
        else
          report(
            'Slack token',
            'FAIL',
            `auth.test refused the bot token: ${String(r.body.error ?? `HTTP ${r.status}`)}`,
            'generate a new bot token (OAuth & Permissions) and set SLACK_BOT_TOKEN; check SLACK_API_URL',
          );
      } catch (e) {
        report('Slack token', 'FAIL', `cannot reach ${api}: ${probeFailure(e)}`, 'check the network path to Slack (proxy, firewall) or SLACK_API_URL');
      }
    }
    if (!c.allowedWorkspaces.length)
      report('Slack allow-list', 'FAIL', 'chat.slack.allowedWorkspaces is empty: nobody can use the bot from Slack', 'set SLACK_ALLOWED_WORKSPACES=T0123ABC (your team id)');
    else report('Slack allow-list', 'OK', `${c.allowedWorkspaces.length} workspace(s)`);
  },
};
