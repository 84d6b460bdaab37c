// Help that guides: groups with the most used commands, a group's full list, a command's usage with an example,
// and every command's example runs as given through the dispatcher (never a usage error).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { PROV } from './provision/helpers.js';
import { SUBNETS } from './dhcp/helpers.js';
import { HELP_GROUPS } from '../commands/help.js';
import { parseLine } from '../src/core/parser.js';

describe('help', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { ...PROV, 'dhcp.subnets': SUBNETS } });
    // What the examples name: a host, a monitored node with a sensor and records, a provisioned phone.
    expect((await t.run('dhcp add mac=00:11:22:33:44:55 ip=10.20.0.50 name=pc-reception room=A1 owner="Front desk"')).exitCode).toBe(0);
    await t.app.services.monitor.createEnrollment('pbx1');
    expect((await t.run('monitor sensor add load kind=load warn=5 crit=10 retention=history:7d')).exitCode).toBe(0);
    expect((await t.run('monitor assign load pbx1')).exitCode).toBe(0);
    expect((await t.run('provision fanvil mac=0c:38:3e:12:34:57 ext=201 password=Desk-201-pass name="Front desk"')).exitCode).toBe(0);
  });
  afterAll(() => t?.close());

  it('`help` is one line per capability group with three commands each, as a table', async () => {
    await t.run('dhcp find reception');
    const r = await t.run('help');
    const msg = t.chat.last()!;
    expect(r.exitCode).toBe(0);
    const m = t.chat.last()!;
    const table = m.parts!.find((p) => p.kind === 'table')!;
    expect(table.kind === 'table' && table.columns).toEqual(['group', 'for', 'most used', 'all of it']);
    if (table.kind !== 'table') throw new Error('no table');
    expect(table.rows.length).toBeGreaterThanOrEqual(HELP_GROUPS.length - 1);
    expect(table.rows.length).toBeLessThan(15);
    for (const row of table.rows) expect(row[2]!.split(', ').length).toBeLessThanOrEqual(3);
    // The command run most recently in the audit log comes first in its group.
    expect(table.rows.find((x) => x[0] === 'Fixed addresses')![2]!.split(', ')[0]).toMatch(/^dhcp (find|add)$/);
    expect(msg.text).toContain('help <group>');
  });

  it('`help dhcp` lists every dhcp command with its usage; `help dhcp list` shows usage, role and an example', async () => {
    await t.run('help dhcp');
    const fam = t.chat.last()!.parts!.find((p) => p.kind === 'table');
    if (fam?.kind !== 'table') throw new Error('no table');
    expect(fam.rows.map((r) => r[0]!.split(' ').slice(0, 2).join(' '))).toEqual(expect.arrayContaining(['dhcp add', 'dhcp list', 'dhcp import', 'dhcp apply']));
    expect(fam.rows.length).toBe(t.app.registry.all().filter((c) => c.name.startsWith('dhcp ')).length);
    await t.run('help dhcp list');
    const text = t.chat.last()!.text;
    expect(text).toContain('`dhcp list [room=…] [access=0-3] [page=N]`');
    expect(text).toContain('Example: `dhcp list room=A1`');
    expect((await t.run('help nosuchthing')).exitCode).toBe(1);
  });

  // Examples that reach outside the test machine are parsed and bound, not run (tests send packets only to
  // 127.0.0.0/8). Those that need something a fresh test app lacks are run and must be refused with a clear
  // reason naming what is missing — never a usage error.
  const NOT_RUN = new Set(['renew scan', 'renew run', 'provision resync', 'provision reboot', 'doctor']);
  const REFUSED_FOR_LACK: Record<string, RegExp> = {
    ack: /no open unacknowledged alerts/,
    'call last': /No calls recorded yet/,
    cancel: /job #1 (already|has|is)|cannot be cancel|finished/i,
    confirm: /No pending confirmation K3X9QA/,
    'dhcp apply': /No backend is enabled/,
    'dhcp import': /Attach a CSV or XLSX file/,
    'provision firmware add': /Attach the firmware image file/,
    'provision firmware rollout': /No Yealink T3x\/T4x\/T5x firmware 66\.86\.0\.15 is stored; add it with `provision firmware add/,
    'inventory pc': /no PC "pc-reception" in the inventory/,
    'renew log': /no renewal request #1/,
    'renew resend': /no password is waiting for request #1/,
  };

  it('every command has an example, and every example runs as given (not a usage error)', async () => {
    const all = t.app.registry.all();
    expect(all.filter((c) => !c.example).map((c) => c.name)).toEqual([]);
    await t.run('selftest 1'); // job #1
    const problems: string[] = [];
    for (const c of all) {
      const ex = c.example!;
      const line = parseLine(ex);
      const resolved = t.app.registry.resolve(line.words);
      if (resolved?.cmd.name !== c.name) {
        problems.push(`${c.name}: example "${ex}" runs ${resolved?.cmd.name ?? 'nothing'}`);
        continue;
      }
      try {
        t.app.registry.bind(resolved.cmd, resolved.rest, line);
      } catch (e) {
        problems.push(`${c.name}: "${ex}" does not bind: ${(e as Error).message}`);
        continue;
      }
      if (NOT_RUN.has(c.name)) continue;
      const r = await t.run(ex);
      const said = r.replies.join(' ');
      if (r.outcome === 'ok' || r.outcome === 'confirm') continue;
      if (r.outcome === 'failed' && REFUSED_FOR_LACK[c.name]?.test(said)) continue;
      problems.push(`${c.name}: "${ex}" -> ${r.outcome}: ${said.slice(0, 200)}`);
    }
    expect(problems).toEqual([]);
  });
});
