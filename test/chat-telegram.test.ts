// Telegram adapter with the real telegraf against a protocol-level fake of the Bot API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { TelegramFake } from './fakes/telegram-fake.js';
import { waitFor } from './fakes/common.js';
import { addTestCommands, auditRows, CSV, DHCP_SUBNETS, IMPORT_LINE, IMPORT_REPLY } from './fakes/setup.js';
import { auditRowsOnce, commandIn, expireButton, PHONE, provisioningTo, unknownPhoneFetches } from './fakes/unknown-phone.js';

const GROUP = -100123;
const USER = 42;

describe('telegram adapter (telegraf against a fake Bot API)', () => {
  let fake: TelegramFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await new TelegramFake().start();
    t = await makeTestApp({
      listen: true,
      admins: [`telegram:${USER}`],
      overrides: {
        'dhcp.subnets': DHCP_SUBNETS,
        'chat.telegram.botToken': fake.token,
        'chat.telegram.apiRoot': fake.url,
        'chat.telegram.allowedChats': [String(GROUP), String(USER)],
        'chat.reconnect.baseMs': 200,
        'uploads.maxBytes': 2048,
      },
    });
    addTestCommands(t.app);
    await waitFor(() => fake.calls.some((c) => c.method === 'getUpdates'), 10_000, 'polling');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('sets the command menu from the registry', async () => {
    await waitFor(() => fake.commands.length > 0, 5000, 'setMyCommands');
    const names = fake.commands.map((c) => c.command);
    expect(names).toContain('help');
    expect(names).toContain('selftest');
  });

  it('help in a group -> the reply quotes the request, as HTML', async () => {
    const id = fake.say({ chat: GROUP, user: USER, text: '/help@sb_test_bot' });
    const reply = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id), 10_000, 'help reply');
    expect(reply.parse_mode).toBe('HTML');
    expect(reply.text).toContain('Switchboard commands');
    expect(reply.text).toMatch(/<pre>[\s\S]*audit[\s\S]*<\/pre>/);
  });

  it('ignores commands addressed to another bot', async () => {
    const id = fake.say({ chat: GROUP, user: USER, text: '/help@other_bot' });
    await new Promise((r) => setTimeout(r, 800));
    expect(fake.to(GROUP).find((s) => s.reply_to === id)).toBeUndefined();
  });

  it('a CSV document with an import caption is fetched with getFile and handed to the command', async () => {
    const id = fake.say({ chat: GROUP, user: USER, caption: `/${IMPORT_LINE}`, document: { name: 'hosts.csv', data: CSV } });
    const reply = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id), 10_000, 'import reply');
    expect(reply.text).toMatch(IMPORT_REPLY);
    expect(fake.calls.some((c) => c.method === 'getFile')).toBe(true);
  });

  it('a document over uploads.maxBytes is refused with a clear reply', async () => {
    const id = fake.say({ chat: GROUP, user: USER, caption: `/${IMPORT_LINE}`, document: { name: 'big.csv', data: Buffer.alloc(3000, 'a') } });
    const reply = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id), 10_000, 'refusal');
    expect(reply.text).toMatch(/^❌ .*big\.csv is 3000 bytes; the limit is 2048 \(SB_ATTACHMENT_TOO_LARGE\)$/);
  });

  it('an ephemeral reply in a group goes to the requester privately', async () => {
    const id = fake.say({ chat: GROUP, user: USER, text: '/testsecret' });
    const dm = await waitFor(() => fake.to(USER).find((s) => s.text === 'only you can see this'), 10_000, 'private reply');
    expect(dm.reply_to).toBeUndefined();
    expect(fake.to(GROUP).find((s) => s.reply_to === id)).toBeUndefined();
  });

  it('a job edits one message with its progress and ends with the result', async () => {
    const id = fake.say({ chat: GROUP, user: USER, text: '/selftest 2' });
    const msg = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id && /Job #\d+/.test(s.text ?? '')), 10_000, 'job message');
    await waitFor(() => /✅/.test(msg.text ?? ''), 15_000, 'job result');
    expect(msg.text).toContain('Progress reached 2/2');
    expect(msg.edits.length).toBeGreaterThanOrEqual(1);
    expect(fake.to(GROUP).filter((s) => /Job #/.test(s.text ?? '') && s.reply_to === id)).toHaveLength(1);
    // Edits of one message about one a second at most.
    const edits = msg.times.slice(1);
    for (let i = 1; i < edits.length; i++) expect(edits[i]! - edits[i - 1]!).toBeGreaterThanOrEqual(950);
  });

  it('the newest text of a message goes out even after more 429s than the retry limit of other calls', async () => {
    const tg = t.app.services.chat.platforms.telegram!;
    const ref = await tg.send({ platform: 'telegram', channel: String(GROUP) }, { text: 'step 0' });
    fake.failNext('editMessageText', { status: 429, body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 0', parameters: { retry_after: 0 } } }, 8);
    const first = tg.update(ref, { text: 'step 1' });
    const last = tg.update(ref, { text: 'final <b>' });
    await Promise.all([first, last]);
    const sent = fake.to(GROUP).find((s) => String(s.message_id) === ref.id)!;
    expect(sent.text).toBe('final &lt;b&gt;');
    expect(fake.pendingFailures('editMessageText')).toBe(0);
  });

  it('a 429 with retry_after is honoured and the reply is not lost', async () => {
    fake.failNext('sendMessage', { status: 429, body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } } });
    const before = fake.calls.filter((c) => c.method === 'sendMessage').length;
    const started = Date.now();
    const id = fake.say({ chat: GROUP, user: USER, text: '/help' });
    const reply = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id), 10_000, 'reply after 429');
    expect(reply.text).toContain('Switchboard commands');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(fake.calls.filter((c) => c.method === 'sendMessage').length - before).toBeGreaterThanOrEqual(2);
  });

  it('recovers from polling errors and the next command works', async () => {
    // telegraf waits 5 s after a 5xx (it ignores the body) and retry_after after a 429.
    fake.failNext('getUpdates', { status: 502, body: { ok: false, error_code: 502, description: 'Bad Gateway' } });
    fake.failNext('getUpdates', { status: 429, body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } } });
    fake.kick();
    await waitFor(() => fake.pendingFailures('getUpdates') === 0, 10_000, 'failed polls');
    const id = fake.say({ chat: GROUP, user: USER, text: '/help' });
    const reply = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id), 15_000, 'reply after polling errors');
    expect(reply.text).toContain('Switchboard commands');
  });

  it('a 409 Conflict on polling backs off with growing delays and calls deleteWebhook only once', async () => {
    const getMes = () => fake.calls.filter((c) => c.method === 'getMe');
    const before = getMes().length;
    fake.conflict = true;
    fake.kick();
    await waitFor(() => getMes().length >= before + 4, 20_000, 'reconnect attempts');
    fake.conflict = false;
    const at = getMes()
      .slice(before)
      .map((c) => c.at);
    const gaps = at.slice(1).map((x, i) => x - at[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThan(gaps[i - 1]!);
    expect(fake.calls.filter((c) => c.method === 'deleteWebhook')).toHaveLength(1);
    expect(t.logs.join('')).toContain('409 Conflict');
    const id = fake.say({ chat: GROUP, user: USER, text: '/help' });
    const reply = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id), 20_000, 'reply after the conflict ended');
    expect(reply.text).toContain('Switchboard commands');
  });

  it('a long poll whose TCP connection is cut mid-request is retried and the next command works', async () => {
    fake.destroyNextPoll = true;
    fake.kick();
    await waitFor(() => fake.destroyedPolls === 1, 10_000, 'cut poll');
    const id = fake.say({ chat: GROUP, user: USER, text: '/help' });
    const reply = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id), 20_000, 'reply after the cut connection');
    expect(reply.text).toContain('Switchboard commands');
  });

  it('discard deletes the message carrying the document; a refusal resolves false', async () => {
    const id = fake.say({ chat: GROUP, user: USER, caption: '/testdiscard', document: { name: 'sip.csv', data: CSV } });
    const reply = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id), 10_000, 'discard reply');
    expect(reply.text).toBe('discarded sip.csv: true');
    expect(fake.deleted).toContain(`${GROUP}|${id}`);
    fake.failNext('deleteMessage', { status: 400, body: { ok: false, error_code: 400, description: "Bad Request: message can't be deleted" } });
    const id2 = fake.say({ chat: GROUP, user: USER, caption: '/testdiscard', document: { name: 'sip2.csv', data: CSV } });
    const reply2 = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === id2), 10_000, 'discard reply 2');
    expect(reply2.text).toBe('discarded sip2.csv: false');
    expect(fake.deleted).not.toContain(`${GROUP}|${id2}`);
  });

  it('a chat that is not allowed gets nothing done, and is told once its id and the setting that allows it', async () => {
    const before = (await auditRows(t.app, 'telegram')).length;
    const first = fake.say({ chat: -100999, user: USER, text: '/selftest 1' });
    fake.say({ chat: 555, user: 555, text: 'help' });
    const told = await waitFor(() => fake.to(-100999).find((s) => s.reply_to === first), 10_000, 'answer to a chat not allowed');
    expect(told.text).toBe(
      'This chat is not allowed to use this bot, so nothing was run. Its chat id is -100999: to allow it, add -100999 to chat.telegram.allowedChats (env TELEGRAM_ALLOWED_CHATS, comma-separated) and restart the bot. (Said once per chat.)',
    );
    await waitFor(() => fake.to(555).length === 1 || undefined, 10_000, 'answer to a private chat not allowed');
    expect(fake.to(555)[0]!.text).toMatch(/chat id is 555: to allow it, add 555 to chat\.telegram\.allowedChats/);
    // Once per chat, by a claim in the store: later commands from there get silence again.
    fake.say({ chat: -100999, user: USER, text: '/help' });
    fake.say({ chat: -100999, user: USER, text: '/selftest 1' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.to(-100999)).toHaveLength(1);
    expect(fake.to(555)).toHaveLength(1);
    expect(await t.app.db.selectFrom('claims').select('k').where('k', 'like', 'chat:telegram:%refused:-100999').execute()).toHaveLength(1);
    expect((await auditRows(t.app, 'telegram')).length).toBe(before);
    expect(t.logs.join('')).toContain('not allowed');
  });

  it('files go out with sendDocument; long replies are split at 4096 with HTML escaped', async () => {
    const id = fake.say({ chat: USER, user: USER, text: 'testfile' });
    const doc = await waitFor(() => fake.to(USER).find((s) => s.reply_to === id && s.document), 10_000, 'document');
    expect(doc.document!.name).toBe('report.csv');
    expect(doc.document!.data.toString()).toBe('a,b\n1,2\n');
    const id2 = fake.say({ chat: USER, user: USER, text: '/testlong' });
    await waitFor(() => fake.to(USER).find((s) => s.reply_to === id2 && s.text?.includes('line 299')), 10_000, 'split reply');
    const parts = fake.to(USER).filter((s) => s.reply_to === id2);
    for (const p of parts) {
      expect(p.text!.length).toBeLessThanOrEqual(4096);
      expect(p.text).toMatch(/<pre>[\s\S]*<\/pre>/);
    }
    const all = parts.map((p) => p.text).join('');
    expect(all).toContain('&lt;tag&gt; &amp; "quote"');
    expect(all).toContain('line 000');
    expect(all).toContain('line 299');
  });

  it('alerts and DMs reach telegram targets through the notifier', async () => {
    await t.app.notifier.notify([`telegram:${GROUP}`], { text: 'PBX down <now>' });
    await t.app.notifier.dm('telegram', String(USER), { text: 'psst' });
    expect(fake.to(GROUP).some((s) => s.text === 'PBX down &lt;now&gt;')).toBe(true);
    expect(fake.to(USER).some((s) => s.text === 'psst')).toBe(true);
  });

  it('markup and mentions in text from data are escaped', async () => {
    await t.app.notifier.notify([`telegram:${GROUP}`], { text: 'Caller: <a href="tg://user?id=1">@everyone</a> <b>boss</b> & co' });
    expect(fake.to(GROUP).some((s) => s.text === 'Caller: &lt;a href="tg://user?id=1"&gt;@everyone&lt;/a&gt; &lt;b&gt;boss&lt;/b&gt; &amp; co')).toBe(true);
  });
});

describe.each(['sqlite', 'mysql'] as const)('telegram command buttons on %s', (engine) => {
  const PROV_CHAT = -100777;
  const STRANGER = 43;
  let fake: TelegramFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await new TelegramFake().start();
    t = await makeTestApp({
      engine,
      listen: true,
      admins: [`telegram:${USER}`],
      overrides: {
        ...provisioningTo(`telegram:${PROV_CHAT}`),
        'chat.telegram.botToken': fake.token,
        'chat.telegram.apiRoot': fake.url,
        'chat.telegram.allowedChats': [String(PROV_CHAT), String(USER)],
        'chat.reconnect.baseMs': 200,
      },
    });
    await waitFor(() => fake.calls.some((c) => c.method === 'getUpdates'), 10_000, 'polling');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('the unknown-phone announcement has an inline keyboard; a press (callback_query) runs as the presser, forged and expired ids refused', async () => {
    await unknownPhoneFetches(t.app);
    const ann = await waitFor(() => fake.to(PROV_CHAT).find((s) => s.text?.includes(PHONE.pretty)), 10_000, 'announcement');
    const command = commandIn(ann.text!);
    const ext = /ext=(\d+)/.exec(command)![1];
    const [button] = ann.reply_markup!.inline_keyboard[0]!;
    expect(button!.text).toBe(`Provision as Fanvil X1SG, ext ${ext}`);
    // callback_data is only a reference to the stored command (Telegram allows 64 bytes).
    expect(button!.callback_data).toMatch(/^sb:[A-Za-z0-9_-]{22}$/);
    const answer = (pattern: RegExp, what: string) => waitFor(() => fake.to(PROV_CHAT).find((s) => s.reply_to === ann.message_id && pattern.test(s.text ?? '')), 10_000, what);

    // Someone without the operator role: the query is answered (the client stops waiting), then the refusal.
    const q = fake.press({ sent: ann, user: STRANGER, username: 'bob' });
    await answer(/⛔ <code>provision<\/code> needs the operator role; you have no role/, 'refusal');
    expect(fake.answers.map((a) => a.callback_query_id)).toContain(q);
    expect(await t.app.services.provision.store.exists(PHONE.mac)).toBe(false);
    // Data a modified client made up.
    fake.press({ sent: ann, user: USER, data: 'sb:AAAAAAAAAAAAAAAAAAAAAA' });
    await answer(/not one the bot made for this chat/, 'forged id refused');
    // A press in a chat that is not allowed is answered with a notice and runs nothing.
    const outside = fake.press({ sent: { ...ann, chat_id: '-100999' }, user: USER });
    await waitFor(() => fake.answers.find((a) => a.callback_query_id === outside), 10_000, 'notice to a chat not allowed');
    expect(fake.answers.find((a) => a.callback_query_id === outside)!.text).toMatch(/not allowed/);
    // The admin presses it: provisioned, the password privately to the presser.
    fake.press({ sent: ann, user: USER });
    await answer(/sent to you in a direct message/, 'provisioned');
    expect(await t.app.services.provision.store.exists(PHONE.mac)).toBe(true);
    await waitFor(() => fake.to(USER).find((s) => s.text?.includes(PHONE.pretty)), 10_000, 'password in the private chat');
    const audit = (await auditRowsOnce(t.app, 'telegram', 3)).map((r) => [r.user_id, r.user_name, r.command, r.outcome, r.channel]);
    expect(audit).toEqual([
      [String(STRANGER), 'bob', 'provision', 'denied', String(PROV_CHAT)],
      [String(USER), 'ann', '(button)', 'invalid', String(PROV_CHAT)],
      [String(USER), 'ann', 'provision', 'ok', String(PROV_CHAT)],
    ]);
    await expireButton(t.app, button!.callback_data.slice(3));
    fake.press({ sent: ann, user: USER });
    const late = await answer(/expired/, 'expired answer');
    expect(late.text).toBe(`⌛ This button has expired (buttons work for 7 days), so nothing was run. Type the command instead: <code>${command}</code> (SB_BUTTON_EXPIRED)`);
  });
});

describe('telegram adapter in webhook mode', () => {
  let fake: TelegramFake;
  let t: TestApp;
  const secret = 'hook-secret-123';
  beforeAll(async () => {
    fake = await new TelegramFake().start();
    t = await makeTestApp({
      listen: true,
      admins: [`telegram:${USER}`],
      overrides: {
        'chat.telegram.mode': 'webhook',
        'chat.telegram.webhookSecret': secret,
        'chat.telegram.botToken': fake.token,
        'chat.telegram.apiRoot': fake.url,
        'chat.telegram.allowedChats': [String(GROUP)],
      },
    });
    await waitFor(() => fake.calls.some((c) => c.method === 'getMe'), 10_000, 'getMe');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const update = (id: number, text: string) => ({
    update_id: id,
    message: {
      message_id: 500 + id,
      date: 1,
      chat: { id: GROUP, type: 'supergroup' },
      from: { id: USER, is_bot: false, first_name: 'Ann' },
      text,
      entities: [{ type: 'bot_command', offset: 0, length: text.split(' ')[0]!.length }],
    },
  });

  it('checks the secret token header and serves updates posted to the webhook', async () => {
    const url = `${t.app.baseUrl()}/telegram/webhook`;
    const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'wrong' }, body: JSON.stringify(update(1, '/help')) });
    expect(bad.status).toBe(401);
    const none = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(update(2, '/help')) });
    expect(none.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.to(GROUP)).toHaveLength(0);
    const ok = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret }, body: JSON.stringify(update(3, '/help')) });
    expect(ok.status).toBe(200);
    const reply = await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === 503), 10_000, 'webhook reply');
    expect(reply.text).toContain('Switchboard commands');
    expect(fake.calls.some((c) => c.method === 'getUpdates')).toBe(false);
  });

  it('an update delivered twice (a webhook retry, or another replica) is dispatched once', async () => {
    const url = `${t.app.baseUrl()}/telegram/webhook`;
    const post = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret }, body: JSON.stringify(update(7, '/whoami')) });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200);
    await waitFor(() => fake.to(GROUP).find((s) => s.reply_to === 507), 10_000, 'reply');
    await waitFor(() => t.logs.some((l) => l.includes('inbound event already handled')) || fake.to(GROUP).filter((s) => s.reply_to === 507).length > 1, 10_000, 'the repeat handled');
    expect(fake.to(GROUP).filter((s) => s.reply_to === 507)).toHaveLength(1);
  });
});

describe('telegram adapter stopped while it connects', () => {
  it('a connect that completes after stop() starts no polling', async () => {
    const fake = await new TelegramFake().start();
    fake.delays.set('getMe', 600);
    const { TelegramAdapter } = await import('../src/chat/adapters/telegram.js');
    const { createLogger } = await import('../src/log.js');
    const a = new TelegramAdapter(
      { botToken: fake.token, apiRoot: fake.url, mode: 'polling', allowedChats: [String(GROUP)], maxBytes: 1024, reconnect: { baseMs: 50, maxMs: 200 } },
      createLogger({ level: 'silent' }),
    );
    try {
      const started = a.start(async () => undefined);
      await waitFor(() => fake.calls.some((c) => c.method === 'getMe'), 5000, 'getMe in flight');
      await a.stop(); // while getMe is still unanswered
      await started;
      await new Promise((r) => setTimeout(r, 1000));
      expect(fake.calls.map((c) => c.method)).toEqual(['getMe']);
    } finally {
      await a.stop();
      await fake.close();
    }
  });
});
