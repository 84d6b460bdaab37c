// Slack adapter with the real @slack/bolt (Socket Mode and HTTP mode) against a protocol-level fake.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { SlackFake } from './fakes/slack-fake.js';
import { listen, waitFor } from './fakes/common.js';
import { structured, tablePart } from '../src/core/message.js';
import { addTestCommands, auditRows, CSV, DHCP_SUBNETS, IMPORT_LINE, IMPORT_REPLY } from './fakes/setup.js';
import { auditRowsOnce, commandIn, expireButton, PHONE, provisioningTo, unknownPhoneFetches } from './fakes/unknown-phone.js';

const CH = 'C0SUPPORT';
const USER = 'U0ANN';

describe('slack adapter in Socket Mode (bolt against a fake Slack)', () => {
  let fake: SlackFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await new SlackFake().start();
    t = await makeTestApp({
      listen: true,
      admins: [`slack:${USER}`],
      overrides: {
        'dhcp.subnets': DHCP_SUBNETS,
        'chat.slack.botToken': fake.botToken,
        'chat.slack.appToken': fake.appToken,
        'chat.slack.apiUrl': fake.apiUrl,
        'chat.slack.allowedWorkspaces': [fake.team],
        'chat.slack.pingTimeoutMs': 300,
        'chat.reconnect.baseMs': 200,
        'uploads.maxBytes': 2048,
      },
    });
    addTestCommands(t.app);
    await waitFor(() => fake.connected > 0, 10_000, 'socket mode connection');
  });

  /** Gaps between a message's post and its edits, in ms. */
  const gaps = (times: number[]) => times.slice(1).map((x, i) => x - times[i]!);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('help as a mention -> the reply in the request thread', async () => {
    const ts = fake.mention({ channel: CH, user: USER, text: 'help' });
    const reply = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts), 10_000, 'help reply');
    expect(reply.text).toContain('Switchboard commands');
    expect(reply.text).toMatch(/```[\s\S]*audit[\s\S]*```/);
    expect(reply.text).toContain('&lt;command&gt;');
  });

  it('/sb help is acked at once and answered in the channel', async () => {
    const started = Date.now();
    const before = fake.in(CH).length;
    const env = fake.slash({ channel: CH, user: USER, text: 'help' });
    const ack = await waitFor(() => fake.acks.find((a) => a.envelope_id === env), 3000, 'ack');
    expect(ack.at - started).toBeLessThan(3000);
    const reply = await waitFor(
      () =>
        fake
          .in(CH)
          .slice(before)
          .find((p) => p.text.includes('Switchboard commands')),
      10_000,
      'slash reply',
    );
    expect(reply.method).toBe('chat.postMessage');
  });

  it('a DM is answered in the DM', async () => {
    const ts = fake.dm({ channel: 'D0ANN', user: USER, text: 'whoami' });
    const reply = await waitFor(() => fake.in('D0ANN').find((p) => p.thread_ts === ts), 10_000, 'dm reply');
    expect(reply.text).toContain(USER);
  });

  it('a CSV attached to an import command is downloaded with the bot token and handed to the command', async () => {
    const ts = fake.mention({ channel: CH, user: USER, text: IMPORT_LINE, files: [fake.addFile('hosts.csv', CSV)] });
    const reply = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts), 10_000, 'import reply');
    expect(reply.text).toMatch(IMPORT_REPLY);
    expect(fake.downloads.at(-1)!.auth).toBe(`Bearer ${fake.botToken}`);
  });

  it('a job edits one message (chat.update) and ends with its result', async () => {
    const ts = fake.mention({ channel: CH, user: USER, text: 'selftest 2' });
    const msg = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts && /Job #\d+/.test(p.text)), 30_000, 'job message');
    await waitFor(() => msg.text.includes('✅'), 60_000, 'job result');
    expect(msg.text).toContain('Progress reached 2/2');
    expect(msg.edits.length).toBeGreaterThanOrEqual(1);
    expect(fake.in(CH).filter((p) => p.thread_ts === ts && /Job #/.test(p.text))).toHaveLength(1);
    // Edits of one message are paced (about one a second), the final text last.
    for (const g of gaps(msg.times.slice(1))) expect(g).toBeGreaterThanOrEqual(950);
    expect(msg.edits.at(-1)).toBe(msg.text);
  });

  it('a burst of edits of one message is paced and ends with the newest text', async () => {
    const slack = t.app.services.chat.platforms.slack!;
    const ref = await slack.send({ platform: 'slack', channel: 'C0PACE' }, { text: 'step 0' });
    const post = fake.in('C0PACE')[0]!;
    await Promise.all(Array.from({ length: 6 }, (_, i) => slack.update(ref, { text: `step ${i + 1}` })));
    await slack.update(ref, { text: 'done' });
    expect(post.text).toBe('done');
    expect(post.edits.length).toBeLessThanOrEqual(3);
    for (const g of gaps(post.times.slice(1))) expect(g).toBeGreaterThanOrEqual(950);
  });

  it('a 429 with Retry-After is honoured and the reply is not lost', async () => {
    fake.failNext('chat.postMessage', { status: 429, headers: { 'Retry-After': '1' }, body: { ok: false, error: 'ratelimited' } });
    const started = Date.now();
    const ts = fake.mention({ channel: CH, user: USER, text: 'help' });
    const reply = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts), 15_000, 'reply after 429');
    expect(reply.text).toContain('Switchboard commands');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('files go out with the external upload API in the thread; ephemeral replies stay with the requester', async () => {
    const ts = fake.mention({ channel: CH, user: USER, text: 'testfile' });
    const up = await waitFor(() => fake.uploads.find((u) => u.thread_ts === ts && u.channel === CH), 10_000, 'upload');
    expect(up.filename).toBe('report.csv');
    expect(up.data!.toString()).toBe('a,b\n1,2\n');
    const ts2 = fake.mention({ channel: CH, user: USER, text: 'testsecret' });
    const eph = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts2), 10_000, 'ephemeral');
    expect(eph.method).toBe('chat.postEphemeral');
    expect(eph.user).toBe(USER);
  });

  it('a table reply goes as Block Kit: a native table block (cells as raw text), the plain text as fallback', async () => {
    t.app.registry.add({
      name: 'testtable',
      usage: 'testtable',
      summary: 'test',
      role: 'none',
      run: async () =>
        structured([
          '2 hosts:',
          tablePart(
            ['host', 'phones'],
            [
              ['<!channel> pc-1', '7'],
              ['pc-2', '12'],
            ],
          ),
        ]),
    });
    const ts = fake.mention({ channel: CH, user: USER, text: 'testtable' });
    const post = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts), 10_000, 'table reply');
    expect(post.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: '2 hosts:' } },
      {
        type: 'table',
        column_settings: [{ align: 'left' }, { align: 'right' }],
        rows: [
          [
            { type: 'raw_text', text: 'host' },
            { type: 'raw_text', text: 'phones' },
          ],
          [
            { type: 'raw_text', text: '<!channel> pc-1' },
            { type: 'raw_text', text: '7' },
          ],
          [
            { type: 'raw_text', text: 'pc-2' },
            { type: 'raw_text', text: '12' },
          ],
        ],
      },
    ]);
    expect(post.text).toContain('```host');
    expect(post.text).toContain('&lt;!channel&gt; pc-1');
  });

  it('long replies are split into several messages in the thread', async () => {
    const ts = fake.mention({ channel: CH, user: USER, text: 'testlong' });
    await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts && p.text.includes('line 299')), 10_000, 'last part');
    const parts = fake.in(CH).filter((p) => p.thread_ts === ts);
    expect(parts.length).toBeGreaterThanOrEqual(2);
    for (const p of parts) {
      expect(p.text.length).toBeLessThanOrEqual(4000);
      expect((p.text.match(/```/g) ?? []).length % 2).toBe(0);
    }
    expect(parts[0]!.text).toContain('&lt;tag&gt; &amp;');
  });

  it('a dropped WebSocket reconnects and the next command works', async () => {
    const before = fake.connections;
    fake.drop();
    await waitFor(() => fake.connections > before && fake.connected > 0, 20_000, 'reconnect');
    const ts = fake.mention({ channel: CH, user: USER, text: 'help' });
    const reply = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts), 10_000, 'reply after reconnect');
    expect(reply.text).toContain('Switchboard commands');
  });

  it('a Slack Connect user of another workspace gets nothing done, even in an allowed workspace channel', async () => {
    // Only the guest's rows count: an earlier test's command may still be writing its own audit row.
    const guestRows = async () => (await auditRows(t.app, 'slack')).filter((r) => r.user_id === 'U0EXT').length;
    const ts = fake.mention({ channel: CH, user: 'U0EXT', text: 'selftest 1', userTeam: 'T0GUEST' });
    const dts = fake.dm({ channel: 'D0EXT', user: 'U0EXT', text: 'whoami', userTeam: 'T0GUEST' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.in(CH).filter((p) => p.thread_ts === ts)).toHaveLength(0);
    expect(fake.in('D0EXT').filter((p) => p.thread_ts === dts)).toHaveLength(0);
    expect(await guestRows()).toBe(0);
    expect(t.logs.join('')).toContain('T0GUEST');
    // The same channel, a user of our own workspace: served.
    const ok = fake.mention({ channel: CH, user: USER, text: 'help', userTeam: fake.team });
    await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ok), 10_000, 'reply to own team');
  });

  it('a file over uploads.maxBytes is refused with a clear reply and the command does not run', async () => {
    const ts = fake.mention({ channel: CH, user: USER, text: IMPORT_LINE, files: [fake.addFile('big.csv', Buffer.alloc(3000, 'a'))] });
    const reply = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts), 10_000, 'refusal');
    expect(reply.text).toMatch(/^❌ .*big\.csv is 3000 bytes; the limit is 2048 \(SB_ATTACHMENT_TOO_LARGE\)$/);
    // The event understates the size: the download itself stops at the limit.
    const big = Buffer.concat([CSV, Buffer.alloc(3000, 'a')]);
    const ts2 = fake.mention({ channel: CH, user: USER, text: IMPORT_LINE, files: [fake.addFile('liar.csv', big, { size: 100 })] });
    const reply2 = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts2), 10_000, 'refusal 2');
    expect(reply2.text).toMatch(/^❌ .*liar\.csv: the file is \d+ bytes; the limit is 2048 \(SB_ATTACHMENT_TOO_LARGE\)$/);
    expect(reply2.text).not.toMatch(/added|Dry run/);
  });

  it('an HTML login page instead of the file fails with a clear message', async () => {
    const ts = fake.mention({ channel: CH, user: USER, text: IMPORT_LINE, files: [fake.addFile('hosts.csv', CSV, { html: true })] });
    const reply = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts), 10_000, 'html refusal');
    expect(reply.text).toMatch(/^❌ .*hosts\.csv: Slack answered with a web page instead of the file; the bot token is invalid or lacks the files:read scope/);
    expect(reply.text).not.toMatch(/Dry run/);
  });

  it('the bot token is never sent to a host other than Slack file hosts', async () => {
    const seen: (string | undefined)[] = [];
    const other = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end('mac,ip,hostname\n');
    });
    const base = await listen(other);
    try {
      const ts = fake.mention({ channel: CH, user: USER, text: IMPORT_LINE, files: [fake.addFile('hosts.csv', CSV, { base })] });
      const reply = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts), 10_000, 'refusal');
      expect(reply.text).toContain(`not downloading from ${new URL(base).host}`);
      expect(seen).toHaveLength(0);
      expect(t.logs.join('')).not.toContain(fake.botToken);
    } finally {
      other.closeAllConnections();
      other.close();
    }
  });

  it('discard removes an uploaded file with files.delete; a refusal resolves false', async () => {
    const f = fake.addFile('secret.csv', CSV);
    const ts = fake.mention({ channel: CH, user: USER, text: 'testdiscard', files: [f] });
    const reply = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts), 10_000, 'discard reply');
    expect(reply.text).toBe('discarded secret.csv: true');
    expect(fake.deleted).toContain(f.id);
    fake.failNext('files.delete', { status: 200, body: { ok: false, error: 'cant_delete_file' } });
    const f2 = fake.addFile('other.csv', CSV);
    const ts2 = fake.mention({ channel: CH, user: USER, text: 'testdiscard', files: [f2] });
    const reply2 = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === ts2), 10_000, 'discard reply 2');
    expect(reply2.text).toBe('discarded other.csv: false');
    expect(fake.deleted).not.toContain(f2.id);
  });

  it('mass mentions in text from data are escaped and cannot ping', async () => {
    await t.app.notifier.notify(['slack:C0CALLS'], { text: 'Caller: <!channel> <!everyone> <!here|here> <@U0BOSS> & co' });
    const post = fake.in('C0CALLS')[0]!;
    expect(post.text).toBe('Caller: &lt;!channel&gt; &lt;!everyone&gt; &lt;!here|here&gt; &lt;@U0BOSS&gt; &amp; co');
    expect(post.text).not.toContain('<');
  });

  it('/sb in a private channel the bot has not joined answers through the response_url', async () => {
    fake.privateChannels.add('G0PRIV');
    fake.slash({ channel: 'G0PRIV', user: USER, text: 'help' });
    const reply = await waitFor(() => fake.in('G0PRIV').find((p) => p.text.includes('Switchboard commands')), 10_000, 'response_url reply');
    expect(reply.method).toBe('response_url');
    expect(reply.response_type).toBe('in_channel');
    expect(fake.calls.some((c) => c.method === 'chat.postMessage' && c.params.channel === 'G0PRIV')).toBe(true);
    // A job started there edits its reply through the same response_url.
    fake.slash({ channel: 'G0PRIV', user: USER, text: 'selftest 1' });
    const job = await waitFor(() => fake.in('G0PRIV').find((p) => /Job #\d+/.test(p.text)), 10_000, 'job via response_url');
    await waitFor(() => job.text.includes('✅'), 15_000, 'job result via response_url');
    expect(fake.in('G0PRIV').filter((p) => /Job #/.test(p.text))).toHaveLength(1);
  });

  it('a long job through a response_url keeps its last use for the result: progress stops, the final text arrives', async () => {
    fake.privateChannels.add('G0PRIV2');
    fake.slash({ channel: 'G0PRIV2', user: USER, text: 'selftest 6' });
    const job = await waitFor(() => fake.in('G0PRIV2').find((p) => /Job #\d+/.test(p.text)), 10_000, 'job via response_url');
    await waitFor(() => job.text.includes('✅'), 20_000, 'job result via response_url');
    expect(job.method).toBe('response_url');
    expect(job.text).toMatch(/^✅ Job #\d+ selftest \(6 s\): done\nProgress reached 6\/6/);
    // Five uses: the post and four edits, the last of which is the result; the progress edits before it.
    expect(job.edits).toHaveLength(4);
    expect(job.edits.slice(0, 3).every((e) => e.startsWith('⏳'))).toBe(true);
    expect(job.edits[3]).toBe(job.text);
    await new Promise((r) => setTimeout(r, 1500));
    expect(job.edits).toHaveLength(4);
  });

  it('an event Slack retries (same event_id, retry_attempt) is acked again but dispatched once', async () => {
    const before = (await auditRows(t.app, 'slack')).length;
    const seen = () => t.logs.filter((l) => l.includes('inbound event already handled')).length;
    const seenBefore = seen();
    const ts = fake.mention({ channel: 'C0RETRY', user: USER, text: 'whoami' });
    await waitFor(() => fake.in('C0RETRY').find((p) => p.thread_ts === ts), 10_000, 'reply');
    const retries = [fake.redeliver(1, 'timeout'), fake.redeliver(2, 'timeout')];
    await waitFor(() => retries.every((env) => fake.acks.some((a) => a.envelope_id === env)), 5000, 'acks of the retries');
    // Both retries recognised as repeats (or, if they were not, their duplicate replies arrived).
    await waitFor(() => seen() === seenBefore + 2 || fake.in('C0RETRY').filter((p) => p.thread_ts === ts).length > 1, 10_000, 'both retries handled');
    expect(fake.in('C0RETRY').filter((p) => p.thread_ts === ts)).toHaveLength(1);
    expect((await auditRows(t.app, 'slack')).length).toBe(before + 1);
  });

  it('a workspace that is not allowed gets nothing done', async () => {
    const before = (await auditRows(t.app, 'slack')).length;
    fake.mention({ channel: 'C0OTHER', user: 'U0EVE', text: 'selftest 1', team: 'T0EVIL' });
    const env = fake.slash({ channel: 'C0OTHER', user: 'U0EVE', text: 'help', team: 'T0EVIL' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.in('C0OTHER')).toHaveLength(0);
    expect(fake.acks.some((a) => a.envelope_id === env)).toBe(true);
    expect((await auditRows(t.app, 'slack')).length).toBe(before);
    expect(t.logs.join('')).toContain('not allowed');
  });

  it('alerts and DMs reach slack targets through the notifier', async () => {
    await t.app.notifier.notify(['slack:C0ALERTS'], { text: 'PBX down' });
    await t.app.notifier.dm('slack', USER, { text: 'psst' });
    expect(fake.in('C0ALERTS').map((p) => p.text)).toContain('PBX down');
    expect(fake.calls.some((c) => c.method === 'conversations.open' && c.params.users === USER)).toBe(true);
    expect(fake.in(`D${USER}`).map((p) => p.text)).toContain('psst');
  });
});

describe('slack adapter in HTTP mode (signing secret)', () => {
  let fake: SlackFake;
  let t: TestApp;
  let url = '';
  const secret = 'test-signing-secret-0123456789';
  const sign = (ts: number, body: string, key = secret) => `v0=${crypto.createHmac('sha256', key).update(`v0:${ts}:${body}`).digest('hex')}`;
  const post = (body: string, headers: Record<string, string>) => fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });

  beforeAll(async () => {
    fake = await new SlackFake().start();
    t = await makeTestApp({
      listen: true,
      admins: [`slack:${USER}`],
      overrides: {
        'chat.slack.mode': 'http',
        'chat.slack.botToken': fake.botToken,
        'chat.slack.signingSecret': secret,
        'chat.slack.apiUrl': fake.apiUrl,
        'chat.slack.allowedWorkspaces': [fake.team],
        'chat.slack.http': { host: '127.0.0.1', port: 0, path: '/slack/events' },
      },
    });
    const server = await waitFor(() => t.app.services.chat.platforms.slack?.server, 10_000, 'slack http receiver');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('a bad signature or a stale timestamp is refused with 401 and runs nothing', async () => {
    const body = new URLSearchParams(fake.slashPayload({ channel: CH, user: USER, text: 'selftest 1' })).toString();
    const now = Math.floor(Date.now() / 1000);
    const bad = await post(body, { 'x-slack-request-timestamp': String(now), 'x-slack-signature': sign(now, body, 'wrong-secret') });
    expect(bad.status).toBe(401);
    const stale = now - 6 * 60;
    const old = await post(body, { 'x-slack-request-timestamp': String(stale), 'x-slack-signature': sign(stale, body) });
    expect(old.status).toBe(401);
    const none = await post(body, {});
    expect(none.status).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    expect(await auditRows(t.app, 'slack')).toHaveLength(0);
    expect(fake.posts).toHaveLength(0);
  });

  it('a correctly signed slash command runs and is answered', async () => {
    const body = new URLSearchParams(fake.slashPayload({ channel: CH, user: USER, text: 'help' })).toString();
    const now = Math.floor(Date.now() / 1000);
    const res = await post(body, { 'x-slack-request-timestamp': String(now), 'x-slack-signature': sign(now, body) });
    expect(res.status).toBe(200);
    const reply = await waitFor(() => fake.in(CH)[0], 10_000, 'reply');
    expect(reply.text).toContain('Switchboard commands');
  });

  it('a button press arrives as a signed payload= form (block_actions) and runs as the presser', async () => {
    await t.app.notifier.send({ platform: 'slack', channel: CH }, { text: 'Who are you? Type `whoami`.', buttons: [{ label: 'Who am I', command: 'whoami' }] });
    const msg = await waitFor(() => fake.in(CH).find((p) => p.text.includes('Who are you?')), 10_000, 'message with a button');
    expect(fake.buttonsOf(msg)).toMatchObject([{ action_id: 'sb-button-0', text: 'Who am I' }]);
    const body = new URLSearchParams({ payload: JSON.stringify(fake.pressPayload({ post: msg, user: USER })) }).toString();
    const now = Math.floor(Date.now() / 1000);
    expect((await post(body, { 'x-slack-request-timestamp': String(now), 'x-slack-signature': sign(now, body) })).status).toBe(200);
    const reply = await waitFor(() => fake.in(CH).find((p) => p.thread_ts === msg.ts), 10_000, 'answer in the thread');
    expect(reply.text).toContain(USER);
    expect((await auditRows(t.app, 'slack')).at(-1)).toMatchObject({ user_id: USER, command: 'whoami', outcome: 'ok', channel: CH });
  });
});

describe.each(['sqlite', 'mysql'] as const)('slack command buttons on %s (Socket Mode)', (engine) => {
  const PROV_CH = 'C0PROV';
  const STRANGER = 'U0BOB';
  let fake: SlackFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await new SlackFake().start();
    t = await makeTestApp({
      engine,
      listen: true,
      admins: [`slack:${USER}`],
      overrides: {
        ...provisioningTo(`slack:${PROV_CH}`),
        'chat.slack.botToken': fake.botToken,
        'chat.slack.appToken': fake.appToken,
        'chat.slack.apiUrl': fake.apiUrl,
        'chat.slack.allowedWorkspaces': [fake.team],
        'chat.reconnect.baseMs': 200,
      },
    });
    await waitFor(() => fake.connected > 0, 10_000, 'socket mode connection');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('the unknown-phone announcement has a native button; a press runs as the presser (refused without the role, forged and expired ids refused)', async () => {
    await unknownPhoneFetches(t.app);
    const post = await waitFor(() => fake.in(PROV_CH).find((p) => p.text.includes(PHONE.pretty)), 10_000, 'announcement');
    const command = commandIn(post.text);
    const ext = /ext=(\d+)/.exec(command)![1];
    // Block Kit: the text as a section (with the command, to copy) and an actions block with the button.
    expect(post.blocks!.map((b) => b.type)).toEqual(['section', 'actions']);
    expect(JSON.stringify(post.blocks![0])).toContain(command);
    const [button] = fake.buttonsOf(post);
    expect(button).toMatchObject({ action_id: 'sb-button-0', text: `Provision as Fanvil X1SG, ext ${ext}` });
    expect(button!.value).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(button!.value).not.toContain('provision');
    const answer = async (pattern: RegExp, what: string) => waitFor(() => fake.in(PROV_CH).find((p) => p.thread_ts === post.ts && pattern.test(p.text)), 10_000, what);

    // A user without the operator role: acked at once, then the normal refusal in the thread.
    const env = fake.press({ post, user: STRANGER });
    await waitFor(() => fake.acks.find((a) => a.envelope_id === env), 3000, 'ack of the press');
    await answer(/⛔ `provision` needs the operator role; you have no role/, 'refusal');
    expect(await t.app.services.provision.store.exists(PHONE.mac)).toBe(false);
    // A payload with an id the bot never made.
    fake.press({ post, user: USER, value: 'AAAAAAAAAAAAAAAAAAAAAA' });
    await answer(/not one the bot made for this chat/, 'forged id refused');
    // The admin presses it: provisioned, the password in a DM to the presser, audited as them.
    fake.press({ post, user: USER });
    await answer(/sent to you in a direct message/, 'provisioned');
    expect(await t.app.services.provision.store.exists(PHONE.mac)).toBe(true);
    await waitFor(() => fake.in(`D${USER}`).find((p) => p.text.includes(PHONE.pretty)), 10_000, 'password by DM');
    const audit = (await auditRowsOnce(t.app, 'slack', 3)).map((r) => [r.user_id, r.command, r.outcome, r.channel]);
    expect(audit).toEqual([
      [STRANGER, 'provision', 'denied', PROV_CH],
      [USER, '(button)', 'invalid', PROV_CH],
      [USER, 'provision', 'ok', PROV_CH],
    ]);
    // Used up: a second press says who used it and runs nothing (a new password would be generated).
    fake.press({ post, user: STRANGER });
    await answer(new RegExp(`already used by slack:${USER} \\(ann\\)`), 'already used');
    expect((await auditRows(t.app, 'slack')).filter((r) => r.command === 'provision')).toHaveLength(2);
    // After seven days the button answers with the command to type.
    await expireButton(t.app, button!.value);
    fake.press({ post, user: USER });
    const late = await answer(/expired/, 'expired answer');
    expect(late.text).toBe(`⌛ This button has expired (buttons work for 7 days), so nothing was run. Type the command instead: \`${command}\` (SB_BUTTON_EXPIRED)`);
  });
});

describe('slack adapter in HTTP mode: retried events', () => {
  let fake: SlackFake;
  let t: TestApp;
  let url = '';
  const secret = 'test-signing-secret-0123456789';
  const sign = (ts: number, body: string) => `v0=${crypto.createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;

  beforeAll(async () => {
    fake = await new SlackFake().start();
    t = await makeTestApp({
      engine: 'mysql',
      listen: true,
      admins: [`slack:${USER}`],
      overrides: {
        'chat.slack.mode': 'http',
        'chat.slack.botToken': fake.botToken,
        'chat.slack.signingSecret': secret,
        'chat.slack.apiUrl': fake.apiUrl,
        'chat.slack.allowedWorkspaces': [fake.team],
        'chat.slack.http': { host: '127.0.0.1', port: 0, path: '/slack/events' },
      },
    });
    const server = await waitFor(() => t.app.services.chat.platforms.slack?.server, 10_000, 'slack http receiver');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('a retry (X-Slack-Retry-Num, same event_id) is answered 200 but dispatched once', async () => {
    const payload = fake.mentionPayload({ channel: CH, user: USER, text: 'whoami' });
    const body = JSON.stringify(payload);
    const deliver = async (retry?: number) => {
      const now = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-slack-request-timestamp': String(now), 'x-slack-signature': sign(now, body) };
      if (retry) Object.assign(headers, { 'x-slack-retry-num': String(retry), 'x-slack-retry-reason': 'http_timeout' });
      return (await fetch(url, { method: 'POST', body, headers })).status;
    };
    expect(await deliver()).toBe(200);
    await waitFor(() => fake.in(CH).find((p) => p.thread_ts === payload.event.ts), 10_000, 'reply');
    expect(await deliver(1)).toBe(200);
    expect(await deliver(2)).toBe(200);
    const replies = () => fake.in(CH).filter((p) => p.thread_ts === payload.event.ts);
    await waitFor(() => t.logs.filter((l) => l.includes('inbound event already handled')).length === 2 || replies().length > 1, 10_000, 'both retries handled');
    expect(fake.in(CH).filter((p) => p.thread_ts === payload.event.ts)).toHaveLength(1);
    expect(await auditRows(t.app, 'slack')).toHaveLength(1);
  });
});

describe('slack adapter stopped while it connects', () => {
  it('a Socket Mode connection that opens after stop() is closed at once', async () => {
    const fake = await new SlackFake().start();
    fake.delays.set('apps.connections.open', 600);
    const { SlackAdapter } = await import('../src/chat/adapters/slack.js');
    const { createLogger } = await import('../src/log.js');
    const a = new SlackAdapter(
      {
        mode: 'socket',
        botToken: fake.botToken,
        appToken: fake.appToken,
        apiUrl: fake.apiUrl,
        allowedWorkspaces: [fake.team],
        http: { host: '127.0.0.1', port: 0, path: '/slack/events' },
        pingTimeoutMs: 5000,
        maxBytes: 1024,
        reconnect: { baseMs: 50, maxMs: 200 },
      },
      createLogger({ level: 'silent' }),
    );
    try {
      const started = a.start(async () => undefined);
      await waitFor(() => fake.calls.some((c) => c.method === 'apps.connections.open'), 5000, 'connect in flight');
      await a.stop(); // while apps.connections.open is still unanswered
      await started;
      await new Promise((r) => setTimeout(r, 1000));
      expect(fake.connected).toBe(0);
      expect(fake.calls.filter((c) => c.method === 'apps.connections.open')).toHaveLength(1);
    } finally {
      await a.stop();
      await fake.close();
    }
  });
});
