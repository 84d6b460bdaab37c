// The web console's HTTP side: login, a chat page, commands with attachments, live updates over SSE.
// Cookies are HttpOnly + SameSite=Strict; every state-changing request also carries the session's CSRF
// token in a header (and login accepts only JSON, which a cross-site form cannot send).
import { errorReply } from '../util/errors.js';
import { redactLine } from '../core/audit.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app-types.js';
import type { ConsoleAuth } from './auth.js';
import type { ConsoleAdapter } from './adapter.js';
import { dmRoom, type ConsoleHub, type ConsoleMessage } from './hub.js';
import type { IncomingFile } from '../core/types.js';
import { byteSize } from '../core/attachment.js';
import { consolePage } from './page.js';

export const COOKIE = 'sb_session';
const ROOM_RE = /^(@[a-zA-Z0-9._-]{1,64}|[a-z0-9][a-z0-9_-]{0,63})$/;

declare module 'fastify' {
  interface FastifyRequest {
    consoleUser?: { username: string; csrf: string };
  }
}

export function registerConsoleRoutes(app: App, http: FastifyInstance, auth: ConsoleAuth, adapter: ConsoleAdapter, hub: ConsoleHub): void {
  const cfg = app.config.console;
  const rooms = () => [...new Set([cfg.defaultRoom, ...cfg.rooms])];

  const requireUser = async (req: FastifyRequest, reply: FastifyReply, csrf: boolean) => {
    const u = await auth.session(req.cookies[COOKIE]);
    if (!u) {
      await errorReply(reply, 'SB_CONSOLE_NOT_LOGGED_IN', 'not logged in');
      return undefined;
    }
    if (csrf && req.headers['x-csrf-token'] !== u.csrf) {
      await errorReply(reply, 'SB_CONSOLE_CSRF', 'missing or wrong CSRF token');
      return undefined;
    }
    return u;
  };
  const canSee = (username: string, room: string) => (room.startsWith('@') ? room === dmRoom(username) : rooms().includes(room));

  http.get('/console', async (_req, reply) => {
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:")
      .send(consolePage());
  });

  http.post('/console/api/login', async (req, reply) => {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return errorReply(reply, 'SB_HTTP_UNSUPPORTED_MEDIA_TYPE', 'send JSON');
    const body = (req.body ?? {}) as { username?: unknown; password?: unknown };
    if (typeof body.username !== 'string' || typeof body.password !== 'string' || !body.username) return errorReply(reply, 'SB_HTTP_BAD_REQUEST', 'username and password are required');
    const r = await auth.login(body.username, body.password, req.ip);
    if (!r.ok) {
      // `as`: the user's name, or the keyed hash of a name that is no user's (it may be a mistyped password).
      app.log.warn({ username: r.as, source: req.ip, locked: r.locked }, 'console login failed');
      if (r.locked) return errorReply(reply, 'SB_CONSOLE_LOCKED_OUT', `too many failed logins for this user from your address; try again in ${cfg.lockoutMinutes} minutes`);
      return errorReply(reply, 'SB_CONSOLE_LOGIN_FAILED', 'wrong username or password');
    }
    app.log.info({ username: body.username, source: req.ip }, 'console login');
    reply.setCookie(COOKIE, r.session, { httpOnly: true, sameSite: 'strict', path: '/console', secure: req.protocol === 'https', maxAge: cfg.sessionHours * 3600 });
    return { ok: true, csrf: r.csrf, username: body.username };
  });

  http.post('/console/api/logout', async (req, reply) => {
    const u = await requireUser(req, reply, true);
    if (!u) return;
    await auth.logout(req.cookies[COOKIE]!);
    reply.clearCookie(COOKIE, { path: '/console' });
    return { ok: true };
  });

  http.get('/console/api/me', async (req, reply) => {
    const u = await requireUser(req, reply, false);
    if (!u) return;
    return {
      username: u.username,
      csrf: u.csrf,
      rooms: rooms(),
      defaultRoom: cfg.defaultRoom,
      dmRoom: dmRoom(u.username),
      uploadLimit: { bytes: app.config.uploads.maxBytes, text: byteSize(app.config.uploads.maxBytes) },
      now: Date.now(),
    };
  });

  http.get('/console/api/messages', async (req, reply) => {
    const u = await requireUser(req, reply, false);
    if (!u) return;
    const room = String((req.query as { room?: string }).room ?? cfg.defaultRoom);
    if (!ROOM_RE.test(room) || !canSee(u.username, room)) return errorReply(reply, 'SB_CONSOLE_NO_SUCH_ROOM', 'no such room');
    return { room, messages: await hub.history(room, 200) };
  });

  http.get('/console/api/files/:id', async (req, reply) => {
    const u = await requireUser(req, reply, false);
    if (!u) return;
    const f = await hub.file(Number((req.params as { id: string }).id));
    if (!f) return errorReply(reply, 'SB_CONSOLE_NO_SUCH_FILE', 'no such file');
    return reply
      .header('content-type', f.mime)
      .header('content-disposition', `attachment; filename="${f.name.replace(/[^\w.-]/g, '_')}"`)
      .header('x-content-type-options', 'nosniff')
      .send(f.data);
  });

  http.get('/console/api/events', async (req, reply) => {
    const u = await requireUser(req, reply, false);
    if (!u) return;
    const room = String((req.query as { room?: string }).room ?? cfg.defaultRoom);
    if (!ROOM_RE.test(room) || !canSee(u.username, room)) return errorReply(reply, 'SB_CONSOLE_NO_SUCH_ROOM', 'no such room');
    const mine = new Set([room, dmRoom(u.username)]);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    const onMsg = (m: ConsoleMessage, kind: string) => {
      if (mine.has(m.room)) res.write(`event: ${kind}\ndata: ${JSON.stringify(m)}\n\n`);
    };
    hub.on('message', onMsg);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(ping);
      hub.off('message', onMsg);
    });
  });

  http.post('/console/api/command', async (req, reply) => {
    const u = await requireUser(req, reply, true);
    if (!u) return;
    let text = '';
    let button: string | undefined;
    let room = cfg.defaultRoom;
    const files: IncomingFile[] = [];
    const tooBig: string[] = [];
    const limit = app.config.uploads.maxBytes;
    if (req.isMultipart()) {
      // Over-limit files are read to their end (busboy drops the bytes past the limit) so the whole request is
      // consumed and the browser gets the answer; a 0-byte file goes on to the command, which names it as empty.
      for await (const part of req.parts({ limits: { fileSize: limit, files: 5 }, throwFileSizeLimit: false } as Parameters<typeof req.parts>[0])) {
        if (part.type === 'file') {
          const data = await part.toBuffer();
          if (part.file.truncated) tooBig.push(part.filename);
          else if (data.length || part.filename) files.push({ name: part.filename, size: data.length, mime: part.mimetype, fetch: async () => data });
        } else if (part.fieldname === 'text') text = String(part.value);
        else if (part.fieldname === 'button') button = String(part.value);
        else if (part.fieldname === 'room') room = String(part.value);
      }
    } else {
      const b = (req.body ?? {}) as { text?: unknown; room?: unknown; button?: unknown };
      text = typeof b.text === 'string' ? b.text : '';
      if (typeof b.room === 'string') room = b.room;
      if (b.button !== undefined) {
        if (typeof b.button !== 'string') return errorReply(reply, 'SB_CONSOLE_BAD_COMMAND', 'button must be the id of a button (a string)');
        button = b.button;
      }
    }
    if (!ROOM_RE.test(room) || !canSee(u.username, room)) return errorReply(reply, 'SB_CONSOLE_NO_SUCH_ROOM', 'no such room');
    if (button !== undefined) {
      // A click on a command button: the dispatcher runs what the store holds for this id in this room, as this
      // user (or answers that the button is unknown or expired). The room shows what was clicked, as for a typed line.
      if (!button || button.length > 64) return errorReply(reply, 'SB_CONSOLE_BAD_COMMAND', 'button must be the id of a button (1 to 64 characters)');
      if (files.length || tooBig.length) return errorReply(reply, 'SB_CONSOLE_BAD_COMMAND', 'a button click carries no files');
      const found = await app.buttons.open(button, 'console', room).catch(() => undefined);
      await hub.post(room, u.username, found?.ok ? `🔘 ${found.label}: ${redactLine(found.command)}` : '🔘 (a button)');
      const pressed = { platform: 'console', channel: room, user: { id: u.username, name: u.username }, text: '', files: [], direct: room.startsWith('@'), button };
      void (adapter.sink ? adapter.sink(pressed) : app.dispatcher.handle(pressed)).catch((err) => app.log.error({ err }, 'console button failed'));
      return reply.code(202).send({ ok: true });
    }
    text = text.trim();
    if (!text) return errorReply(reply, 'SB_CONSOLE_BAD_COMMAND', 'empty command');
    if (text.length > 10_000) return errorReply(reply, 'SB_HTTP_PAYLOAD_TOO_LARGE', 'command too long');
    const attached = [...files.map((f) => f.name), ...tooBig];
    await hub.post(room, u.username, redactLine(text) + (attached.length ? `\n📎 ${attached.join(', ')}` : ''));
    if (tooBig.length) {
      // Refused in the room, where the person is looking, as well as in the answer; the command does not run.
      const error = `${tooBig.join(', ')} ${tooBig.length > 1 ? 'are' : 'is'} larger than the upload limit of ${byteSize(limit)} (uploads.maxBytes), so the command was not run. Attach a smaller file or split it.`;
      await hub.post(room, 'bot', `❌ ${error} (SB_ATTACHMENT_TOO_LARGE)`);
      return errorReply(reply, 'SB_ATTACHMENT_TOO_LARGE', error, { details: { posted: true } });
    }
    const incoming = { platform: 'console', channel: room, user: { id: u.username, name: u.username }, text, files, direct: room.startsWith('@') };
    // Run in the background: the reply and any job progress arrive over the event stream.
    void (adapter.sink ? adapter.sink(incoming) : app.dispatcher.handle(incoming)).catch((err) => app.log.error({ err }, 'console command failed'));
    return reply.code(202).send({ ok: true });
  });
}
