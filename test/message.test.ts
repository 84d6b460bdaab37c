// Structured replies: the plain-text form every platform can show, the Slack Block Kit form, escaping of data in
// every form, and the secret scrubber over parts.
import { describe, expect, it } from 'vitest';
import { partsToText, structured, tableAsText, tablePart, guessAlign } from '../src/core/message.js';
import { toDiscordMarkdown, toTelegramHtml } from '../src/chat/markup.js';
import { toSlackBlocks } from '../src/chat/slack-blocks.js';
import { Notifier } from '../src/core/notifier.js';
import { createLogger } from '../src/log.js';
import { forgetSecret, registerSecret } from '../src/secrets.js';
import { RecordingAdapter } from './helpers/app.js';

describe('structured messages', () => {
  it('a table part reads as a padded monospace table in the text form; numbers are right-aligned', () => {
    const m = structured([
      '2 hosts:',
      tablePart(
        ['host', 'ip', 'phones'],
        [
          ['pc-1', '10.0.0.1', '7'],
          ['reception-pc', '10.0.0.12', '1234'],
        ],
      ),
    ]);
    expect(m.text).toBe(
      ['2 hosts:', '```', 'host          ip         phones', '------------  ---------  ------', 'pc-1          10.0.0.1        7', 'reception-pc  10.0.0.12    1234', '```'].join('\n'),
    );
    expect(m.parts![1]).toMatchObject({ kind: 'table', align: ['left', 'left', 'right'] });
    expect(
      guessAlign(
        ['a', 'b', 'c', 'd'],
        [
          ['12%', 'R101', '', '10.0.0.1'],
          ['1,234', '4', '', '10.0.0.2'],
        ],
      ),
    ).toEqual(['right', 'left', 'left', 'left']);
  });

  it('cells are one line and cannot close a fence; images and files are named only when not attached', () => {
    const t = tablePart(['note'], [['line one\nline two ``` end']]);
    expect(tableAsText(t as never)).toContain("line one line two ''' end");
    expect(partsToText([{ kind: 'image', file: 'c.png', alt: 'a chart' }])).toBe('[image c.png: a chart]');
    expect(partsToText([{ kind: 'image', file: 'c.png', alt: 'a chart' }], [{ name: 'c.png', data: Buffer.from('x') }])).toBe('');
  });

  it('markup in data never runs: Telegram gets escaped <pre>, Discord a code block, Slack raw_text cells and escaped mrkdwn', () => {
    const evil = '<script>alert(1)</script> <!channel> *bold*';
    const m = structured([`owner ${evil}`, tablePart(['owner', 'n'], [[evil, '1']])]);
    const tg = toTelegramHtml(m.text);
    expect(tg).not.toMatch(/<script>|<!channel>/);
    expect(tg).toContain('<pre>owner');
    expect(tg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(toDiscordMarkdown(m.text)).toMatch(/```\nowner[\s\S]*<script>alert\(1\)<\/script>[\s\S]*\n```/);
    const blocks = toSlackBlocks(m.parts!)!;
    expect(blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: 'owner &lt;script&gt;alert(1)&lt;/script&gt; &lt;!channel&gt; *bold*' } });
    expect(blocks[1]).toEqual({
      type: 'table',
      column_settings: [{ align: 'left' }, { align: 'right' }],
      rows: [
        [
          { type: 'raw_text', text: 'owner' },
          { type: 'raw_text', text: 'n' },
        ],
        [
          { type: 'raw_text', text: evil },
          { type: 'raw_text', text: '1' },
        ],
      ],
    });
  });

  it('Slack: one native table per message (at most 99 data rows); more tables or rows go as code blocks', () => {
    const big = tablePart(
      ['n'],
      Array.from({ length: 120 }, (_, i) => [String(i)]),
    );
    const small = tablePart(['a'], [['x']]);
    const b = toSlackBlocks([small, small, big])!;
    expect(b.map((x) => x.type)).toEqual(['table', 'section', 'section']);
    expect((b[2] as { text: { text: string } }).text.text).toMatch(/^```\s*n\n---\n\s*0\n/);
  });

  it('the secret scrubber covers every part of a channel message', async () => {
    const secret = 'Sup3r-Secret-Token-42';
    registerSecret(secret);
    try {
      const chat = new RecordingAdapter('test');
      const n = new Notifier(createLogger({ level: 'silent', pretty: false }), { defaultTargets: [], fallback: { platform: 'test', channel: 'x' } });
      n.register(chat);
      await n.send({ platform: 'test', channel: 'c' }, structured([`token ${secret}`, tablePart(['k', 'v'], [['token', secret]]), { kind: 'code', text: secret }]));
      const sent = chat.last()!;
      expect(JSON.stringify(sent.parts) + sent.text).not.toContain(secret);
      expect(JSON.stringify(sent.parts)).toContain('[REDACTED]');
    } finally {
      forgetSecret(secret);
    }
  });
});
