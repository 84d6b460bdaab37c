// One process with Slack, Telegram and Discord (real SDKs against their fakes) and the web console at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { SlackFake } from './fakes/slack-fake.js';
import { TelegramFake } from './fakes/telegram-fake.js';
import { DiscordFake } from './fakes/discord-fake.js';
import { waitFor } from './fakes/common.js';

const GUILD = '3300000000000000001';
const DCH = '3300000000000000011';

describe('all platforms in one process', () => {
  let slack: SlackFake;
  let tg: TelegramFake;
  let dc: DiscordFake;
  let t: TestApp;
  beforeAll(async () => {
    slack = await new SlackFake().start();
    tg = await new TelegramFake().start();
    dc = await new DiscordFake([{ id: GUILD, channels: [DCH] }]).start();
    // Telegram is down at start: its first connection attempts fail while the others serve.
    tg.failNext('getMe', { status: 502, body: { ok: false, error_code: 502, description: 'Bad Gateway' } }, 2);
    t = await makeTestApp({
      listen: true,
      admins: ['slack:U0ANN', 'telegram:42', 'discord:4400000000000000001'],
      overrides: {
        'chat.reconnect.baseMs': 500,
        'chat.slack.botToken': slack.botToken,
        'chat.slack.appToken': slack.appToken,
        'chat.slack.apiUrl': slack.apiUrl,
        'chat.slack.allowedWorkspaces': [slack.team],
        'chat.slack.pingTimeoutMs': 300,
        'chat.telegram.botToken': tg.token,
        'chat.telegram.apiRoot': tg.url,
        'chat.telegram.allowedChats': ['-100123'],
        'chat.discord.botToken': dc.token,
        'chat.discord.applicationId': dc.appId,
        'chat.discord.apiUrl': dc.apiUrl,
        'chat.discord.allowedGuilds': [GUILD],
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([slack?.close(), tg?.close(), dc?.close()]);
  });

  it('serves commands on Slack, Discord, the console and (after it comes up) Telegram', async () => {
    expect(t.app.notifier.platforms().sort()).toEqual(['console', 'discord', 'slack', 'telegram', 'test']);
    await waitFor(() => slack.connected > 0 && dc.connected > 0, 15_000, 'slack and discord connections');
    // Slack and Discord serve while Telegram is still failing to connect.
    const ts = slack.mention({ channel: 'C0SUPPORT', user: 'U0ANN', text: 'help' });
    const id = dc.slash({ guild: GUILD, channel: DCH, user: '4400000000000000001', line: 'help' });
    await waitFor(() => slack.in('C0SUPPORT').find((p) => p.thread_ts === ts && p.text.includes('Switchboard commands')), 10_000, 'slack reply');
    await waitFor(() => dc.messages.find((m) => m.interaction === id && m.content.includes('Switchboard commands')), 10_000, 'discord reply');
    expect(t.logs.join('')).toContain('chat platform connection failed; retrying');

    // The console.
    const password = t.app.services.console.generatedAdminPassword!;
    const url = t.app.baseUrl();
    const login = await fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const { csrf } = (await login.json()) as { csrf: string };
    const res = await fetch(`${url}/console/api/command`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ text: 'whoami' }) });
    expect(res.status).toBe(202);
    const history = await waitForAsync(async () => (await t.app.services.console.hub.history('general')).find((m) => m.author === 'bot' && /admin/.test(m.text)), 10_000);
    expect(history.text).toContain('admin');

    // Telegram came up by itself (retry with back-off) and serves too.
    await waitFor(() => tg.calls.some((c) => c.method === 'getUpdates'), 15_000, 'telegram polling');
    const mid = tg.say({ chat: -100123, user: 42, text: '/help' });
    await waitFor(() => tg.to(-100123).find((s) => s.reply_to === mid), 10_000, 'telegram reply');

    // A job on each platform at the same time.
    const sts = slack.mention({ channel: 'C0SUPPORT', user: 'U0ANN', text: 'selftest 1' });
    const tid = tg.say({ chat: -100123, user: 42, text: '/selftest 1' });
    const did = dc.slash({ guild: GUILD, channel: DCH, user: '4400000000000000001', line: 'selftest 1' });
    await waitFor(() => slack.in('C0SUPPORT').find((p) => p.thread_ts === sts && p.text.includes('✅')), 15_000, 'slack job');
    await waitFor(() => tg.to(-100123).find((s) => s.reply_to === tid && (s.text ?? '').includes('✅')), 15_000, 'telegram job');
    await waitFor(() => dc.messages.find((m) => m.interaction === did && m.content.includes('✅')), 15_000, 'discord job');
  });

  it('a platform down mid-run does not stop the others, and serves again once it is back', async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let n = 0;
    const slackServes = async () => {
      const ts = slack.mention({ channel: 'C0OUT', user: 'U0ANN', text: 'whoami' });
      await waitFor(() => slack.in('C0OUT').find((p) => p.thread_ts === ts), 15_000, 'slack reply');
    };
    const tgServes = async () => {
      const mid = tg.say({ chat: -100123, user: 42, text: '/whoami' });
      await waitFor(() => tg.to(-100123).find((s) => s.reply_to === mid), 15_000, 'telegram reply');
    };
    const dcServes = async () => {
      const mid = `${++n}`;
      const id = dc.slash({ guild: GUILD, channel: DCH, user: '4400000000000000001', line: 'whoami' });
      await waitFor(() => dc.messages.find((m) => m.interaction === id && m.content.includes('4400000000000000001')), 15_000, `discord reply ${mid}`);
    };
    await waitFor(() => slack.connected > 0 && dc.connected > 0, 15_000, 'connections');

    // Slack: connections cut and apps.connections.open failing for a while.
    slack.refuse(true);
    await waitFor(() => t.logs.join('').includes('slack socket mode connection closed; reconnecting with back-off'), 10_000, 'slack supervision');
    await Promise.all([tgServes(), dcServes()]);
    await sleep(1500);
    await Promise.all([tgServes(), dcServes()]);
    expect(slack.connected).toBe(0);
    slack.refuse(false);
    await waitFor(() => slack.connected > 0, 30_000, 'slack back');
    await slackServes();

    // Discord: every session refused with 4004, after which discord.js gives up by itself.
    dc.refuse(true);
    await waitFor(() => t.logs.join('').includes('discord gateway gave up; logging in again with back-off'), 15_000, 'discord supervision');
    await Promise.all([slackServes(), tgServes()]);
    await sleep(1500);
    await Promise.all([slackServes(), tgServes()]);
    expect(dc.connected).toBe(0);
    dc.refuse(false);
    await waitFor(() => dc.connected > 0, 30_000, 'discord back');
    await dcServes();

    // Telegram: polling refused (409) for a while.
    tg.conflict = true;
    tg.kick();
    await waitFor(() => t.logs.join('').includes('409 Conflict'), 10_000, 'telegram conflict');
    await Promise.all([slackServes(), dcServes()]);
    tg.conflict = false;
    await tgServes();
  });

  it('alert targets on every platform go through the notifier', async () => {
    const refs = await t.app.notifier.notify(['slack:C0123', 'telegram:-100123', `discord:${DCH}`, 'console:support'], { text: 'Caller ID: +41 44 000 00 00' });
    expect(refs.map((r) => r.platform)).toEqual(['slack', 'telegram', 'discord', 'console']);
    expect(slack.in('C0123').map((p) => p.text)).toContain('Caller ID: +41 44 000 00 00');
    expect(tg.to(-100123).some((s) => s.text === 'Caller ID: +41 44 000 00 00')).toBe(true);
    expect(dc.in(DCH).some((m) => m.content === 'Caller ID: +41 44 000 00 00')).toBe(true);
    expect((await t.app.services.console.hub.history('support')).some((m) => m.text === 'Caller ID: +41 44 000 00 00')).toBe(true);
  });
});

async function waitForAsync<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
