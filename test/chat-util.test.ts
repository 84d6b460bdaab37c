// Markup translation, splitting and edit coalescing shared by the chat adapters.
import { describe, expect, it } from 'vitest';
import http from 'node:http';
import { listen } from './fakes/common.js';
import { backoff, downloadCapped, EditCoalescer, FileTooLarge, splitText, toDiscordMarkdown, toSlackMrkdwn, toTelegramHtml } from '../src/chat/util.js';
import { telegramChunks } from '../src/chat/telegram.js';

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
