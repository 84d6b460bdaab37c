// Three replicas with the same Discord and Telegram bots: one reply per command although the Discord fake
// delivers every gateway event to every connection (as Discord does), and one Telegram poller, taken over
// within 30 s when the replica polling is killed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type Replica } from './harness.js';
import { TaggingProxy } from './proxy.js';
import { DiscordFake } from '../fakes/discord-fake.js';
import { TelegramFake } from '../fakes/telegram-fake.js';
import { sleep, until } from '../helpers/wait.js';

const GUILD = '3300000000000000001';
const CH = '3300000000000000011';
const DC_USER = '4400000000000000001';
const GROUP = -100123;
const TG_USER = 42;
const GET_UPDATES = /\/getUpdates$/;

/** Runs check every 100 ms for ms milliseconds; the first failure throws. */
async function holdFor(ms: number, check: () => Promise<void> | void): Promise<void> {
  const end = Date.now() + ms;
  do {
    await check();
    await sleep(100);
  } while (Date.now() < end);
  await check();
}

describe('chat on three replicas', () => {
  let c: Cluster;
  let discord: DiscordFake;
  let telegram: TelegramFake;
  let proxy: TaggingProxy;

  beforeAll(async () => {
    discord = await new DiscordFake([{ id: GUILD, channels: [CH] }]).start();
    telegram = await new TelegramFake().start();
    proxy = await new TaggingProxy(telegram.url).start(3);
    c = await Cluster.create({
      config: (i) => ({
        auth: { admins: [`discord:${DC_USER}`, `telegram:${TG_USER}`] },
        chat: {
          reconnect: { baseMs: 200, maxMs: 2000 },
          discord: { botToken: discord.token, applicationId: discord.appId, apiUrl: discord.apiUrl, allowedGuilds: [GUILD], messageContent: true },
          // Each replica reaches the Bot API through its own proxy port: the proxy tells who polls.
          telegram: { botToken: telegram.token, apiRoot: proxy.urls[Math.max(i, 0)], allowedChats: [String(GROUP), String(TG_USER)] },
        },
      }),
    });
    await c.startAll();
    await until('a Discord gateway session and the /sb registration', () => discord.connected > 0 && discord.commands.has(GUILD), 30_000);
    await until('a Telegram poller', () => proxy.tagsSince(GET_UPDATES, 0).size > 0, 30_000);
  }, 180_000);

  afterAll(async () => {
    await c?.destroy();
    await proxy?.close();
    await telegram?.close();
    await discord?.close();
  }, 60_000);

  it('Discord: one reply per prefix command and per slash command, one job per job command', async () => {
    // Replicas that would open a gateway session of their own have had the time to.
    await sleep(3000);
    const mid = discord.message({ guild: GUILD, channel: CH, user: DC_USER, content: '!sb whoami' });
    const replies = () => discord.in(CH).filter((m) => m.reply_to === mid);
    await until('a reply to the prefix command', () => replies().length > 0, 15_000);
    await holdFor(2500, () =>
      expect(
        replies().map((m) => m.content),
        `replies to one !sb whoami (${discord.connected} gateway sessions)`,
      ).toHaveLength(1),
    );

    const ix = discord.slash({ guild: GUILD, channel: CH, user: DC_USER, line: 'whoami' });
    await until('the interaction to be acknowledged', () => discord.callbacks.some((x) => x.id === ix), 15_000);
    await until('the interaction answered', () => discord.messages.some((m) => m.interaction === ix && m.content.length > 0), 15_000);
    await holdFor(2500, () => {
      // The fake accepts one acknowledgement per interaction and answers any other with 40060, as Discord does.
      expect(
        discord.callbackAttempts.filter((x) => x.id === ix),
        'acknowledgements tried for one interaction',
      ).toHaveLength(1);
      expect(
        discord.messages.filter((m) => m.interaction === ix && m.via === 'followup'),
        'follow-ups of a one-part reply',
      ).toHaveLength(0);
    });

    const jobs = async () => Number((await c.query<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'selftest' AND requested_platform = 'discord'"))[0]!.n);
    const before = await jobs();
    discord.message({ guild: GUILD, channel: CH, user: DC_USER, content: '!sb selftest 1' });
    await until('the selftest job', async () => (await jobs()) > before, 15_000);
    await holdFor(2500, async () => expect((await jobs()) - before, 'jobs started by one !sb selftest').toBe(1));
  });

  it('Telegram: one poller, taken over within 30 s when its replica is killed; one reply per message', async () => {
    const onePoller = async (what: string): Promise<Replica> => {
      const since = Date.now();
      const conflictsBefore = telegram.conflicts;
      await sleep(3000);
      const tags = proxy.tagsSince(GET_UPDATES, since);
      const conflicts = telegram.conflicts - conflictsBefore;
      expect(
        [...tags].map((t) => c.replicas[t]!.name),
        `replicas polling ${what} (${conflicts} long polls ended with 409)`,
      ).toHaveLength(1);
      expect(conflicts, `long polls ended with 409 ${what}`).toBe(0);
      return c.replicas[[...tags][0]!]!;
    };
    const answeredOnce = async (text: string) => {
      const id = telegram.say({ chat: GROUP, user: TG_USER, text });
      const replies = () => telegram.to(GROUP).filter((s) => s.reply_to === id);
      await until(`a reply to ${text}`, () => replies().length > 0, 20_000);
      await holdFor(2500, () =>
        expect(
          replies().map((x) => x.text?.slice(0, 80)),
          `replies to one ${text}`,
        ).toHaveLength(1),
      );
    };

    const poller = await onePoller('with all three up');
    await answeredOnce('/whoami');
    const killedAt = Date.now();
    await poller.kill();
    const next = await until('another replica to poll', () => [...proxy.tagsSince(GET_UPDATES, killedAt)].find((t) => c.replicas[t] !== poller) !== undefined && Date.now(), 45_000, 100);
    expect(next - killedAt, 'ms until another replica polled').toBeLessThanOrEqual(30_000);
    const successor = await onePoller('after the takeover');
    expect(successor).not.toBe(poller);
    await answeredOnce('/whoami');
  });
});
