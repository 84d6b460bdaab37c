// Markup translation, splitting and edit coalescing shared by the chat adapters.
import { describe, expect, it } from 'vitest';
import http from 'node:http';
import { listen, waitFor } from './fakes/common.js';
import { backoff, Reconnector } from '../src/chat/reconnector.js';
import { downloadCapped, FileTooLarge } from '../src/chat/inbound-files.js';
import { EditCoalescer } from '../src/chat/edit-coalescer.js';
import { splitText } from '../src/chat/text-split.js';
import { toDiscordMarkdown, toSlackMrkdwn, toTelegramHtml } from '../src/chat/markup.js';
import { requestTeams } from '../src/chat/slack-inbound.js';
import { createLogger } from '../src/log.js';
import { telegramChunks } from '../src/chat/adapters/telegram.js';

describe('chat helpers', () => {
  it('translates fenced blocks and escapes per platform', () => {
    const text = 'a < b & c\n```\nx > 1 && y\n```\nuse `help`';
    expect(toTelegramHtml(text)).toBe('a &lt; b &amp; c\n<pre>x &gt; 1 &amp;&amp; y</pre>\nuse <code>help</code>');
    expect(toSlackMrkdwn(text)).toBe('a &lt; b &amp; c\n```x &gt; 1 &amp;&amp; y```\nuse `help`');
    expect(toDiscordMarkdown(text)).toBe('a < b & c\n```\nx > 1 && y\n```\nuse `help`');
  });

  it('splits long text at line breaks and keeps fences balanced', () => {
    const text = '```\n' + Array.from({ length: 500 }, (_, i) => `row ${i}`).join('\n') + '\n```';
    const parts = splitText(text, 1000);
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(1000 + 8);
      expect((p.match(/```/g) ?? []).length % 2).toBe(0);
    }
    expect(parts.join('\n').replace(/```\n?/g, '')).toContain('row 499');
  });

  it('Telegram chunks fit 4096 characters after HTML escaping', () => {
    const text = '<&>'.repeat(5000);
    const chunks = telegramChunks(text);
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(4096);
    expect(chunks.join('')).toBe('&lt;&amp;&gt;'.repeat(5000));
  });

  it('coalesces a burst of edits into the latest text, in order', async () => {
    const applied: string[] = [];
    const c = new EditCoalescer<string>(async (_k, v) => {
      applied.push(v);
      await new Promise((r) => setTimeout(r, 30));
    });
    const ps = Array.from({ length: 10 }, (_, i) => c.edit('m1', `v${i}`));
    await Promise.all(ps);
    expect(applied[0]).toBe('v0');
    expect(applied.at(-1)).toBe('v9');
    expect(applied.length).toBeLessThanOrEqual(3);
  });

  it('paces edits of one message, also across bursts, and the newest text goes out last', async () => {
    const applied: { v: string; at: number }[] = [];
    const c = new EditCoalescer<string>(async (_k, v) => {
      applied.push({ v, at: Date.now() });
    }, 1000);
    await c.edit('m1', 'a');
    await new Promise((r) => setTimeout(r, 20));
    const burst = Array.from({ length: 5 }, (_, i) => c.edit('m1', `b${i}`));
    const other = c.edit('m2', 'x'); // another message is not held up by m1's 1 s pacing
    await other;
    expect(applied.find((a) => a.v === 'x')!.at - applied[0]!.at).toBeLessThan(600);
    await Promise.all(burst);
    const m1 = applied.filter((a) => a.v !== 'x');
    expect(m1.map((a) => a.v)).toEqual(['a', 'b4']);
    expect(m1[1]!.at - m1[0]!.at).toBeGreaterThanOrEqual(995);
  });

  it('Slack requests are checked against the user team, not the receiving workspace', () => {
    expect(requestTeams({ team_id: 'T0HOST', event: { type: 'app_mention', team: 'T0HOST', user_team: 'T0GUEST' } })).toEqual(['T0GUEST', 'T0HOST']);
    expect(requestTeams({ team_id: 'T0HOST', event: { type: 'message', user_profile: { team: 'T0GUEST' } } })).toEqual(['T0GUEST']);
    expect(requestTeams({ team_id: 'T0HOST', event: { type: 'message' } })).toEqual(['T0HOST']);
    expect(requestTeams({ team_id: 'T0HOST', command: '/sb', user_team: 'T0GUEST' })).toEqual(['T0GUEST', 'T0HOST']);
    expect(requestTeams({ type: 'block_actions', user: { team_id: 'T0GUEST' }, team: { id: 'T0HOST' } })).toEqual(['T0GUEST', 'T0HOST']);
    expect(requestTeams({})).toEqual([]);
  });

  it('the reconnect back-off only starts over once the connection proved healthy', async () => {
    let connects = 0;
    const delays: number[] = [];
    const log = createLogger({ level: 'silent' });
    let r!: Reconnector;
    r = new Reconnector(
      'x',
      async () => {
        connects++;
        if (connects < 5) setTimeout(() => r.lost(new Error('dropped right after connecting')), 5);
      },
      log,
      40,
      10_000,
      60_000,
      (n, base, max) => {
        const d = backoff(n, base, max);
        delays.push(d);
        return d;
      },
    );
    await r.start();
    await waitFor(() => connects === 5, 10_000, 'five connects');
    await new Promise((res) => setTimeout(res, 100));
    r.stop();
    expect(connects).toBe(5);
    // The scheduled delays (not wall time): base 40 ms doubling, each within its ±20 % band, so strictly growing.
    expect(delays).toHaveLength(4);
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(Math.floor(40 * 2 ** i * 0.8));
      expect(d).toBeLessThanOrEqual(Math.ceil(40 * 2 ** i * 1.2));
    });
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
    expect(r.failures).toBe(4);
    r.healthy();
    expect(r.failures).toBe(0);
  });

  it('a connect that completes after stop() schedules nothing more, and idle() waits for it', async () => {
    const log = createLogger({ level: 'silent' });
    let connects = 0;
    let finished = false;
    const r = new Reconnector(
      'x',
      async () => {
        connects++;
        await new Promise((res) => setTimeout(res, 300));
        finished = true;
        throw new Error('failed after stop');
      },
      log,
      10,
      100,
    );
    const started = r.start();
    r.stop();
    await r.idle();
    expect(finished).toBe(true);
    await started;
    await new Promise((res) => setTimeout(res, 300));
    expect(connects).toBe(1);
  });

  it('downloads drop credentials on a redirect to another host and refuse HTML when a file is expected', async () => {
    const seen: (string | undefined)[] = [];
    const other = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end('data');
    });
    const otherUrl = await listen(other);
    const server = http.createServer((req, res) => {
      if (req.url === '/redirect') res.writeHead(302, { location: `${otherUrl}/file` }).end();
      else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html>login</html>');
    });
    const url = await listen(server);
    try {
      const host = new URL(url).host;
      expect((await downloadCapped(`${url}/redirect`, 1024, { authorization: 'Bearer t' }, { trustedHosts: [host] })).toString()).toBe('data');
      expect(seen).toEqual([undefined]);
      await expect(downloadCapped(`${url}/page`, 1024, {}, { htmlMessage: 'got a login page' })).rejects.toThrow('got a login page');
    } finally {
      for (const s of [server, other]) {
        s.closeAllConnections();
        s.close();
      }
    }
  });

  it('back-off grows and is capped', () => {
    expect(backoff(0, 1000, 60000)).toBeLessThanOrEqual(1200);
    expect(backoff(3, 1000, 60000)).toBeGreaterThanOrEqual(6400);
    expect(backoff(30, 1000, 60000)).toBeLessThanOrEqual(72000);
  });

  it('downloads are capped by size, with or without Content-Length', async () => {
    const big = Buffer.alloc(5000, 65);
    const server = http.createServer((req, res) => {
      if (req.url === '/len') res.writeHead(200, { 'content-length': big.length });
      else res.writeHead(200); // chunked, no length
      res.end(req.headers.authorization === 'Bearer t' ? big : Buffer.from('no'));
    });
    const url = await listen(server);
    try {
      await expect(downloadCapped(`${url}/len`, 1024, { authorization: 'Bearer t' })).rejects.toBeInstanceOf(FileTooLarge);
      await expect(downloadCapped(`${url}/chunked`, 1024, { authorization: 'Bearer t' })).rejects.toBeInstanceOf(FileTooLarge);
      expect((await downloadCapped(`${url}/len`, 10_000, { authorization: 'Bearer t' })).length).toBe(5000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
