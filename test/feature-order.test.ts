// Features run in the order their `after` lists give, whatever their place in src/features.ts.
import { describe, expect, it } from 'vitest';
import { orderFeatures } from '../src/feature-order.js';
import { features } from '../src/features.js';

const names = (list: { name: string }[]) => list.map((f) => f.name);

describe('feature order', () => {
  it('puts a feature after the ones it names, wherever it is listed; the rest by name', () => {
    const list = [{ name: 'zeta', after: ['beta'] }, { name: 'beta' }, { name: 'alpha', after: ['zeta'] }, { name: 'gamma' }];
    expect(names(orderFeatures(list))).toEqual(['beta', 'gamma', 'zeta', 'alpha']);
    expect(names(orderFeatures([...list].reverse()))).toEqual(['beta', 'gamma', 'zeta', 'alpha']);
  });

  it('refuses an unknown name, saying which feature named it and what the features are', () => {
    expect(() => orderFeatures([{ name: 'provision', after: ['dhcpp'] }, { name: 'dhcp' }])).toThrow(
      'feature "provision" comes after "dhcpp", which is not a feature (the features are: dhcp, provision)',
    );
  });

  it('refuses a cycle, naming it', () => {
    expect(() => orderFeatures([{ name: 'a', after: ['b'] }, { name: 'b', after: ['c'] }, { name: 'c', after: ['a'] }, { name: 'd' }])).toThrow(
      'features cannot be ordered: "a" comes after "b", "b" comes after "c", "c" comes after "a"',
    );
    expect(() => orderFeatures([{ name: 'a', after: ['a'] }])).toThrow('features cannot be ordered: "a" comes after "a"');
  });

  it('refuses a feature listed twice', () => {
    expect(() => orderFeatures([{ name: 'dhcp' }, { name: 'dhcp' }])).toThrow('feature "dhcp" is listed twice');
  });

  it("orders the app's features: provision after dhcp, chat after every capability", () => {
    const order = names(features);
    expect(order).toEqual(['console', 'dhcp', 'monitor', 'provision', 'renew', 'chat']);
    for (const f of features) for (const dep of f.after ?? []) expect(order.indexOf(dep), `${f.name} after ${dep}`).toBeLessThan(order.indexOf(f.name));
  });

  it('takes the `switchboard agent` sub-command from the monitoring feature', async () => {
    const { Command } = await import('commander');
    const program = new Command();
    const unused = () => {
      throw new Error('not needed to declare the sub-commands');
    };
    for (const f of features) f.cli?.(program, { loadConfig: unused, createLogger: unused });
    const agent = program.commands.find((c) => c.name() === 'agent');
    expect(agent?.commands.map((c) => c.name())).toEqual(['enroll', 'kinds']);
    expect(features.filter((f) => f.cli).map((f) => f.name)).toEqual(['console', 'monitor']);
  });

  it('takes the `switchboard console-user` sub-command from the console feature', async () => {
    const { Command } = await import('commander');
    const program = new Command();
    const unused = () => {
      throw new Error('not needed to declare the sub-commands');
    };
    features.find((f) => f.name === 'console')?.cli?.(program, { loadConfig: unused, createLogger: unused });
    const cmd = program.commands.find((c) => c.name() === 'console-user');
    expect(cmd?.options.map((o) => o.long)).toEqual(['--config', '--password-file', '--reset', '--role']);
  });
});
