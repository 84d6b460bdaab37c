// A local Discord: REST under /api/v10 (JSON and multipart payload_json + files[n], bot auth, 429 with
// retry_after and rate-limit headers), the gateway WebSocket (HELLO, IDENTIFY -> READY + GUILD_CREATE,
// HEARTBEAT/ACK, RESUME -> RESUMED, dispatches with sequence numbers), interaction callbacks and webhooks,
// and a CDN for attachments. Records what the bot did; injects slash commands, messages, 429s, drops and
// outages (every IDENTIFY/RESUME closed with 4004, after which discord.js does not reconnect by itself).
// As real Discord does for several sessions of one bot, every dispatch goes to every identified session, and
// an interaction can be acknowledged once (a second callback gets 40060). Messages keep their components (action
// rows of buttons); a press is an INTERACTION_CREATE of type 3 (message component) carrying the message and the
// button's custom_id, acknowledged through the same callback route.
import http from 'node:http';
import crypto from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { json, listen, parseBody, readBody, type Failure } from './common.js';

export interface DcMessage {
  id: string;
  channel_id: string;
  content: string;
  via: 'channel' | 'original' | 'followup';
  interaction?: string;
  flags?: number;
  reply_to?: string;
  files: { name: string; data: Buffer }[];
  edits: string[];
  /** When the message and each edit arrived (ms). */
  times: number[];
  /** allowed_mentions of the post and of the last edit. */
  allowed_mentions?: unknown;
  /** Action rows of components (buttons) under the message. */
  components?: { type: number; components: { type: number; style: number; label: string; custom_id: string }[] }[];
}

const EPOCH = 1420070400000n;
const MESSAGE_CONTENT = 1 << 15;

export class DiscordFake {
  url = '';
  readonly token = 'MTIz.fake.discord-bot-token';
  readonly appId = '1100000000000000001';
  readonly botId = '1100000000000000002';
  readonly guilds: { id: string; channels: string[] }[];
  readonly messages: DcMessage[] = [];
  readonly callbacks: { id: string; token: string; type: number; at: number }[] = [];
  /** Every interaction callback, including the ones refused as already acknowledged. */
  readonly callbackAttempts: { id: string; status: number }[] = [];
  readonly commands = new Map<string, unknown[]>();
  readonly requests: { method: string; path: string; at: number; status: number }[] = [];
  identifies: { intents: number }[] = [];
  /** Messages removed with DELETE /channels/:id/messages/:id. */
  readonly deleted: string[] = [];
  /** While true, sessions are refused with close code 4004 (an outage that discord.js does not ride out). */
  refusing = false;
  resumes = 0;
  connections = 0;
  private server: http.Server;
  private wss: WebSocketServer;
  private sockets = new Map<WebSocket, { seq: number; identified: boolean; intents: number }>();
  private failures = new Map<string, Failure[]>();
  private cdn = new Map<string, Buffer>();
  private seq = 1n;
  private tokens = new Map<string, string>(); // interaction token -> interaction id
  private sessionSeq = 0;
  private sessionIntents = new Map<string, number>();

  constructor(guilds: { id: string; channels: string[] }[]) {
    this.guilds = guilds;
    this.server = http.createServer((req, res) => void this.handle(req, res).catch((e) => json(res, 500, { message: String(e), code: 0 })));
    this.wss = new WebSocketServer({ server: this.server, path: '/gw' });
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req));
  }

  async start(): Promise<this> {
    this.url = await listen(this.server);
    return this;
  }

  get apiUrl(): string {
    return `${this.url}/api`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets.keys()) s.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  snowflake(): string {
    return String(((BigInt(Date.now()) - EPOCH) << 22n) + this.seq++);
  }

  failNext(key: string, f: Failure, times = 1): void {
    const l = this.failures.get(key) ?? [];
    for (let i = 0; i < times; i++) l.push(f);
    this.failures.set(key, l);
  }

  drop(): void {
    for (const s of this.sockets.keys()) s.terminate();
  }

  refuse(on: boolean): void {
    this.refusing = on;
    if (on) this.drop();
  }

  get connected(): number {
    return [...this.sockets.values()].filter((s) => s.identified).length;
  }

  in(channel: string): DcMessage[] {
    return this.messages.filter((m) => m.channel_id === channel);
  }

  private onConnection(ws: WebSocket, req: http.IncomingMessage): void {
    const q = new URL(req.url ?? '/', this.url).searchParams;
    if (q.get('encoding') && q.get('encoding') !== 'json') return ws.close(4002, 'Decode error');
    this.connections++;
    const state = { seq: 0, identified: false, intents: 0 };
    this.sockets.set(ws, state);
    ws.on('close', () => this.sockets.delete(ws));
    const send = (p: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(p));
    const dispatch = (t: string, d: unknown) => send({ op: 0, t, s: ++state.seq, d });
    send({ op: 10, d: { heartbeat_interval: 10_000 }, s: null, t: null });
    ws.on('message', (raw) => {
      // biome-ignore lint/suspicious/noExplicitAny: the fake reads the gateway payload's fields as the client sent them
      const p = JSON.parse(raw.toString()) as { op: number; d: any };
      if (p.op === 1) return send({ op: 11, d: null, s: null, t: null });
      if ((p.op === 2 || p.op === 6) && this.refusing) return ws.close(4004, 'Authentication failed.');
      if (p.op === 2) {
        if (p.d.token !== this.token) return ws.close(4004, 'Authentication failed.');
        this.identifies.push({ intents: p.d.intents });
        state.identified = true;
        state.intents = Number(p.d.intents ?? 0);
        const session = `sess${++this.sessionSeq}`;
        this.sessionIntents.set(session, state.intents);
        dispatch('READY', {
          v: 10,
          user: { id: this.botId, username: 'switchboard', discriminator: '0', global_name: null, avatar: null, bot: true, flags: 0 },
          guilds: this.guilds.map((g) => ({ id: g.id, unavailable: true })),
          session_id: session,
          resume_gateway_url: `${this.url.replace(/^http/, 'ws')}/gw`,
          shard: [0, 1],
          application: { id: this.appId, flags: 0 },
        });
        for (const g of this.guilds) dispatch('GUILD_CREATE', this.guildPayload(g));
        return;
      }
      if (p.op === 6) {
        if (p.d.token !== this.token) return ws.close(4004, 'Authentication failed.');
        this.resumes++;
        state.identified = true;
        state.intents = this.sessionIntents.get(String(p.d.session_id)) ?? 0;
        state.seq = Number(p.d.seq ?? 0);
        return dispatch('RESUMED', {});
      }
    });
  }

  private guildPayload(g: { id: string; channels: string[] }): Record<string, unknown> {
    return {
      id: g.id,
      name: `guild ${g.id}`,
      icon: null,
      owner_id: '1',
      unavailable: false,
      large: false,
      member_count: 2,
      joined_at: new Date().toISOString(),
      features: [],
      roles: [{ id: g.id, name: '@everyone', permissions: '2147483647', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
      channels: g.channels.map((c, i) => ({ id: c, type: 0, name: `ch${i}`, guild_id: g.id, position: i, permission_overwrites: [], parent_id: null })),
      members: [],
      emojis: [],
      stickers: [],
      presences: [],
      voice_states: [],
      threads: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  /** Sends a dispatch to every identified session (`d` may depend on the session, e.g. on its intents). */
  private dispatchAll(t: string, d: unknown | ((session: { intents: number }) => unknown)): void {
    const sessions = [...this.sockets.entries()].filter(([, s]) => s.identified);
    if (!sessions.length) throw new Error('no gateway connection');
    for (const [ws, s] of sessions) {
      s.seq++;
      ws.send(JSON.stringify({ op: 0, t, s: s.seq, d: typeof d === 'function' ? (d as (x: { intents: number }) => unknown)(s) : d }));
    }
  }

  private user(id: string) {
    return { id, username: `user${id.slice(-4)}`, discriminator: '0', global_name: null, avatar: null, bot: false };
  }

  attachment(name: string, data: Buffer): Record<string, unknown> {
    const id = this.snowflake();
    this.cdn.set(`${id}/${name}`, data);
    const url = `${this.url}/attachments/${id}/${name}`;
    return { id, filename: name, size: data.length, url, proxy_url: url, content_type: 'text/csv' };
  }

  /**
   * An interaction of `type` from a guild member, as the gateway sends it: the envelope both kinds share (ids,
   * token, member, channel, locales, permissions) plus `extra`. Returns the interaction id.
   */
  private interaction(o: { type: 2 | 3; guild: string; channel: string; channelName: string; user: string }, extra: Record<string, unknown>): string {
    const id = this.snowflake();
    const token = crypto.randomBytes(16).toString('hex');
    this.tokens.set(token, id);
    this.noteChannel(id, o.channel);
    this.dispatchAll('INTERACTION_CREATE', {
      id,
      application_id: this.appId,
      type: o.type,
      token,
      version: 1,
      guild_id: o.guild,
      channel_id: o.channel,
      channel: { id: o.channel, type: 0, guild_id: o.guild, name: o.channelName, permissions: '2147483647' },
      member: { user: this.user(o.user), roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, pending: false, nick: null, avatar: null, permissions: '2147483647' },
      ...extra,
      app_permissions: '2147483647',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': o.guild },
      context: 0,
      attachment_size_limit: 26214400,
    });
    return id;
  }

  /** A member runs `/sb command:<line> [file]`. Returns the interaction id. */
  slash(o: { guild: string; channel: string; user: string; line: string; file?: Record<string, unknown> }): string {
    const options: Record<string, unknown>[] = [{ type: 3, name: 'command', value: o.line }];
    const data: Record<string, unknown> = { id: '1200000000000000001', name: 'sb', type: 1, guild_id: o.guild, options };
    if (o.file) {
      options.push({ type: 11, name: 'file', value: o.file.id });
      data.resolved = { attachments: { [String(o.file.id)]: o.file } };
    }
    return this.interaction({ type: 2, guild: o.guild, channel: o.channel, channelName: 'support', user: o.user }, { data });
  }

  /**
   * A member clicks button `index` of a message the bot posted (or sends any `custom_id`). Returns the
   * interaction id.
   */
  press(o: { guild: string; user: string; message: DcMessage; index?: number; custom_id?: string }): string {
    const button = o.message.components?.[0]?.components[o.index ?? 0];
    if (!button && o.custom_id === undefined) throw new Error(`message ${o.message.id} has no button ${o.index ?? 0}`);
    return this.interaction(
      { type: 3, guild: o.guild, channel: o.message.channel_id, channelName: 'provisioning', user: o.user },
      { message: this.msgJson(o.message), data: { custom_id: o.custom_id ?? button!.custom_id, component_type: 2 } },
    );
  }

  /** A user writes a message (guild channel or DM). Content arrives only with the message-content intent. */
  message(o: { guild?: string; channel: string; user: string; content: string; attachments?: Record<string, unknown>[] }): string {
    const id = this.snowflake();
    const mentioned = o.content.includes(`<@${this.botId}>`);
    // Content arrives only on sessions with the message-content intent (or in DMs and mentions).
    this.dispatchAll('MESSAGE_CREATE', (session: { intents: number }) => ({
      id,
      channel_id: o.channel,
      // A DM's MESSAGE_CREATE names its channel type (1), so the client can build the DM channel.
      ...(o.guild ? { guild_id: o.guild, member: { roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 } } : { channel_type: 1 }),
      author: this.user(o.user),
      content: session.intents & MESSAGE_CONTENT || !o.guild || mentioned ? o.content : '',
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: o.attachments ?? [],
      embeds: [],
      pinned: false,
      type: 0,
    }));
    return id;
  }

  private msgJson(m: DcMessage): Record<string, unknown> {
    return {
      id: m.id,
      channel_id: m.channel_id,
      content: m.content,
      author: { id: this.botId, username: 'switchboard', discriminator: '0', bot: true, avatar: null, global_name: null },
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: m.files.map((f, i) => ({ id: String(i), filename: f.name, size: f.data.length })),
      embeds: [],
      pinned: false,
      type: 0,
      flags: m.flags ?? 0,
      components: m.components ?? [],
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    const path = url.pathname;
    const cdn = /^\/attachments\/(\d+)\/(.+)$/.exec(path);
    if (cdn) {
      const data = this.cdn.get(`${cdn[1]}/${decodeURIComponent(cdn[2]!)}`);
      if (!data) return json(res, 404, { message: 'Not found' });
      res.writeHead(200, { 'content-type': 'text/csv', 'content-length': data.length });
      return void res.end(data);
    }
    const m = /^\/api\/v10(\/.*)$/.exec(path);
    if (!m) return json(res, 404, { message: '404: Not Found', code: 0 });
    const route = m[1]!;
    const method = req.method ?? 'GET';
    const status = (s: number) => this.requests.push({ method, path: route, at: Date.now(), status: s });
    const isWebhook = route.startsWith('/webhooks/') || route.startsWith('/interactions/');
    if (!isWebhook && req.headers.authorization !== `Bot ${this.token}`) {
      status(401);
      return json(res, 401, { message: '401: Unauthorized', code: 0 });
    }
    const { fields, files } = await parseBody(req, body);
    // biome-ignore lint/suspicious/noExplicitAny: the fake reads the REST body's fields as the client sent them
    const payload = (typeof fields.payload_json === 'string' ? JSON.parse(fields.payload_json) : fields) as Record<string, any>;
    const outFiles = Object.entries(files)
      .filter(([k]) => k.startsWith('files['))
      .map(([, f]) => ({ name: f.name, data: f.data }));
    const key = `${method} ${route
      .replace(/\/\d{5,}/g, '/:id')
      .replace(/\/webhooks\/:id\/[^/]+/, '/webhooks/:id/:token')
      .replace(/\/interactions\/:id\/[^/]+/, '/interactions/:id/:token')}`;
    const fail = this.failures.get(key)?.shift();
    if (fail) {
      status(fail.status);
      return json(res, fail.status, fail.body, fail.headers);
    }
    status(200);
    let r: RegExpExecArray | null;
    if (method === 'GET' && route === '/gateway/bot')
      return json(res, 200, { url: `${this.url.replace(/^http/, 'ws')}/gw`, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } });
    if (method === 'GET' && route === '/users/@me') return json(res, 200, { id: this.botId, username: 'switchboard', discriminator: '0', bot: true, avatar: null });
    if ((r = /^\/applications\/(\d+)\/guilds\/(\d+)\/commands$/.exec(route)) && method === 'PUT') {
      this.commands.set(r[2]!, payload as unknown as unknown[]);
      return json(
        res,
        200,
        (payload as unknown as Record<string, unknown>[]).map((c) => ({ ...c, id: this.snowflake(), application_id: r![1], guild_id: r![2], version: '1' })),
      );
    }
    if ((r = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(route)) && method === 'POST') {
      if (this.tokens.get(r[2]!) !== r[1]) return json(res, 404, { message: 'Unknown interaction', code: 10062 });
      if (this.callbacks.some((c) => c.id === r![1])) {
        this.callbackAttempts.push({ id: r[1]!, status: 400 });
        return json(res, 400, { message: 'Interaction has already been acknowledged.', code: 40060 });
      }
      this.callbackAttempts.push({ id: r[1]!, status: 204 });
      this.callbacks.push({ id: r[1]!, token: r[2]!, type: payload.type, at: Date.now() });
      if (payload.type === 5 || payload.type === 4) {
        const interaction = r[1]!;
        const chan = this.lastInteractionChannel.get(interaction) ?? '';
        this.messages.push({
          id: this.snowflake(),
          channel_id: chan,
          content: payload.data?.content ?? '',
          via: 'original',
          interaction,
          flags: payload.data?.flags,
          files: [],
          edits: [],
          times: [Date.now()],
        });
      }
      res.writeHead(204);
      return void res.end();
    }
    if ((r = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/([^/]+))?$/.exec(route))) {
      const interaction = this.tokens.get(r[2]!);
      if (!interaction || r[1] !== this.appId) return json(res, 404, { message: 'Unknown Webhook', code: 10015 });
      if (method === 'POST' && !r[3]) {
        const msg: DcMessage = {
          id: this.snowflake(),
          channel_id: this.lastInteractionChannel.get(interaction) ?? '',
          content: payload.content ?? '',
          via: 'followup',
          interaction,
          flags: payload.flags,
          files: outFiles,
          edits: [],
          times: [Date.now()],
          allowed_mentions: payload.allowed_mentions,
          ...(payload.components ? { components: payload.components } : {}),
        };
        if (!msg.content && !outFiles.length) return json(res, 400, { message: 'Cannot send an empty message', code: 50006 });
        this.messages.push(msg);
        return json(res, 200, this.msgJson(msg));
      }
      if (method === 'PATCH' && r[3]) {
        r[3] = decodeURIComponent(r[3]);
        const msg =
          r[3] === '@original' ? this.messages.find((x) => x.via === 'original' && x.interaction === interaction) : this.messages.find((x) => x.id === r![3] && x.interaction === interaction);
        if (!msg) return json(res, 404, { message: 'Unknown Message', code: 10008 });
        if (msg.content || msg.edits.length) msg.edits.push(payload.content);
        msg.content = payload.content ?? msg.content;
        msg.times.push(Date.now());
        msg.allowed_mentions = payload.allowed_mentions;
        if (outFiles.length) msg.files = outFiles;
        if (payload.components) msg.components = payload.components;
        return json(res, 200, this.msgJson(msg));
      }
    }
    // Discord checks components as it checks content: at most 5 rows of at most 5 buttons, labels of at most
    // 80 characters, custom_ids of at most 100.
    const rows = payload.components as DcMessage['components'];
    if (
      rows &&
      (rows.length > 5 ||
        rows.some((row) => row.type !== 1 || row.components.length > 5 || row.components.some((b) => b.type !== 2 || !b.label || b.label.length > 80 || !b.custom_id || b.custom_id.length > 100)))
    ) {
      return json(res, 400, { message: 'Invalid Form Body', code: 50035 });
    }
    if ((r = /^\/channels\/(\d+|D\d+)\/messages$/.exec(route)) && method === 'POST') {
      const msg: DcMessage = {
        id: this.snowflake(),
        channel_id: r[1]!,
        content: payload.content ?? '',
        via: 'channel',
        reply_to: payload.message_reference?.message_id,
        files: outFiles,
        edits: [],
        times: [Date.now()],
        allowed_mentions: payload.allowed_mentions,
        ...(payload.components ? { components: payload.components } : {}),
      };
      if (msg.content.length > 2000) return json(res, 400, { message: 'Invalid Form Body', code: 50035 });
      if (!msg.content && !outFiles.length) return json(res, 400, { message: 'Cannot send an empty message', code: 50006 });
      this.messages.push(msg);
      return json(res, 200, this.msgJson(msg));
    }
    if ((r = /^\/channels\/(\d+|D\d+)\/messages\/(\d+)$/.exec(route)) && method === 'PATCH') {
      const msg = this.messages.find((x) => x.channel_id === r![1] && x.id === r![2] && x.via === 'channel');
      if (!msg) return json(res, 404, { message: 'Unknown Message', code: 10008 });
      msg.content = payload.content ?? msg.content;
      msg.edits.push(msg.content);
      msg.times.push(Date.now());
      msg.allowed_mentions = payload.allowed_mentions;
      return json(res, 200, this.msgJson(msg));
    }
    if ((r = /^\/channels\/(\d+|D\d+)\/messages\/(\d+)$/.exec(route)) && method === 'DELETE') {
      this.deleted.push(`${r[1]}|${r[2]}`);
      res.writeHead(204);
      return void res.end();
    }
    if (route === '/users/@me/channels' && method === 'POST') {
      return json(res, 200, { id: `9${String(payload.recipient_id).slice(1)}`, type: 1, last_message_id: null, recipients: [this.user(String(payload.recipient_id))] });
    }
    return json(res, 404, { message: '404: Not Found', code: 0 });
  }

  private lastInteractionChannel = new Map<string, string>();
  /** Remember where an interaction happened (the callback route does not say). */
  noteChannel(interaction: string, channel: string): void {
    this.lastInteractionChannel.set(interaction, channel);
  }
}
