import { describe, expect, it } from 'vitest';
import { Registry } from '../src/core/registry.js';
import { parseLine } from '../src/core/parser.js';
import { UsageError, type Command } from '../src/core/command.js';

const noop = async () => undefined;
function reg(): Registry {
  const r = new Registry();
  const cmds: Command[] = [
    {
      name: 'dhcp add',
      usage: 'dhcp add mac=… ip=…',
      summary: 'add',
      role: 'operator',
      run: noop,
      args: { named: { mac: { required: true }, ip: { required: true }, access: { type: 'integer', minimum: 0, maximum: 3 } }, flags: { 'dry-run': {} } },
    },
    { name: 'dhcp list', usage: 'dhcp list', summary: 'list', role: 'viewer', run: noop },
    { name: 'help', usage: 'help', summary: 'help', role: 'none', run: noop, args: { positional: [{ name: 'topic', rest: true }] } },
    { name: 'job', usage: 'job <id>', summary: 'job', role: 'viewer', run: noop, args: { positional: [{ name: 'id', required: true, type: 'integer' }] } },
  ];
  cmds.forEach((c) => r.add(c));
  return r;
}

describe('command registry', () => {
  it('resolves the longest matching command name', () => {
    const r = reg();
    expect(r.resolve(['dhcp', 'add', 'x'])?.cmd.name).toBe('dhcp add');
    expect(r.resolve(['DHCP', 'LIST'])?.cmd.name).toBe('dhcp list');
    expect(r.resolve(['dhcp'])).toBeNull();
  });

  it('suggests near names for typos and the family for an unknown sub-command', () => {
    const r = reg();
    expect(r.suggest(['hepl'])).toContain('help');
    expect(r.suggest(['dhcp', 'ad'])).toContain('dhcp add');
    expect(r.suggest(['dhcp', 'zzzzzz'])).toEqual(expect.arrayContaining(['dhcp add']));
    expect(r.suggest(['nosuch']).length).toBeGreaterThan(0);
  });

  it('binds and coerces arguments, and explains what is wrong', () => {
    const r = reg();
    const add = r.get('dhcp add')!;
    const ok = r.bind(add, [], parseLine('dhcp add mac=a ip=b access=2 --dry-run'));
    expect(ok).toMatchObject({ mac: 'a', ip: 'b', access: 2, flags: { 'dry-run': true } });
    expect(() => r.bind(add, [], parseLine('dhcp add mac=a'))).toThrow(/missing ip=/);
    expect(() => r.bind(add, [], parseLine('dhcp add mac=a ip=b acess=1'))).toThrow(/unknown argument acess= \(did you mean access=\?\)/);
    expect(() => r.bind(add, [], parseLine('dhcp add mac=a ip=b access=7'))).toThrow(/access= must be <= 3/);
    expect(() => r.bind(add, [], parseLine('dhcp add mac=a ip=b --force'))).toThrow(/unknown option --force/);
    expect(() => r.bind(add, ['stray'], parseLine('dhcp add mac=a ip=b stray'))).toThrow(UsageError);
    const job = r.get('job')!;
    expect(() => r.bind(job, ['abc'], parseLine('job abc'))).toThrow(/<id> must be a whole number/);
    expect(r.bind(job, ['12'], parseLine('job 12')).id).toBe(12);
  });

  it('refuses a command defined twice', () => {
    const r = reg();
    expect(() => r.add({ name: 'help', usage: 'help', summary: '', role: 'none', run: noop })).toThrow(/defined twice/);
  });

  it('loads the real commands directory', async () => {
    const r = new Registry();
    await r.loadDir();
    const names = r.all().map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['help', 'users grant', 'users revoke', 'users list', 'audit', 'jobs', 'job', 'cancel', 'confirm']));
    for (const c of r.all()) {
      expect(c.usage.startsWith(c.name), `${c.name} usage starts with its name`).toBe(true);
      expect(c.summary.length).toBeGreaterThan(3);
    }
    // Argument schemas compile on first use; every real command's must compile.
    expect(() => r.compileAll()).not.toThrow();
  });

  it('compiles argument schemas on first use, and compileAll finds a bad one', () => {
    const r = reg();
    r.add({ name: 'broken', usage: 'broken', summary: 'a bad schema', role: 'none', args: { named: { n: { type: 'nonsense' } as never } }, run: noop });
    expect(() => r.compileAll()).toThrow(/nonsense|type/);
  });
});
