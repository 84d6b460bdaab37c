import { describe, expect, it } from 'vitest';
import { parseLine, ParseError } from '../src/core/parser.js';

describe('command line parser', () => {
  it('splits words, key=value pairs, quoted values and flags', () => {
    const p = parseLine('dhcp add mac=00:11:22:33:44:55 ip=auto name="pc 305" room=\'R 3\' --dry-run --limit=5 extra');
    expect(p.words).toEqual(['dhcp', 'add', 'extra']);
    expect(p.named).toEqual({ mac: '00:11:22:33:44:55', ip: 'auto', name: 'pc 305', room: 'R 3' });
    expect(p.flags).toEqual({ 'dry-run': true, limit: '5' });
  });

  it('keeps = inside a value, escaped quotes and backslashes', () => {
    const p = parseLine('x note="a=b \\"quoted\\" c\\\\d" path=a\\ b');
    expect(p.named.note).toBe('a=b "quoted" c\\d');
    expect(p.named.path).toBe('a b');
  });

  it('treats a quoted word containing = as a positional, not a pair', () => {
    const p = parseLine('dhcp find "a=b"');
    expect(p.words).toEqual(['dhcp', 'find', 'a=b']);
    expect(p.named).toEqual({});
  });

  it('accepts typographic quotes that chat clients substitute', () => {
    expect(parseLine('x name=\u201CAna Silva\u201D').named.name).toBe('Ana Silva');
  });

  it('collects repeated keys', () => {
    const p = parseLine('x phone=1 phone=2');
    expect(p.multi.phone).toEqual(['1', '2']);
    expect(p.named.phone).toBe('2');
  });

  it('rejects an unclosed quote with a clear error', () => {
    expect(() => parseLine('x name="open')).toThrow(ParseError);
    expect(() => parseLine('x name="open')).toThrow(/unclosed double quote/);
  });

  it('gives empty results for blank input', () => {
    expect(parseLine('   ')).toEqual({ words: [], named: {}, multi: {}, flags: {} });
  });
});
