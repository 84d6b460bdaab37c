// Command buttons without a chat service: the notifier stores them only for adapters that draw buttons (the CLI
// adapter of `exec` gets the text alone), and the web console's command API runs a clicked button's stored command
// as the logged-in user — roles, audit and confirmation as for a typed line; made-up, foreign-room and expired ids
// refused in the room; a replica on the same store answers a press of another's button. On SQLite and MariaDB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { until } from './helpers/wait.js';
import { CliAdapter } from '../src/chat/cli-adapter.js';
import { BUTTON_ID_RE, MAX_BUTTONS } from '../src/core/buttons.js';
import { registerSecret } from '../src/secrets.js';
import type { ConsoleMessage } from '../src/console/hub.js';

describe.each(['sqlite', 'mysql'] as const)('command buttons on %s', (engine) => {
  let t: TestApp;
  let url: string;
  const session: Record<string, { cookie: string; csrf: string }> = {};

  const login = async (username: string, password: string) => {
    const r = await fetch(`${url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    expect(r.status).toBe(200);
    session[username] = { cookie: r.headers.get('set-cookie')!.split(';')[0]!, csrf: ((await r.json()) as { csrf: string }).csrf };
  };
  const command = (as: string, body: unknown) =>
    fetch(`${url}/console/api/command`, {
      method: 'POST',
      headers: { cookie: session[as]!.cookie, 'x-csrf-token': session[as]!.csrf, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const messages = async (room: string): Promise<ConsoleMessage[]> =>
    ((await (await fetch(`${url}/console/api/messages?room=${encodeURIComponent(room)}`, { headers: { cookie: session.admin!.cookie } })).json()) as { messages: ConsoleMessage[] }).messages;
  /** The first bot message in `room` after message `after` whose text matches. */
  const botSays = (room: string, after: number, pattern: RegExp) =>
    until(`bot message ${pattern}`, async () => (await messages(room)).find((m) => m.id > after && m.author === 'bot' && pattern.test(m.text)), 10_000);
  const lastId = async (room: string) => (await messages(room)).at(-1)?.id ?? 0;

  beforeAll(async () => {
    t = await makeTestApp({ engine, listen: true, overrides: { 'console.rooms': ['ops'] } });
    url = t.app.baseUrl();
    await login('admin', t.app.services.console.generatedAdminPassword!);
    await t.app.services.console.auth.setUser('vic', 'vic-password-123');
    await t.app.roles.grant('console', 'vic', 'viewer', 'test');
    await login('vic', 'vic-password-123');
    t.app.registry.add({ name: 'wipe demo', usage: 'wipe demo', summary: 'test', role: 'operator', confirm: () => 'This wipes the demo room.', run: async (ctx) => `demo wiped by ${ctx.caller.id}` });
  });
  afterAll(() => t?.close());

  it('an adapter without buttons (exec) gets the text alone and nothing is stored; a drawing adapter gets ids, at most a row, labels scrubbed', async () => {
    const cli = new CliAdapter();
    t.app.notifier.register(cli);
    const rows = async () => (await t.app.db.selectFrom('chat_buttons').select('id').execute()).length;
    const before = await rows();
    await t.app.notifier.send({ platform: 'cli', channel: 'terminal' }, { text: 'To see who you are, run:\nwhoami', buttons: [{ label: 'Who am I', command: 'whoami' }] });
    expect(cli.render()).toBe('To see who you are, run:\nwhoami');
    expect(await rows()).toBe(before);
    t.app.notifier.unregister('cli');

    registerSecret('label-secret-7781');
    const many = Array.from({ length: MAX_BUTTONS + 2 }, (_, i) => ({ label: i === 0 ? 'with label-secret-7781' : `b${i}`, command: 'whoami' }));
    await t.app.notifier.send({ platform: 'test', channel: 'C9' }, { text: 'many', buttons: many });
    const sent = t.chat.last()!;
    expect(sent.buttons).toHaveLength(MAX_BUTTONS);
    for (const b of sent.buttons!) expect(b.id).toMatch(BUTTON_ID_RE);
    expect(sent.buttons![0]!.label).not.toContain('label-secret-7781');
    expect(await rows()).toBe(before + MAX_BUTTONS);
    expect(t.logs.join('')).toContain('a message had more buttons than a row holds');
  });

  it('the console shows a bot message with its buttons; a click runs the stored command as the clicking user, through confirmation', async () => {
    await t.app.notifier.send(
      { platform: 'console', channel: 'general' },
      { text: 'The demo room is full. To wipe it, run:\nwipe demo', buttons: [{ label: 'Wipe the demo room', command: 'wipe demo' }] },
    );
    const msg = (await messages('general')).find((m) => m.text.startsWith('The demo room is full'))!;
    expect(msg.buttons).toHaveLength(1);
    expect(msg.buttons![0]).toEqual({ id: expect.stringMatching(BUTTON_ID_RE), label: 'Wipe the demo room' });
    const id = msg.buttons![0]!.id;

    // A viewer clicks: the normal refusal, in the room, audited as them.
    let after = await lastId('general');
    expect((await command('vic', { room: 'general', button: id })).status).toBe(202);
    await botSays('general', after, /⛔ `wipe demo` needs the operator role; you are viewer/);
    const clicked = (await messages('general')).find((m) => m.id > after && m.author === 'vic')!;
    expect(clicked.text).toBe('🔘 Wipe the demo room: wipe demo');

    // The admin clicks: asked to confirm, as a typed `wipe demo` would be; the code runs it as the admin.
    after = await lastId('general');
    expect((await command('admin', { room: 'general', button: id })).status).toBe(202);
    const ask = await botSays('general', after, /This wipes the demo room/);
    const code = /confirm ([A-Z0-9]{6})/.exec(ask.text)![1]!;
    after = await lastId('general');
    expect((await command('admin', { room: 'general', text: `confirm ${code}` })).status).toBe(202);
    await botSays('general', after, /^demo wiped by admin$/);
    // (A command's audit row is written after its reply.)
    const audit = await until(
      'three audit rows',
      async () => {
        const rows = await t.app.db
          .selectFrom('audit_log')
          .select(['user_id', 'command', 'outcome', 'channel'])
          .where('platform', '=', 'console')
          .where('command', '=', 'wipe demo')
          .orderBy('id')
          .execute();
        return rows.length >= 3 && rows;
      },
      10_000,
    );
    expect(audit).toEqual([
      { user_id: 'vic', command: 'wipe demo', outcome: 'denied', channel: 'general' },
      { user_id: 'admin', command: 'wipe demo', outcome: 'confirm', channel: 'general' },
      { user_id: 'admin', command: 'wipe demo', outcome: 'ok', channel: 'general' },
    ]);
  });

  it('a single-use button runs once when two people press it at the same moment; a refused press leaves it usable', async () => {
    let runs = 0;
    t.app.registry.add({ name: 'count once', usage: 'count once', summary: 'test', role: 'viewer', run: async () => `run ${++runs}` });
    await t.app.roles.grant('test', 'ann', 'viewer', 'test');
    await t.app.roles.grant('test', 'bob', 'viewer', 'test');
    await t.app.notifier.send({ platform: 'test', channel: 'C7' }, { text: 'count once', buttons: [{ label: 'Count', command: 'count once', once: true }] });
    const id = t.chat.last()!.buttons![0]!.id!;
    // Someone without a role first: refused, and the button stays usable.
    expect((await t.run('', { user: 'nobody', channel: 'C7', button: id })).outcome).toBe('denied');
    const [a, b] = await Promise.all([t.run('', { user: 'ann', channel: 'C7', button: id }), t.run('', { user: 'bob', channel: 'C7', button: id })]);
    expect([a.outcome, b.outcome].sort()).toEqual(['invalid', 'ok']);
    expect(runs).toBe(1);
    const loser = a.outcome === 'ok' ? b : a;
    const winner = a.outcome === 'ok' ? 'ann' : 'bob';
    // (Both runs record every reply of the shared test chat since they began: the refusal is the loser's.)
    expect(loser.replies.find((r) => r.startsWith('✔️'))).toMatch(
      new RegExp(`^✔️ This button was already used by test:${winner} just now, so nothing was run again\\. To run it anyway, type the command: \`count once\` \\(SB_BUTTON_USED\\)$`),
    );
  });

  it.runIf(engine === 'mysql')('a button sent by one replica is answered by another (the store holds what it runs)', async () => {
    const other = await makeTestApp({ replicaOf: t });
    try {
      await t.app.notifier.send({ platform: 'test', channel: 'C8' }, { text: 'whoami', buttons: [{ label: 'Who am I', command: 'whoami' }] });
      const id = t.chat.last()!.buttons![0]!.id!;
      const r = await other.run('', { user: 'ann', channel: 'C8', button: id });
      expect(r.outcome).toBe('ok');
      expect(r.replies.join('\n')).toMatch(/ann/);
    } finally {
      await other.close();
    }
  });

  it('a made-up id, a button of another room and an expired button are refused in the room; a malformed click is a 400', async () => {
    await t.app.notifier.send({ platform: 'console', channel: 'general' }, { text: 'Run whoami', buttons: [{ label: 'Who am I', command: 'whoami' }] });
    const id = (await messages('general')).find((m) => m.text === 'Run whoami')!.buttons![0]!.id;

    let after = await lastId('general');
    expect((await command('admin', { room: 'general', button: 'AAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(202);
    await botSays('general', after, /⚠️ This button is not one the bot made for this chat \(or it was removed\), so nothing was run\. Type the command instead\./);
    // The general room's button clicked as if it were in #ops.
    after = await lastId('ops');
    expect((await command('admin', { room: 'ops', button: id })).status).toBe(202);
    await botSays('ops', after, /not one the bot made for this chat/);
    // Past its seven days.
    await t.app.db
      .updateTable('chat_buttons')
      .set({ expires_at: Date.now() - 1 })
      .where('id', '=', id)
      .execute();
    after = await lastId('general');
    expect((await command('admin', { room: 'general', button: id })).status).toBe(202);
    await botSays('general', after, /^⌛ This button has expired \(buttons work for 7 days\), so nothing was run\. Type the command instead: `whoami` \(SB_BUTTON_EXPIRED\)$/);
    const refused = await t.app.db
      .selectFrom('audit_log')
      .select(['user_id', 'outcome', 'detail', 'channel'])
      .where('platform', '=', 'console')
      .where('command', '=', '(button)')
      .orderBy('id')
      .execute();
    expect(refused).toEqual([
      { user_id: 'admin', outcome: 'invalid', detail: 'SB_BUTTON_UNKNOWN: unknown button', channel: 'general' },
      { user_id: 'admin', outcome: 'invalid', detail: 'SB_BUTTON_UNKNOWN: unknown button', channel: 'ops' },
      { user_id: 'admin', outcome: 'invalid', detail: 'SB_BUTTON_EXPIRED: button expired', channel: 'general' },
    ]);

    const bad = await command('admin', { room: 'general', button: 42 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'SB_CONSOLE_BAD_COMMAND', message: 'button must be the id of a button (a string)' });
    expect((await command('admin', { room: 'general', button: 'x'.repeat(65) })).status).toBe(400);
    // Without the CSRF header a click is refused like any other state change.
    const noCsrf = await fetch(`${url}/console/api/command`, {
      method: 'POST',
      headers: { cookie: session.admin!.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ room: 'general', button: id }),
    });
    expect(noCsrf.status).toBe(403);
  });
});
