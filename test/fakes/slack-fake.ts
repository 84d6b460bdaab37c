// A local Slack: Web API methods under /api/ (form or JSON bodies, bearer tokens), Socket Mode
// (apps.connections.open -> WebSocket with hello, envelopes, acks, disconnect), private file downloads that
// need the bot token, and the external upload URLs of files.getUploadURLExternal. Records what the bot did;
// injects mentions, DMs, slash commands, files, 429s (Retry-After), dropped connections and outages. Users of
// another team (Slack Connect) carry `user_team`; private channels the bot has not joined answer
// not_in_channel; slash commands' response_urls are served and recorded like posts. A press of a message's
// button is a block_actions interactive payload (Socket Mode envelope `interactive`, or `payload=` form posted to
// the app's request URL in HTTP mode), carrying the presser, the channel, the message and the button's value.
import http from 'node:http';
import crypto from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { json, listen, parseBody, readBody, type Failure } from './common.js';

export interface SlackPost {
  method: string;
  channel: string;
  ts: string;
  text: string;
  /** Block Kit blocks of a structured reply. */
  blocks?: Record<string, unknown>[];
  thread_ts?: string;
  user?: string;
  edits: string[];
  /** When the post and each edit arrived (ms). */
  times: number[];
  response_type?: string;
}

export interface MentionOptions {
  channel: string;
  user: string;
  text: string;
  team?: string;
  userTeam?: string;
  thread_ts?: string;
  files?: Record<string, unknown>[];
}

export class SlackFake {
  url = '';
  readonly botToken = 'xoxb-test-bot-token';
  readonly appToken = 'xapp-test-app-token';
  readonly team = 'T0TEAM';
  readonly botUser = 'UBOT';
  readonly posts: SlackPost[] = [];
  readonly calls: { method: string; params: Record<string, unknown> }[] = [];
  readonly acks: { envelope_id: string; payload?: unknown; at: number }[] = [];
  readonly uploads: { file_id: string; filename: string; data?: Buffer; channel?: string; thread_ts?: string }[] = [];
  readonly downloads: { path: string; auth?: string }[] = [];
  /** Files removed with files.delete. */
  readonly deleted: string[] = [];
  /** Channels the bot is not a member of (chat.postMessage answers not_in_channel). */
  readonly privateChannels = new Set<string>();
  /** While true, apps.connections.open fails and Socket Mode connections are cut (an outage). */
  refusing = false;
  connections = 0;
  /** Per Web API method: answer every call this many ms late (a slow connect). */
  readonly delays = new Map<string, number>();
  private server: http.Server;
  private wss: WebSocketServer;
  private sockets = new Set<WebSocket>();
  private failures = new Map<string, Failure[]>();
  private files = new Map<string, { data: Buffer; html?: boolean }>();
  private responseUrls = new Map<string, { channel: string; user: string; post?: SlackPost }>();
  private seq = 1;
  private ping?: NodeJS.Timeout;
  private lastEvent?: unknown;

  constructor() {
    this.server = http.createServer((req, res) => void this.handle(req, res).catch((e) => json(res, 500, { ok: false, error: String(e) })));
    this.wss = new WebSocketServer({ server: this.server, path: '/link' });
    this.wss.on('connection', (ws) => {
      if (this.refusing) return ws.terminate();
      this.connections++;
      this.sockets.add(ws);
      ws.on('close', () => this.sockets.delete(ws));
      ws.on('message', (raw) => {
        const m = JSON.parse(raw.toString()) as { envelope_id?: string; payload?: unknown };
        if (m.envelope_id) this.acks.push({ envelope_id: m.envelope_id, payload: m.payload, at: Date.now() });
      });
      ws.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'fake', approximate_connection_time: 3600 }, connection_info: { app_id: 'A0APP' } }));
    });
  }

  async start(): Promise<this> {
    this.url = await listen(this.server);
    this.ping = setInterval(() => this.sockets.forEach((s) => s.ping()), 2000);
    return this;
  }

  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  async close(): Promise<void> {
    clearInterval(this.ping);
    for (const s of this.sockets) s.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  failNext(method: string, f: Failure, times = 1): void {
    const l = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) l.push(f);
    this.failures.set(method, l);
  }

  /** Kill every Socket Mode connection without a close handshake. */
  drop(): void {
    for (const s of this.sockets) s.terminate();
  }

  /** An outage: cut every connection and refuse new ones until `refuse(false)`. */
  refuse(on: boolean): void {
    this.refusing = on;
    if (on) this.drop();
  }

  get connected(): number {
    return this.sockets.size;
  }

  private ts(): string {
    return `${Math.floor(Date.now() / 1000)}.${String(this.seq++).padStart(6, '0')}`;
  }

  /**
   * Host a file the bot may download (with its token). `html`: answer with the login page Slack shows for a
   * bad token; `size`: the size the event claims; `base`: the URL's origin (another host).
   */
  addFile(name: string, data: Buffer, o: { html?: boolean; size?: number; base?: string } = {}): Record<string, unknown> {
    const id = `F${this.seq++}`;
    this.files.set(`${id}/${name}`, { data, html: o.html });
    const base = o.base ?? this.url;
    return {
      id,
      name,
      title: name,
      mimetype: 'text/csv',
      filetype: 'csv',
      size: o.size ?? data.length,
      url_private: `${base}/files-pri/${this.team}-${id}/${name}`,
      url_private_download: `${base}/files-pri/${this.team}-${id}/download/${name}`,
    };
  }

  private envelope(type: string, payload: unknown, retry = { attempt: 0, reason: '' }): string {
    const envelope_id = crypto.randomUUID();
    if (type === 'events_api') this.lastEvent = payload;
    const env = { envelope_id, payload, type, accepts_response_payload: type !== 'events_api', retry_attempt: retry.attempt, retry_reason: retry.reason };
    const s = [...this.sockets][0];
    if (!s) throw new Error('no socket mode connection');
    s.send(JSON.stringify(env));
    return envelope_id;
  }

  /**
   * Slack retries an event it saw no ack for in time: the same payload (same event_id) in a new envelope with
   * retry_attempt and retry_reason. Resends the last mention or DM; returns the new envelope id.
   */
  redeliver(attempt = 1, reason = 'timeout'): string {
    if (!this.lastEvent) throw new Error('no event to redeliver');
    return this.envelope('events_api', this.lastEvent, { attempt, reason });
  }

  /** A user mentions the bot in a channel (or a thread). Returns the message ts. */
  mention(o: MentionOptions): string {
    const payload = this.mentionPayload(o);
    this.envelope('events_api', payload);
    return payload.event.ts;
  }

  /** The Events API payload of a mention (what `mention` sends; HTTP-mode tests post it themselves). */
  mentionPayload(o: MentionOptions): { event_id: string; event: { ts: string } & Record<string, unknown> } & Record<string, unknown> {
    const ts = this.ts();
    const event: { ts: string } & Record<string, unknown> = {
      type: 'app_mention',
      user: o.user,
      text: `<@${this.botUser}> ${o.text}`,
      ts,
      channel: o.channel,
      event_ts: ts,
      team: o.team ?? this.team,
    };
    // Slack Connect: a user of another workspace in a channel shared with ours.
    if (o.userTeam) Object.assign(event, { user_team: o.userTeam, source_team: o.userTeam, user_profile: { team: o.userTeam, name: o.user } });
    if (o.thread_ts) event.thread_ts = o.thread_ts;
    if (o.files) event.files = o.files;
    return {
      token: 'verif',
      team_id: o.team ?? this.team,
      api_app_id: 'A0APP',
      event,
      type: 'event_callback',
      event_id: `Ev${this.seq++}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ team_id: o.team ?? this.team, user_id: this.botUser, is_bot: true }],
    };
  }

  /** A user writes to the bot in a DM. */
  dm(o: { channel: string; user: string; text: string; team?: string; userTeam?: string }): string {
    const ts = this.ts();
    const event = {
      type: 'message',
      channel_type: 'im',
      user: o.user,
      text: o.text,
      ts,
      channel: o.channel,
      event_ts: ts,
      team: o.userTeam ?? o.team ?? this.team,
      ...(o.userTeam ? { user_team: o.userTeam } : {}),
    };
    this.envelope('events_api', {
      token: 'verif',
      team_id: o.team ?? this.team,
      api_app_id: 'A0APP',
      event,
      type: 'event_callback',
      event_id: `Ev${this.seq++}`,
      event_time: Math.floor(Date.now() / 1000),
    });
    return ts;
  }

  /** `/sb <text>`. Returns the envelope id (acked by the bot). */
  slash(o: { channel: string; user: string; text: string; team?: string }): string {
    return this.envelope('slash_commands', this.slashPayload(o));
  }

  slashPayload(o: { channel: string; user: string; text: string; team?: string }): Record<string, string> {
    const n = String(this.seq++);
    this.responseUrls.set(n, { channel: o.channel, user: o.user });
    return {
      token: 'verif',
      team_id: o.team ?? this.team,
      team_domain: 'office',
      channel_id: o.channel,
      channel_name: 'support',
      user_id: o.user,
      user_name: 'ann',
      command: '/sb',
      text: o.text,
      api_app_id: 'A0APP',
      is_enterprise_install: 'false',
      response_url: `${this.url}/response/${n}`,
      trigger_id: `trig${this.seq++}`,
    };
  }

  /** The button elements of a posted message's actions blocks (what Slack draws as buttons). */
  buttonsOf(post: SlackPost): { action_id: string; value: string; text: string }[] {
    return (post.blocks ?? [])
      .filter((b) => b.type === 'actions')
      .flatMap((b) => (b.elements as { type: string; action_id: string; value: string; text: { text: string } }[]).filter((e) => e.type === 'button'))
      .map((e) => ({ action_id: e.action_id, value: e.value, text: e.text.text }));
  }

  /**
   * A user clicks button `index` of a posted message: the block_actions payload Slack sends, as a Socket Mode
   * `interactive` envelope. `value` replaces the button's value (a payload nobody could get from Slack, for
   * checking the bot trusts nothing in it). Returns the envelope id (acked by the bot).
   */
  press(o: { post: SlackPost; user: string; index?: number; value?: string; team?: string }): string {
    return this.envelope('interactive', this.pressPayload(o));
  }

  /** The block_actions payload of a button press (what `press` sends; HTTP-mode tests post it as `payload=`). */
  pressPayload(o: { post: SlackPost; user: string; index?: number; value?: string; team?: string }): Record<string, unknown> {
    const button = this.buttonsOf(o.post)[o.index ?? 0];
    if (!button) throw new Error(`message ${o.post.ts} has no button ${o.index ?? 0}`);
    const team = o.team ?? this.team;
    const message: Record<string, unknown> = { type: 'message', user: this.botUser, bot_id: 'B0BOT', ts: o.post.ts, text: o.post.text, blocks: o.post.blocks, team };
    if (o.post.thread_ts) message.thread_ts = o.post.thread_ts;
    return {
      type: 'block_actions',
      user: { id: o.user, username: 'ann', name: 'ann', team_id: team },
      api_app_id: 'A0APP',
      token: 'verif',
      container: { type: 'message', message_ts: o.post.ts, channel_id: o.post.channel, is_ephemeral: false },
      trigger_id: `trig${this.seq++}`,
      team: { id: team, domain: 'office' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: o.post.channel, name: o.post.channel.startsWith('D') ? 'directmessage' : 'provisioning' },
      message,
      state: { values: {} },
      response_url: `${this.url}/actions/${this.seq++}`,
      actions: [
        {
          action_id: button.action_id,
          block_id: 'sb-buttons',
          text: { type: 'plain_text', text: button.text, emoji: true },
          value: o.value ?? button.value,
          type: 'button',
          action_ts: `${Date.now() / 1000}`,
        },
      ],
    };
  }

  in(channel: string): SlackPost[] {
    return this.posts.filter((p) => p.channel === channel);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    const auth = String(req.headers.authorization ?? '');
    const file = /^\/files-pri\/[^/]+-(F\d+)\/(?:download\/)?(.+)$/.exec(url.pathname);
    if (file) {
      this.downloads.push({ path: url.pathname, auth });
      const f = this.files.get(`${file[1]}/${decodeURIComponent(file[2]!)}`);
      // Without the token Slack answers with an HTML login page, not the file.
      if (auth !== `Bearer ${this.botToken}` || f?.html) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end('<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to your workspace</body></html>');
      }
      if (!f) return json(res, 404, { ok: false });
      const data = f.data;
      res.writeHead(200, { 'content-type': 'text/csv', 'content-length': data.length });
      return void res.end(data);
    }
    const resp = /^\/response\/(\d+)$/.exec(url.pathname);
    if (resp) {
      const r = this.responseUrls.get(resp[1]!);
      if (!r) return json(res, 404, { ok: false, error: 'expired_url' });
      const { fields: p } = await parseBody(req, body);
      const text = String(p.text ?? '');
      if (p.replace_original && r.post) {
        r.post.text = text;
        r.post.edits.push(text);
        r.post.times.push(Date.now());
      } else {
        r.post = {
          method: 'response_url',
          channel: r.channel,
          ts: this.ts(),
          text,
          user: p.response_type === 'ephemeral' ? r.user : undefined,
          edits: [],
          times: [Date.now()],
          response_type: String(p.response_type ?? 'ephemeral'),
        };
        this.posts.push(r.post);
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('ok');
    }
    const up = /^\/upload\/(F\w+)$/.exec(url.pathname);
    if (up) {
      const u = this.uploads.find((x) => x.file_id === up[1]);
      if (!u) return json(res, 404, { ok: false });
      const parsed = await parseBody(req, body);
      u.data = Object.values(parsed.files)[0]?.data ?? body;
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(`OK - ${u.data.length}`);
    }
    const m = /^\/api\/([\w.]+)$/.exec(url.pathname);
    if (!m) return json(res, 404, { ok: false, error: 'unknown_method' });
    const method = m[1]!;
    const { fields: p } = await parseBody(req, body);
    this.calls.push({ method, params: p });
    const delay = this.delays.get(method);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const token = auth.replace(/^Bearer /, '') || String(p.token ?? '');
    const wanted = method === 'apps.connections.open' ? this.appToken : this.botToken;
    if (token !== wanted) return json(res, 200, { ok: false, error: 'invalid_auth' });
    const fail = this.failures.get(method)?.shift();
    if (fail) return json(res, fail.status, fail.body, fail.headers);
    if (this.refusing && method === 'apps.connections.open') return json(res, 200, { ok: false, error: 'internal_error' });
    if (this.privateChannels.has(String(p.channel ?? p.channel_id ?? '')) && /^(chat\.|files\.completeUploadExternal)/.test(method)) return json(res, 200, { ok: false, error: 'not_in_channel' });
    const ok = (o: Record<string, unknown>) => json(res, 200, { ok: true, ...o });
    switch (method) {
      case 'auth.test':
        return ok({ url: 'https://office.slack.com/', team: 'Office', user: 'switchboard', team_id: this.team, user_id: this.botUser, bot_id: 'B0BOT', is_enterprise_install: false });
      case 'apps.connections.open':
        return ok({ url: `${this.url.replace(/^http/, 'ws')}/link?ticket=${this.seq++}` });
      case 'chat.postMessage':
      case 'chat.postEphemeral': {
        const post: SlackPost = {
          method,
          channel: String(p.channel),
          ts: this.ts(),
          text: String(p.text ?? ''),
          blocks: p.blocks ? (typeof p.blocks === 'string' ? JSON.parse(p.blocks) : p.blocks) : undefined,
          thread_ts: p.thread_ts ? String(p.thread_ts) : undefined,
          user: p.user ? String(p.user) : undefined,
          edits: [],
          times: [Date.now()],
        };
        this.posts.push(post);
        return method === 'chat.postMessage' ? ok({ channel: post.channel, ts: post.ts, message: { text: post.text, ts: post.ts } }) : ok({ message_ts: post.ts });
      }
      case 'chat.update': {
        const post = this.posts.find((x) => x.channel === String(p.channel) && x.ts === String(p.ts));
        if (!post) return json(res, 200, { ok: false, error: 'message_not_found' });
        post.text = String(p.text ?? '');
        post.edits.push(post.text);
        post.times.push(Date.now());
        return ok({ channel: post.channel, ts: post.ts, text: post.text });
      }
      case 'files.delete':
        if (!p.file) return json(res, 200, { ok: false, error: 'file_not_found' });
        this.deleted.push(String(p.file));
        return ok({});
      case 'conversations.open':
        return ok({ channel: { id: `D${String(p.users)}` } });
      case 'files.getUploadURLExternal': {
        const file_id = `F${this.seq++}`;
        this.uploads.push({ file_id, filename: String(p.filename) });
        return ok({ upload_url: `${this.url}/upload/${file_id}`, file_id });
      }
      case 'files.completeUploadExternal': {
        const files = (typeof p.files === 'string' ? JSON.parse(p.files) : p.files) as { id: string; title?: string }[];
        for (const f of files) {
          const u = this.uploads.find((x) => x.file_id === f.id);
          if (!u?.data) return json(res, 200, { ok: false, error: 'file_not_found' });
          u.channel = p.channel_id ? String(p.channel_id) : undefined;
          u.thread_ts = p.thread_ts ? String(p.thread_ts) : undefined;
        }
        return ok({ files: files.map((f) => ({ id: f.id, title: f.title })) });
      }
      default:
        return json(res, 200, { ok: false, error: 'unknown_method' });
    }
  }
}
