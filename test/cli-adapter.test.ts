import { describe, expect, it } from 'vitest';
import { CliAdapter, plainText } from '../src/chat/cli-adapter.js';

describe('exec output', () => {
  it('prints plain text: fence lines dropped, inline fences removed, the rest kept', () => {
    expect(plainText('Commands:\n```\n help   this list\n```\nmore')).toBe('Commands:\n help   this list\nmore');
    expect(plainText('```text\na\n```')).toBe('a');
    expect(plainText('value ```x``` here')).toBe('value x here');
  });

  it('marks direct messages and lists files', async () => {
    const cli = new CliAdapter({ fileSink: (name) => `/tmp/out/${name}` });
    await cli.send({ platform: 'cli', channel: 'terminal' }, { text: '```\nok\n```', files: [{ name: 'a.csv', data: Buffer.from('x') }] });
    await cli.dm('admin', { text: 'secret for you' });
    expect(cli.render()).toBe('ok\n[file: /tmp/out/a.csv]\n\n(direct message)\nsecret for you');
  });
});
