// A new chat platform is one file: a Mattermost-shaped toy platform (outgoing webhook in, REST posts out) is
// written into an empty folder and loaded by the same loader and feature code as the shipped platforms, with no
// edit anywhere else. Its config section, env names and secrets come from its descriptor; a post reaches the
// real dispatcher and the reply goes back out through the toy adapter to a fake Mattermost API.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { ROOT, tmpDir } from '../helpers/env.js';
import { listen, waitFor } from '../fakes/common.js';
import { loadConfig } from '../../src/config.js';
import { features } from '../../src/features.js';
import { chatFeatureFor, loadChatPlatforms, PLATFORMS_DIR } from '../../src/chat/feature.js';
import { MODULE_EXT } from '../../src/util/plugin-dir.js';

/** The whole platform: descriptor and adapter in one file, as a newcomer would write it. */
const TOY_PLATFORM = `
// Mattermost (toy): an outgoing webhook brings posts in, the REST API takes replies out.
import type { ChatPlatform } from '${ROOT}src/chat/platform.js';
import type { ChatAdapter, Incoming, MessageRef, OutMessage, Target } from '${ROOT}src/core/types.js';

interface MattermostConfig { enabled?: boolean; url?: string; botToken?: string; hookToken?: string; allowedTeams: string[] }

export const platform: ChatPlatform<MattermostConfig> = {
  config: {
    properties: {
      enabled: { type: 'boolean' },
      url: { type: 'string', pattern: '^https?://' },
      botToken: { type: 'string' },
      hookToken: { type: 'string' },
      hookPath: { type: 'string', default: '/mattermost/hook' },
      allowedTeams: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    },
    env: { MATTERMOST_URL: 'url', MATTERMOST_BOT_TOKEN: 'botToken', MATTERMOST_HOOK_TOKEN: 'hookToken', MATTERMOST_ALLOWED_TEAMS: 'allowedTeams' },
    secrets: ['botToken', 'hookToken'],
  },
  allowList: 'allowedTeams',
  async build({ app, name, config, allowList, claimInbound, setting }) {
    if (!config.url || !config.hookToken) throw new Error('chat.mattermost is enabled but ' + setting('url') + ' and ' + setting('hookToken') + ' must both be set');
    let sink: ((i: Incoming) => Promise<void>) | undefined;
    const api = async (method: string, p: string, body: unknown) => {
      const res = await fetch(config.url + '/api/v4' + p, { method, headers: { authorization: 'Bearer ' + config.botToken, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error('mattermost ' + p + ': HTTP ' + res.status);
      return (await res.json()) as { id: string };
    };
    const adapter: ChatAdapter = {
      platform: name,
      async start(s) { sink = s; },
      async stop() { sink = undefined; },
      async send(target: Target, msg: OutMessage): Promise<MessageRef> {
        const post = await api('POST', '/posts', { channel_id: target.channel, message: msg.text, root_id: target.thread ?? '' });
        return { platform: name, channel: target.channel, id: post.id };
      },
      async update(ref: MessageRef, msg: OutMessage) { await api('PUT', '/posts/' + ref.id + '/patch', { message: msg.text }); },
      async dm(userId: string, msg: OutMessage) { await api('POST', '/posts', { channel_id: 'dm:' + userId, message: msg.text }); },
    };
    app.http.post((config as unknown as { hookPath: string }).hookPath, async (req, reply) => {
      const b = req.body as { token: string; team_id: string; channel_id: string; user_id: string; user_name: string; post_id: string; text: string };
      if (b.token !== config.hookToken) return reply.code(401).send({ error: 'bad token' });
      if (!allowList.includes(b.team_id)) return reply.code(403).send({ error: 'team not allowed' });
      if (!(await claimInbound(b.post_id))) return reply.send({ dispatched: false });
      void sink?.({ platform: name, channel: b.channel_id, thread: b.post_id, user: { id: b.user_id, name: b.user_name }, text: b.text.replace(/^!sb\\s*/, ''), files: [] });
      return reply.send({ dispatched: true });
    });
    return adapter;
  },
};
`;

/** A fake Mattermost REST API: records posts and edits, checks the bot token. */
class MattermostFake {
  posts: { id: string; channel_id: string; message: string; root_id: string; edits: string[] }[] = [];
  auth: string[] = [];
  url = '';
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      this.auth.push(req.headers.authorization ?? '');
      const data = JSON.parse(body || '{}') as { channel_id: string; message: string; root_id: string };
      const edit = req.url?.match(/^\/api\/v4\/posts\/(\w+)\/patch$/);
      if (req.method === 'POST' && req.url === '/api/v4/posts') {
        const post = { id: `p${this.posts.length + 1}`, channel_id: data.channel_id, message: data.message, root_id: data.root_id ?? '', edits: [] };
        this.posts.push(post);
        res.setHeader('content-type', 'application/json').end(JSON.stringify(post));
      } else if (req.method === 'PUT' && edit) {
        const post = this.posts.find((p) => p.id === edit[1]);
        post?.edits.push(data.message);
        if (post) post.message = data.message;
        res.writeHead(post ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(post ?? {}));
      } else res.writeHead(404).end('{}');
    });
  });
  async start(): Promise<this> {
    this.url = await listen(this.server);
    return this;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('a chat platform as one file', () => {
  let dir: string;
  let mm: MattermostFake;
  let t: TestApp | undefined;
  beforeAll(async () => {
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, `mattermost${MODULE_EXT}`), TOY_PLATFORM);
    mm = await new MattermostFake().start();
  });
  afterAll(async () => {
    await t?.close();
    await mm?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is found by the loader next to nothing else, and its descriptor makes its config section', async () => {
    const found = await loadChatPlatforms(dir);
    expect(found.map((p) => p.name)).toEqual(['mattermost']);
    expect((await loadChatPlatforms(PLATFORMS_DIR)).map((p) => p.name)).toEqual(['discord', 'slack', 'telegram']);
    const section = chatFeatureFor(found).config!;
    const cfg = loadConfig({ sections: [section], env: { MATTERMOST_URL: mm.url, MATTERMOST_BOT_TOKEN: 'mm-bot', MATTERMOST_ALLOWED_TEAMS: 'team1,team2' } });
    expect((cfg.chat as unknown as Record<string, unknown>).mattermost).toEqual({ url: mm.url, botToken: 'mm-bot', hookPath: '/mattermost/hook', allowedTeams: ['team1', 'team2'] });
    expect(section.secrets).toEqual(['mattermost.botToken', 'mattermost.hookToken']);
    expect(() => loadConfig({ sections: [section], env: { MATTERMOST_URL: 'ftp://x' } })).toThrow(/chat\.mattermost\.url/);
  });

  it('carries a post to the dispatcher and the reply back through its adapter', async () => {
    const chat = chatFeatureFor(await loadChatPlatforms(dir));
    t = await makeTestApp({
      listen: true,
      features: features.map((f) => (f.name === 'chat' ? chat : f)),
      admins: ['mattermost:u1'],
      env: { MATTERMOST_URL: mm.url, MATTERMOST_BOT_TOKEN: 'mm-bot', MATTERMOST_HOOK_TOKEN: 'hook-secret', MATTERMOST_ALLOWED_TEAMS: 'team1' },
    });
    expect(t.app.notifier.platforms().sort()).toEqual(['console', 'mattermost', 'test']);
    expect(Object.keys(t.app.services.chat.platforms)).toEqual(['mattermost']);
    const post = { token: 'hook-secret', team_id: 'team1', channel_id: 'town-square', user_id: 'u1', user_name: 'alice', post_id: 'P1', text: '!sb whoami' };
    const hook = (body: Record<string, string>) => t!.app.http.inject({ method: 'POST', url: '/mattermost/hook', payload: { ...post, ...body } });

    expect((await hook({ token: 'wrong' })).statusCode).toBe(401);
    expect((await hook({ team_id: 'team9', post_id: 'P0' })).statusCode).toBe(403);
    expect((await hook({})).json()).toEqual({ dispatched: true });
    const reply = await waitFor(() => mm.posts.find((p) => p.channel_id === 'town-square'), 10_000, 'the reply on the fake Mattermost');
    expect(reply).toMatchObject({ root_id: 'P1', message: 'You are mattermost:u1 (alice), role admin.' });
    expect(mm.auth.every((a) => a === 'Bearer mm-bot')).toBe(true);

    // The same post delivered again (a retry) is claimed already: not dispatched twice.
    expect((await hook({})).json()).toEqual({ dispatched: false });
    // Notifications reach the platform by its targets, like any other.
    await t.app.notifier.notify(['mattermost:alerts'], { text: 'hello from the notifier' });
    await waitFor(() => mm.posts.find((p) => p.channel_id === 'alerts'), 10_000, 'the notification');
    expect(mm.posts.filter((p) => p.channel_id === 'town-square')).toHaveLength(1);
    expect(t.logs.join('')).not.toContain('mm-bot');
  });
});
