// Discord adapter with the real discord.js against a protocol-level fake (REST + gateway WebSocket).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { DiscordFake } from './fakes/discord-fake.js';
import { waitFor } from './fakes/common.js';
import { addTestCommands, auditRows, CSV, DHCP_SUBNETS, IMPORT_LINE, IMPORT_REPLY } from './fakes/setup.js';
import { auditRowsOnce, commandIn, expireButton, PHONE, provisioningTo, unknownPhoneFetches } from './fakes/unknown-phone.js';

const GUILD = '3300000000000000001';
const CH = '3300000000000000011';
const OTHER_GUILD = '3300000000000000002';
const OTHER_CH = '3300000000000000022';
const USER = '4400000000000000001';

describe('discord adapter (discord.js against a fake Discord)', () => {
  let fake: DiscordFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await new DiscordFake([
      { id: GUILD, channels: [CH] },
      { id: OTHER_GUILD, channels: [OTHER_CH] },
    ]).start();
    // The first registrations fail (e.g. the invite lacked applications.commands): retried with back-off.
    fake.failNext('PUT /applications/:id/guilds/:id/commands', { status: 403, body: { message: 'Missing Access', code: 50001 } }, 2);
    t = await makeTestApp({
      listen: true,
      admins: [`discord:${USER}`],
      overrides: {
        'dhcp.subnets': DHCP_SUBNETS,
        'chat.discord.botToken': fake.token,
        'chat.discord.applicationId': fake.appId,
        'chat.discord.apiUrl': fake.apiUrl,
        'chat.discord.allowedGuilds': [GUILD],
        'chat.discord.messageContent': true,
        'chat.reconnect.baseMs': 200,
        'uploads.maxBytes': 2048,
      },
    });
    addTestCommands(t.app);
    await waitFor(() => fake.connected > 0 && fake.commands.has(GUILD), 15_000, 'gateway connection and command registration');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('registers /sb in the configured guild only, with the intents it needs', () => {
    const cmds = fake.commands.get(GUILD) as { name: string; options: { name: string; type: number }[] }[];
    expect(cmds.map((c) => c.name)).toEqual(['sb']);
    expect(cmds[0]!.options.map((o) => [o.name, o.type])).toEqual([
      ['command', 3],
      ['file', 11],
    ]);
    expect(fake.commands.has(OTHER_GUILD)).toBe(false);
    expect(fake.identifies[0]!.intents & (1 << 15)).toBe(1 << 15);
  });

  it('a failed slash command registration is retried with back-off until it works', () => {
    const puts = fake.requests.filter((r) => r.method === 'PUT' && r.path === `/applications/${fake.appId}/guilds/${GUILD}/commands`);
    expect(puts.map((r) => r.status)).toEqual([403, 403, 200]);
    expect(puts[2]!.at - puts[1]!.at).toBeGreaterThan(puts[1]!.at - puts[0]!.at);
    expect(t.logs.join('')).toContain('discord slash command registration will be retried');
  });

  it('/sb help is deferred at once and answered in the interaction', async () => {
    const id = fake.slash({ guild: GUILD, channel: CH, user: USER, line: 'help' });
    const cb = await waitFor(() => fake.callbacks.find((c) => c.id === id), 3000, 'interaction callback');
    expect(cb.type).toBe(5);
    const msg = await waitFor(() => fake.messages.find((m) => m.interaction === id && m.content.includes('Switchboard commands')), 10_000, 'reply');
    expect(msg.via).toBe('original');
    expect(msg.channel_id).toBe(CH);
    expect(msg.content).toMatch(/```\n[\s\S]*audit[\s\S]*\n```/);
    // A reply longer than Discord's 2000 characters (the monitor group's table) continues in follow-ups, every
    // part a closed code block.
    // Waits for the reply's last line ('monitor fraud hours' is in the first part as well): help as an admin
    // says the same on every platform.
    await t.app.roles.grant('test', 'help-reader', 'admin', 'test');
    const lastLine = (await t.run('help monitor', { user: 'help-reader' })).replies
      .join('\n')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('```'))
      .at(-1)!
      .trim();
    const long = fake.slash({ guild: GUILD, channel: CH, user: USER, line: 'help monitor' });
    await waitFor(() => fake.messages.some((m) => m.interaction === long && m.content.includes(lastLine)), 10_000, 'last part of help monitor');
    const parts = fake.messages.filter((m) => m.interaction === long);
    expect(parts.length).toBeGreaterThanOrEqual(2);
    expect(parts.map((m) => m.content).join('\n')).toMatch(/monitor enroll[\s\S]*monitor fraud hours/);
    for (const m of parts) {
      expect(m.content.length).toBeLessThanOrEqual(2000);
      expect((m.content.match(/```/g) ?? []).length % 2).toBe(0);
    }
  });

  it('the prefix form answers with a reply to the message', async () => {
    const mid = fake.message({ guild: GUILD, channel: CH, user: USER, content: '!sb help' });
    const msg = await waitFor(() => fake.in(CH).find((m) => m.reply_to === mid), 10_000, 'prefix reply');
    expect(msg.content).toContain('Switchboard commands');
  });

  it('a CSV attached to the import command is downloaded and handed to the command', async () => {
    const id = fake.slash({ guild: GUILD, channel: CH, user: USER, line: IMPORT_LINE, file: fake.attachment('hosts.csv', CSV) });
    const msg = await waitFor(() => fake.messages.find((m) => m.interaction === id && m.content), 10_000, 'import reply');
    expect(msg.content).toMatch(IMPORT_REPLY);
    const mid = fake.message({ guild: GUILD, channel: CH, user: USER, content: `!sb ${IMPORT_LINE}`, attachments: [fake.attachment('hosts.csv', CSV)] });
    const reply = await waitFor(() => fake.in(CH).find((m) => m.reply_to === mid), 10_000, 'prefix import reply');
    expect(reply.content).toMatch(IMPORT_REPLY);
  });

  it('a job edits one message and ends with its result', async () => {
    const id = fake.slash({ guild: GUILD, channel: CH, user: USER, line: 'selftest 2' });
    const msg = await waitFor(() => fake.messages.find((m) => m.interaction === id && /Job #\d+/.test(m.content)), 10_000, 'job message');
    await waitFor(() => msg.content.includes('✅'), 15_000, 'job result');
    expect(msg.content).toContain('Progress reached 2/2');
    expect(msg.edits.length).toBeGreaterThanOrEqual(1);
    expect(fake.messages.filter((m) => m.interaction === id && /Job #/.test(m.content))).toHaveLength(1);
    // The prefix form edits a channel message.
    const mid = fake.message({ guild: GUILD, channel: CH, user: USER, content: '!sb selftest 1' });
    const m2 = await waitFor(() => fake.in(CH).find((m) => m.reply_to === mid && /Job #/.test(m.content)), 10_000, 'job message 2');
    await waitFor(() => m2.content.includes('✅'), 15_000, 'job 2 result');
    expect(m2.edits.length).toBeGreaterThanOrEqual(1);
    // Edits of one message at least half a second apart.
    for (const m of [msg, m2]) {
      const e = m.times.slice(1);
      for (let i = 1; i < e.length; i++) expect(e[i]! - e[i - 1]!).toBeGreaterThanOrEqual(450);
    }
  });

  it('an attachment over uploads.maxBytes is refused with a clear reply and the command does not run', async () => {
    const id = fake.slash({ guild: GUILD, channel: CH, user: USER, line: IMPORT_LINE, file: fake.attachment('big.csv', Buffer.alloc(3000, 'a')) });
    const msg = await waitFor(() => fake.messages.find((m) => m.interaction === id && m.content), 10_000, 'refusal');
    expect(msg.content).toMatch(/^❌ .*big\.csv is 3000 bytes; the limit is 2048 \(SB_ATTACHMENT_TOO_LARGE\)$/);
    // The attachment's size understates the file: the download stops at the limit.
    const liar = { ...fake.attachment('liar.csv', Buffer.concat([CSV, Buffer.alloc(3000, 'a')])), size: 100 };
    const mid = fake.message({ guild: GUILD, channel: CH, user: USER, content: `!sb ${IMPORT_LINE}`, attachments: [liar] });
    const reply = await waitFor(() => fake.in(CH).find((m) => m.reply_to === mid), 10_000, 'refusal 2');
    expect(reply.content).toMatch(/^❌ .*liar\.csv: the file is \d+ bytes; the limit is 2048 \(SB_ATTACHMENT_TOO_LARGE\)$/);
    expect(reply.content).not.toMatch(/Dry run/);
  });

  it('discard deletes the message carrying an attachment; a refusal or a slash attachment resolves false', async () => {
    const mid = fake.message({ guild: GUILD, channel: CH, user: USER, content: '!sb testdiscard', attachments: [fake.attachment('sip.csv', CSV)] });
    const reply = await waitFor(() => fake.in(CH).find((m) => m.reply_to === mid), 10_000, 'discard reply');
    expect(reply.content).toBe('discarded sip.csv: true');
    expect(fake.deleted).toContain(`${CH}|${mid}`);
    fake.failNext('DELETE /channels/:id/messages/:id', { status: 403, body: { message: 'Missing Permissions', code: 50013 } });
    const mid2 = fake.message({ guild: GUILD, channel: CH, user: USER, content: '!sb testdiscard', attachments: [fake.attachment('sip2.csv', CSV)] });
    const reply2 = await waitFor(() => fake.in(CH).find((m) => m.reply_to === mid2), 10_000, 'discard reply 2');
    expect(reply2.content).toBe('discarded sip2.csv: false');
    expect(fake.deleted).not.toContain(`${CH}|${mid2}`);
    const id = fake.slash({ guild: GUILD, channel: CH, user: USER, line: 'testdiscard', file: fake.attachment('sip3.csv', CSV) });
    const msg = await waitFor(() => fake.messages.find((m) => m.interaction === id && m.content), 10_000, 'slash discard reply');
    expect(msg.content).toBe('discarded sip3.csv: false');
  });

  it('mass mentions in text from data cannot ping; an empty message is not sent', async () => {
    await t.app.notifier.notify([`discord:${CH}`], { text: 'Caller: @everyone @here <@&5500000000000000001> <@4400000000000000009>' });
    const post = fake.in(CH).find((m) => m.content.startsWith('Caller: @everyone'))!;
    expect(post.allowed_mentions).toEqual({ parse: [] });
    const dc = t.app.services.chat.platforms.discord!;
    const before = fake.requests.length;
    const ref = await dc.send({ platform: 'discord', channel: CH }, { text: '' });
    expect(ref.id).toBe('');
    expect(fake.requests.length).toBe(before);
    // Edits carry the same restriction.
    const r2 = await dc.send({ platform: 'discord', channel: CH }, { text: 'x' });
    await dc.update(r2, { text: '@everyone done' });
    const m = fake.in(CH).find((x) => x.id === r2.id)!;
    expect(m.content).toBe('@everyone done');
    expect(m.allowed_mentions).toEqual({ parse: [] });
  });

  it('a 429 with retry_after is honoured and the reply is not lost', async () => {
    fake.failNext('POST /channels/:id/messages', {
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: 1, global: false },
      headers: { 'Retry-After': '1', 'X-RateLimit-Limit': '5', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset-After': '1', 'X-RateLimit-Bucket': 'b1', 'X-RateLimit-Scope': 'user' },
    });
    const started = Date.now();
    const mid = fake.message({ guild: GUILD, channel: CH, user: USER, content: '!sb help' });
    const msg = await waitFor(() => fake.in(CH).find((m) => m.reply_to === mid), 15_000, 'reply after 429');
    expect(msg.content).toContain('Switchboard commands');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(fake.requests.some((r) => r.status === 429)).toBe(true);
  });

  it('a rate-limited edit is retried and the job still ends with its result', async () => {
    fake.failNext('PATCH /webhooks/:id/:token/messages/:id', {
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: 0.5, global: false },
      headers: { 'Retry-After': '1', 'X-RateLimit-Limit': '5', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset-After': '0.5', 'X-RateLimit-Bucket': 'b2', 'X-RateLimit-Scope': 'user' },
    });
    const before = fake.requests.filter((r) => r.status === 429).length;
    const id = fake.slash({ guild: GUILD, channel: CH, user: USER, line: 'selftest 2' });
    const msg = await waitFor(() => fake.messages.find((m) => m.interaction === id && /Job #\d+/.test(m.content)), 10_000, 'job message');
    await waitFor(() => msg.content.includes('✅'), 15_000, 'job result');
    expect(fake.requests.filter((r) => r.status === 429).length).toBe(before + 1);
  });

  it('long replies are split at 2000 characters with fences balanced', async () => {
    const mid = fake.message({ guild: GUILD, channel: CH, user: USER, content: '!sb testlong' });
    await waitFor(() => fake.in(CH).filter((m) => BigInt(m.id) > BigInt(mid) && /line 299/.test(m.content)).length > 0, 10_000, 'last part');
    const parts = fake.in(CH).filter((m) => BigInt(m.id) > BigInt(mid) && /line \d{3}/.test(m.content));
    expect(parts.length).toBeGreaterThanOrEqual(7);
    expect(parts.map((p) => p.content).join('')).toContain('line 000');
    for (const p of parts) {
      expect(p.content.length).toBeLessThanOrEqual(2000);
      expect((p.content.match(/```/g) ?? []).length % 2).toBe(0);
    }
  });

  it('files go out as attachments; ephemeral replies carry flag 64', async () => {
    const id = fake.slash({ guild: GUILD, channel: CH, user: USER, line: 'testfile' });
    const msg = await waitFor(() => fake.messages.find((m) => m.interaction === id && m.files.length), 10_000, 'file reply');
    expect(msg.files[0]!.name).toBe('report.csv');
    expect(msg.files[0]!.data.toString()).toBe('a,b\n1,2\n');
    const id2 = fake.slash({ guild: GUILD, channel: CH, user: USER, line: 'testsecret' });
    const eph = await waitFor(() => fake.messages.find((m) => m.interaction === id2 && m.content.includes('only you')), 10_000, 'ephemeral');
    expect(eph.flags).toBe(64);
  });

  it('a dropped gateway connection resumes and the next command works', async () => {
    const before = fake.connections;
    fake.drop();
    await waitFor(() => fake.connections > before && fake.connected > 0, 20_000, 'reconnect');
    expect(fake.resumes).toBeGreaterThanOrEqual(1);
    const id = fake.slash({ guild: GUILD, channel: CH, user: USER, line: 'help' });
    const msg = await waitFor(() => fake.messages.find((m) => m.interaction === id && m.content.includes('Switchboard commands')), 10_000, 'reply after reconnect');
    expect(msg.via).toBe('original');
  });

  it('a guild that is not allowed gets nothing done', async () => {
    // Only this stranger's rows count: an earlier test's command may still be writing its audit row.
    const stranger = (rows: Awaited<ReturnType<typeof auditRows>>) => rows.filter((r) => r.user_id === '4400000000000000009' || r.channel === OTHER_CH || r.channel === '5500000000000000001');
    const before = stranger(await auditRows(t.app, 'discord')).length;
    expect(before).toBe(0);
    const id = fake.slash({ guild: OTHER_GUILD, channel: OTHER_CH, user: '4400000000000000009', line: 'selftest 1' });
    fake.message({ guild: OTHER_GUILD, channel: OTHER_CH, user: '4400000000000000009', content: '!sb help' });
    fake.message({ channel: '5500000000000000001', user: '4400000000000000009', content: 'help' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.callbacks.find((c) => c.id === id)).toBeUndefined();
    expect(fake.in(OTHER_CH)).toHaveLength(0);
    expect(fake.in('5500000000000000001')).toHaveLength(0);
    expect(stranger(await auditRows(t.app, 'discord'))).toHaveLength(0);
    expect(t.logs.join('')).toContain('not allowed');
  });

  it('alerts and DMs reach discord targets through the notifier', async () => {
    await t.app.notifier.notify([`discord:${CH}`], { text: 'PBX down' });
    await t.app.notifier.dm('discord', USER, { text: 'psst' });
    expect(fake.in(CH).some((m) => m.content === 'PBX down')).toBe(true);
    expect(fake.messages.some((m) => m.content === 'psst' && m.channel_id === `9${USER.slice(1)}`)).toBe(true);
  });
});

describe('discord adapter: expired interactions and direct messages', () => {
  let fake: DiscordFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await new DiscordFake([{ id: GUILD, channels: [CH] }]).start();
    t = await makeTestApp({
      listen: true,
      admins: [`discord:${USER}`],
      overrides: {
        'chat.discord.botToken': fake.token,
        'chat.discord.applicationId': fake.appId,
        'chat.discord.apiUrl': fake.apiUrl,
        'chat.discord.allowedGuilds': [GUILD],
        'chat.discord.allowDirect': true,
        'chat.discord.interactionTtlMs': 1000,
        'chat.reconnect.baseMs': 200,
      },
    });
    await waitFor(() => fake.connected > 0 && fake.commands.has(GUILD), 15_000, 'gateway connection');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('a job outliving its interaction token ends with its final text in a new channel message', async () => {
    const id = fake.slash({ guild: GUILD, channel: CH, user: USER, line: 'selftest 3' });
    const original = await waitFor(() => fake.messages.find((m) => m.interaction === id && /Job #\d+/.test(m.content)), 10_000, 'job message');
    const moved = await waitFor(() => fake.in(CH).find((m) => m.via === 'channel' && m.content.includes('✅')), 15_000, 'final text in the channel');
    expect(moved.content).toContain('Progress reached 3/3');
    expect(original.content).not.toContain('✅');
    // One replacement message, edited from then on.
    expect(fake.in(CH).filter((m) => m.via === 'channel' && /Job #/.test(m.content))).toHaveLength(1);
  });

  it('a direct message is served when allowDirect is on', async () => {
    const DM = '5500000000000000001';
    const mid = fake.message({ channel: DM, user: USER, content: 'whoami' });
    const reply = await waitFor(() => fake.in(DM).find((m) => m.reply_to === mid), 10_000, 'dm reply');
    expect(reply.content).toContain(USER);
  });
});

describe.each(['sqlite', 'mysql'] as const)('discord command buttons on %s', (engine) => {
  const PROV_CH = '3300000000000000033';
  const STRANGER = '4400000000000000002';
  let fake: DiscordFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await new DiscordFake([{ id: GUILD, channels: [PROV_CH] }]).start();
    t = await makeTestApp({
      engine,
      listen: true,
      admins: [`discord:${USER}`],
      overrides: {
        ...provisioningTo(`discord:${PROV_CH}`),
        'chat.discord.botToken': fake.token,
        'chat.discord.applicationId': fake.appId,
        'chat.discord.apiUrl': fake.apiUrl,
        'chat.discord.allowedGuilds': [GUILD],
        'chat.reconnect.baseMs': 200,
      },
    });
    await waitFor(() => fake.connected > 0 && fake.commands.has(GUILD), 15_000, 'gateway connection');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('the unknown-phone announcement has an action row; a press (component interaction) is deferred and runs as the presser', async () => {
    await unknownPhoneFetches(t.app);
    const ann = await waitFor(() => fake.in(PROV_CH).find((m) => m.content.includes(PHONE.pretty)), 10_000, 'announcement');
    const command = commandIn(ann.content);
    const ext = /ext=(\d+)/.exec(command)![1];
    expect(ann.components).toHaveLength(1);
    const [button] = ann.components![0]!.components;
    expect(button).toMatchObject({ type: 2, style: 1, label: `Provision as Fanvil X1SG, ext ${ext}` });
    expect(button!.custom_id).toMatch(/^sb:[A-Za-z0-9_-]{22}$/);
    const answer = (ix: string, pattern: RegExp, what: string) => waitFor(() => fake.messages.find((m) => m.interaction === ix && pattern.test(m.content)), 10_000, what);

    // Someone without the operator role: deferred at once (type 5), then the refusal in the interaction's reply.
    const denied = fake.press({ guild: GUILD, user: STRANGER, message: ann });
    expect((await waitFor(() => fake.callbacks.find((c) => c.id === denied), 3000, 'deferral')).type).toBe(5);
    const refusal = await answer(denied, /⛔ `provision` needs the operator role; you have no role/, 'refusal');
    expect(refusal.channel_id).toBe(PROV_CH);
    expect(await t.app.services.provision.store.exists(PHONE.mac)).toBe(false);
    // A custom_id nobody was given.
    await answer(fake.press({ guild: GUILD, user: USER, message: ann, custom_id: 'sb:AAAAAAAAAAAAAAAAAAAAAA' }), /not one the bot made for this chat/, 'forged id refused');
    // The admin presses it: provisioned, the password in a DM to the presser.
    await answer(fake.press({ guild: GUILD, user: USER, message: ann }), /sent to you in a direct message/, 'provisioned');
    expect(await t.app.services.provision.store.exists(PHONE.mac)).toBe(true);
    await waitFor(() => fake.in(`9${USER.slice(1)}`).find((m) => m.content.includes(PHONE.pretty)), 10_000, 'password by DM');
    const audit = (await auditRowsOnce(t.app, 'discord', 3)).map((r) => [r.user_id, r.command, r.outcome, r.channel]);
    expect(audit).toEqual([
      [STRANGER, 'provision', 'denied', PROV_CH],
      [USER, '(button)', 'invalid', PROV_CH],
      [USER, 'provision', 'ok', PROV_CH],
    ]);
    await expireButton(t.app, button!.custom_id.slice(3));
    const late = await answer(fake.press({ guild: GUILD, user: USER, message: ann }), /expired/, 'expired answer');
    expect(late.content).toBe(`⌛ This button has expired (buttons work for 7 days), so nothing was run. Type the command instead: \`${command}\` (SB_BUTTON_EXPIRED)`);
  });
});
