// The apply agents' API and the agent's own checks, on both store engines: only an apply node's token may pull
// or report; the ETag answers 304 while nothing changed; a dry run is handed over as one; a second report of a
// generation is stored and posted once; an older pending generation is superseded and said so; the agent's
// config names what is wrong with its `apply:` section, and it refuses a backend it was not configured for.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { loadAgentConfig } from '../../src/agent/config.js';
import { ApplyRunner } from '../../src/agent/apply.js';
import { SUBNETS } from './helpers.js';

describe.each(['sqlite', 'mysql'] as const)('apply agent API on %s', (engine) => {
  let t: TestApp;
  let url = '';
  const tokens: Record<string, string> = {};
  const call = (p: string, token: string, init: RequestInit = {}) =>
    fetch(`${url}${p}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });

  beforeAll(async () => {
    t = await makeTestApp({ engine, listen: true, overrides: { 'dhcp.subnets': SUBNETS } });
    url = t.app.baseUrl();
    for (const [name, extra] of [
      ['pbx1', ''],
      ['dhcp1', ' role=apply targets=isc'],
      ['squid1', ' role=apply targets=proxy'],
    ] as const) {
      const r = await t.run(`monitor enroll ${name}${extra}`);
      expect(r.exitCode, r.replies.join('\n')).toBe(0);
      const code = /--code (\S+)/.exec(t.chat.messages.filter((m) => m.dmTo).at(-1)!.text)![1]!;
      const e = (await (await fetch(`${url}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })).json()) as { token: string };
      tokens[name] = e.token;
    }
  }, 120_000);
  afterAll(() => t?.close());

  it('enrolment refuses a backend another node applies, an unknown one, and targets without role=apply', async () => {
    expect((await t.run('monitor enroll dhcp2 role=apply targets=isc')).replies.join('\n')).toMatch(/already applied by another node: isc \(node dhcp1\)/);
    expect((await t.run('monitor enroll dhcp2 role=apply targets=bind9')).replies.join('\n')).toMatch(/unknown backend "bind9"/);
    expect((await t.run('monitor enroll dhcp2 targets=isc')).exitCode).toBe(2);
    expect((await t.run('monitor nodes')).replies.join('\n')).toMatch(/dhcp1 \(apply: isc\)/);
  });

  it('only an apply node may pull; a bad token is 401 even with a bad body', async () => {
    expect((await call('/api/v1/agent/apply', 'nope')).status).toBe(401);
    expect((await call('/api/v1/agent/apply/1', 'nope', { method: 'POST', body: '{"x":' })).status).toBe(401);
    const pbx = await call('/api/v1/agent/apply', tokens.pbx1!);
    expect(pbx.status).toBe(403);
    expect(((await pbx.json()) as { error: string }).error).toMatch(/pbx1 is not an apply node/);
    // An apply node is told not to read CDRs.
    const cfg = (await (await call('/api/v1/agent/config', tokens.dhcp1!)).json()) as { cdr: { enabled: boolean } };
    expect(cfg.cdr.enabled).toBe(false);
  });

  it('a dry run is handed over as one; ETag 304; a report is stored and posted once; an older generation is superseded', async () => {
    expect((await t.run('dhcp add mac=00:11:22:33:44:01 ip=10.20.0.11 name=pc-101 access=1')).exitCode).toBe(0);
    const dry = await t.run('dhcp apply --dry-run');
    expect(dry.replies.join('\n')).toMatch(
      /Dry run: 1 added, 0 changed, 0 removed since the last apply\.\nHanded isc to the apply agent on dhcp1 \(generation (\d+)\)[^\n]*\nHanded proxy to the apply agent on squid1/,
    );
    const r1 = await call('/api/v1/agent/apply', tokens.dhcp1!);
    const g1 = (await r1.json()) as { generation: number; dryRun: boolean; backends: { name: string; files: { target: string; text: string }[] }[] };
    expect(g1).toMatchObject({ dryRun: true, backends: [{ name: 'isc', files: [{ target: 'isc', text: expect.stringContaining('fixed-address 10.20.0.11;') }] }] });
    expect((await call('/api/v1/agent/apply', tokens.dhcp1!, { headers: { 'if-none-match': r1.headers.get('etag')! } })).status).toBe(304);
    // Another node cannot report dhcp1's generation.
    expect((await call(`/api/v1/agent/apply/${g1.generation}`, tokens.squid1!, { method: 'POST', body: JSON.stringify({ ok: true, text: 'x' }) })).status).toBe(404);
    // A real apply now: dhcp1 gets a newer generation while the dry run is still pending.
    await t.run('dhcp apply', { confirmed: true, channel: 'C2' });
    const g2 = (await (await call('/api/v1/agent/apply', tokens.dhcp1!)).json()) as { generation: number; dryRun: boolean };
    expect(g2.generation).toBeGreaterThan(g1.generation);
    expect(g2.dryRun).toBe(false);
    for (let i = 0; i < 2; i++)
      expect((await call(`/api/v1/agent/apply/${g2.generation}`, tokens.dhcp1!, { method: 'POST', body: JSON.stringify({ ok: true, text: 'Applied 1 file(s).' }) })).status).toBe(200);
    const c2 = t.chat.texts('C2').filter((x) => x.startsWith('✅'));
    expect(c2).toEqual([`✅ DHCP apply on dhcp1 (generation ${g2.generation}): Applied 1 file(s).`]);
    expect(t.chat.texts('C1').filter((x) => x.startsWith(`DHCP apply on dhcp1 (generation ${g1.generation})`))).toEqual([
      `DHCP apply on dhcp1 (generation ${g1.generation}) was not run: a newer apply (generation ${g2.generation}) replaced it before the agent took it.`,
    ]);
    const after = (await (await call('/api/v1/agent/apply', tokens.dhcp1!)).json()) as { generation: null };
    expect(after.generation).toBeNull();
  });
});

describe('the apply agent config', () => {
  const dir = tmpDir();
  const write = (apply: unknown) => {
    const f = path.join(dir, `agent-${Math.random()}.yaml`);
    fs.writeFileSync(f, YAML.stringify({ server: 'http://127.0.0.1:1', nodeId: 1, token: 'tok-tok-tok-tok', apply }));
    return f;
  };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names the key that is wrong', () => {
    expect(() => loadAgentConfig(write({ backends: { bind9: {} } }))).toThrow(/apply\.backends\.bind9: unknown backend/);
    expect(() => loadAgentConfig(write({ backends: { isc: { path: 'dhcpd.hosts' } } }))).toThrow(/apply\.backends\.isc\.path must be an absolute path/);
    expect(() => loadAgentConfig(write({ backends: { isc: { reload: 'systemctl restart isc-dhcp-server' } } }))).toThrow(/apply\.backends\.isc\.reload must be a command as a list of words/);
    expect(() => loadAgentConfig(write({ backends: { isc: { command: ['x'] } } }))).toThrow(/apply\.backends\.isc\.command: unknown key/);
    const ok = loadAgentConfig(write({ backends: { isc: { reload: ['systemctl', 'restart', 'isc-dhcp-server'] } } }));
    expect(ok.apply!.backends.isc).toEqual({ path: '/etc/dhcp/dhcpd.hosts', check: ['dhcpd', '-t', '-cf', '{wrapper}'], reload: ['systemctl', 'restart', 'isc-dhcp-server'] });
  });

  it('a backend the agent is not configured for: nothing is changed and the outcome says which key to add', async () => {
    const live = path.join(dir, 'dhcpd.hosts');
    const runner = new ApplyRunner(
      { pollMs: 1000, backends: { isc: { path: live, check: [], reload: [] } } },
      { server: 'http://127.0.0.1:1', nodeId: 1, spoolDir: dir, headers: () => ({}), log: () => undefined },
    );
    const r = await runner.applyGeneration({
      generation: 1,
      dryRun: false,
      backends: [
        { name: 'isc', files: [{ target: 'isc', text: '# hosts\n' }] },
        { name: 'proxy', files: [] },
      ],
      subnets: [],
      summary: 's',
      hosts: 0,
      notes: '',
    });
    expect(r).toEqual({ ok: false, text: "This agent's config does not apply proxy (add apply.backends.proxy to its agent.yaml, or assign the backend to another node); nothing was changed." });
    expect(fs.existsSync(live)).toBe(false);
  });
});
