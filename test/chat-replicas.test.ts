// Two replicas (two app instances on one MariaDB database) configured with the same Discord and Telegram bots,
// against fakes that behave as the real services do with two connections: Discord delivers every gateway event
// to every session, Telegram serves one getUpdates poller at a time (409 for the other). One replica holds each
// connection through a lease in the store; inbound events are claimed by their platform id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { DiscordFake } from './fakes/discord-fake.js';
import { TelegramFake } from './fakes/telegram-fake.js';
import { waitFor } from './fakes/common.js';
import { until } from './helpers/wait.js';

const GUILD = '3300000000000000001';
const DCH = '3300000000000000011';
const DUSER = '4400000000000000001';
const GROUP = -100123;
const TUSER = 42;

describe('chat across two replicas on one MariaDB store', () => {
  let dc: DiscordFake;
  let tg: TelegramFake;
  let a: TestApp;
  let b: TestApp;
  const replicas = () => [a, b];
  const handled = (t: TestApp) => t.logs.filter((l) => l.includes('inbound event already handled')).length;
  const jobs = async (kind: string) => a.app.db.selectFrom('jobs').select(['id', 'status']).where('kind', '=', kind).execute();
  const discordHolder = () => replicas().filter((r) => r.app.services.chat.leases.discord?.holding);
  const telegramHolder = () => replicas().filter((r) => r.app.services.chat.leases.telegram?.holding);

  beforeAll(async () => {
    dc = await new DiscordFake([{ id: GUILD, channels: [DCH] }]).start();
    tg = await new TelegramFake().start();
    const opts = {
      listen: true,
      admins: [`discord:${DUSER}`, `telegram:${TUSER}`],
      overrides: {
        'chat.reconnect.baseMs': 200,
        'chat.discord.botToken': dc.token,
        'chat.discord.applicationId': dc.appId,
        'chat.discord.apiUrl': dc.apiUrl,
        'chat.discord.allowedGuilds': [GUILD],
        'chat.discord.messageContent': true,
        'chat.telegram.botToken': tg.token,
        'chat.telegram.apiRoot': tg.url,
        'chat.telegram.allowedChats': [String(GROUP)],
      },
    };
    a = await makeTestApp({ engine: 'mysql', ...opts });
    b = await makeTestApp({ replicaOf: a, ...opts });
  });
  afterAll(async () => {
    await b?.close(); // the replica first: the database belongs to `a`
    await a?.close();
    await Promise.all([dc?.close(), tg?.close()]);
  });

  it('one replica holds the Discord gateway: a prefix command and a slash command get one reply and one job each', async () => {
    // Both replicas competed for the lease (the other one's retry came and went) before anyone speaks.
    await until(
      'one gateway holder, the other replica retried',
      () => discordHolder().length === 1 && dc.connected === 1 && replicas().every((r) => r.app.services.chat.leases.discord!.attempts >= 2),
      20_000,
    );
    expect(dc.connected).toBe(1);

    const mid = dc.message({ guild: GUILD, channel: DCH, user: DUSER, content: '!sb selftest 1' });
    const reply = await waitFor(() => dc.in(DCH).find((m) => m.reply_to === mid && m.content.includes('✅')), 15_000, 'prefix job result');
    expect(reply.content).toMatch(/selftest/);
    expect(dc.in(DCH).filter((m) => m.reply_to === mid)).toHaveLength(1);
    expect(await jobs('selftest')).toHaveLength(1);

    const ix = dc.slash({ guild: GUILD, channel: DCH, user: DUSER, line: 'selftest 1' });
    await waitFor(() => dc.messages.find((m) => m.interaction === ix && m.content.includes('✅')), 15_000, 'slash job result');
    expect(dc.callbackAttempts.filter((c) => c.id === ix)).toEqual([{ id: ix, status: 204 }]);
    expect(dc.messages.filter((m) => m.interaction === ix)).toHaveLength(1);
    expect((await jobs('selftest')).map((j) => j.status)).toEqual(['succeeded', 'succeeded']);

    // The replica without the gateway still posts (alerts, caller ID) through the REST API.
    const other = replicas().find((r) => !r.app.services.chat.leases.discord!.holding)!;
    await other.app.notifier.notify([`discord:${DCH}`], { text: 'posted by the replica without the gateway' });
    expect(dc.in(DCH).some((m) => m.content === 'posted by the replica without the gateway')).toBe(true);
  });

  it('two gateway sessions delivering the same events still dispatch each once (claimed in the store)', async () => {
    const other = replicas().find((r) => !r.app.services.chat.leases.discord!.holding)!;
    const adapter = other.app.services.chat.platforms.discord!;
    // A second session beside the holder's, as during a hand-over.
    await adapter.start((inc) => other.app.dispatcher.handle(inc).then(() => undefined));
    try {
      await waitFor(() => dc.connected === 2, 15_000, 'two gateway sessions');
      const before = replicas().map(handled);
      const mid = dc.message({ guild: GUILD, channel: DCH, user: DUSER, content: '!sb whoami' });
      const ix = dc.slash({ guild: GUILD, channel: DCH, user: DUSER, line: 'whoami' });
      await waitFor(() => dc.in(DCH).find((m) => m.reply_to === mid), 15_000, 'prefix reply');
      await waitFor(() => dc.messages.find((m) => m.interaction === ix && m.content.includes(DUSER)), 15_000, 'slash reply');
      // Each event reached both sessions: one dispatched it, the other saw the claim and let it go.
      await until('both duplicates seen', () => replicas().reduce((n, r, i) => n + handled(r) - before[i]!, 0) === 2, 15_000);
      expect(dc.in(DCH).filter((m) => m.reply_to === mid)).toHaveLength(1);
      expect(dc.callbackAttempts.filter((c) => c.id === ix)).toHaveLength(1);
    } finally {
      await adapter.stop();
    }
    await waitFor(() => dc.connected === 1, 10_000, 'the extra session closed');
  });

  it('a holder that stops cleanly releases the gateway: the other replica connects within seconds and serves', async () => {
    const [holder] = discordHolder();
    const other = replicas().find((r) => r !== holder)!;
    const t0 = Date.now();
    await holder!.app.services.chat.leases.discord!.stop();
    await until('the other replica holds the gateway', () => other.app.services.chat.leases.discord!.holding && dc.connected === 1, 15_000);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const mid = dc.message({ guild: GUILD, channel: DCH, user: DUSER, content: '!sb whoami' });
    await waitFor(() => dc.in(DCH).find((m) => m.reply_to === mid), 15_000, 'reply from the new holder');
    expect(dc.in(DCH).filter((m) => m.reply_to === mid)).toHaveLength(1);
    // The old holder still sends through REST after giving the gateway up.
    await holder!.app.notifier.notify([`discord:${DCH}`], { text: 'still posting' });
    expect(dc.in(DCH).some((m) => m.content === 'still posting')).toBe(true);
  });

  it('Telegram is polled by one replica only: no 409 fight, and a command is answered once', async () => {
    await until('one poller, the other replica retried', () => telegramHolder().length === 1 && replicas().every((r) => r.app.services.chat.leases.telegram!.attempts >= 2), 20_000);
    expect(replicas().filter((r) => r.app.services.chat.platforms.telegram!.polling)).toHaveLength(1);
    expect(tg.conflicts).toBe(0);
    const mid = tg.say({ chat: GROUP, user: TUSER, text: '/whoami' });
    await waitFor(() => tg.to(GROUP).find((s) => s.reply_to === mid), 15_000, 'telegram reply');
    expect(tg.to(GROUP).filter((s) => s.reply_to === mid)).toHaveLength(1);
    expect(tg.conflicts).toBe(0);
  });

  it('when the polling replica dies (lease not released) the other takes over within 30 s and answers', async () => {
    const [holder] = telegramHolder();
    const other = replicas().find((r) => r !== holder)!;
    // Death: its timers and its connection stop, the lease row stays as it was.
    await holder!.app.services.chat.leases.telegram!.stop({ release: false });
    const died = Date.now();
    const mid = tg.say({ chat: GROUP, user: TUSER, text: '/whoami' });
    const reply = await waitFor(() => tg.to(GROUP).find((s) => s.reply_to === mid), 35_000, 'reply from the replica that took over');
    expect(Date.now() - died).toBeLessThan(30_000);
    expect(reply.text).toContain(String(TUSER));
    expect(other.app.services.chat.leases.telegram!.holding).toBe(true);
    expect(other.app.services.chat.platforms.telegram!.polling).toBe(true);
    expect(tg.to(GROUP).filter((s) => s.reply_to === mid)).toHaveLength(1);
    expect(tg.conflicts).toBe(0);
  });
});
