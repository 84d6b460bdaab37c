// The agent runs only what its own config on the PBX allows. From chat, `kind=nagios command="/bin/sh -c
// 'touch <marker>'"` is not run (the marker never appears) and comes back UNKNOWN with the reason; so are a
// plugin path with "..", a symlink in a plugin dir that leads out of it, a plugin in denyPlugins (negate
// runs any command), a kind left out of allowKinds, and the bot's asterisk= override (the agent uses its
// own). allowCommands: true runs anything, as before. The chat command says the agent may refuse a sensor.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { sleep, until } from '../helpers/wait.js';
import { Agent, loadAgentConfig, type AgentConfig } from '../../src/agent/agent.js';
import { DEFAULT_PLUGIN_DIRS, pluginRefusal, policyFrom, vet } from '../../src/agent/policy.js';
import type { AgentSensor } from '../../src/wire/results.js';

const PLUGINS = '/usr/lib/nagios/plugins';
const dir = tmpDir('sb-mon-safety-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const sensor = (kind: string, args: Record<string, string>): AgentSensor => ({ id: 1, name: 's', kind, args, intervalMs: 60_000, timeoutMs: 5000 });

describe('policy', () => {
  const p = policyFrom({ asterisk: '/usr/sbin/asterisk' });
  it('defaults: every kind, the Debian/RHEL plugin dirs, no other commands', () => {
    expect(p.pluginDirs).toEqual(DEFAULT_PLUGIN_DIRS);
    expect(p.pluginDirs).toEqual(['/usr/lib/nagios/plugins', '/usr/lib64/nagios/plugins', '/usr/local/nagios/libexec']);
    expect(p.allowCommands).toBe(false);
    expect(vet(sensor('nagios', { command: `${PLUGINS}/check_dummy 0 fine` }), p).ok).toBe(true);
    expect(vet(sensor('disk', { path: '/' }), p).ok).toBe(true);
  });

  it('refuses a command outside the plugin dirs, "..", a symlink leading out, a relative name, a denied plugin', () => {
    expect(pluginRefusal(`/bin/sh -c 'touch /tmp/x'`, p)).toMatch(/^\/bin\/sh is not in the plugin directories \(\/usr\/lib\/nagios\/plugins, .*\) and allowCommands is off$/);
    expect(pluginRefusal(`${PLUGINS}/../../../../bin/sh -c id`, p)).toMatch(/contains "\.\."/);
    expect(pluginRefusal('check_dummy 0', p)).toMatch(/not an absolute path/);
    expect(pluginRefusal(`${PLUGINS}/negate /bin/sh -c id`, p)).toMatch(/negate is in denyPlugins/);
    expect(pluginRefusal(`${PLUGINS}/check_by_ssh -H 127.0.0.1 -o ProxyCommand=id -C x`, p)).toMatch(/check_by_ssh is in denyPlugins/);
    expect(pluginRefusal(`${PLUGINS}/check_nothing_here`, p)).toMatch(/does not exist \(ENOENT\)/);
    // A symlink inside a plugin dir that points out of it.
    const plugins = path.join(dir, 'plugins');
    fs.mkdirSync(plugins, { recursive: true });
    fs.symlinkSync('/bin/sh', path.join(plugins, 'check_escape'));
    fs.symlinkSync(`${PLUGINS}/check_dummy`, path.join(plugins, 'check_linked'));
    const mine = policyFrom({ asterisk: 'asterisk', pluginDirs: [plugins] });
    expect(pluginRefusal(`${plugins}/check_escape -c id`, mine)).toMatch(/check_escape resolves to \/\S+, outside the plugin directories/);
    // Linked to another allowed dir: fine (Debian's check_host -> check_icmp is a link inside the same dir).
    expect(pluginRefusal(`${plugins}/check_linked 0`, policyFrom({ asterisk: 'a', pluginDirs: [plugins, PLUGINS] }))).toBeNull();
    expect(pluginRefusal(`${PLUGINS}/check_host -H 127.0.0.1`, p)).toBeNull();
    // allowPlugins narrows, denyPlugins can be emptied by the admin, allowCommands lets anything through.
    expect(pluginRefusal(`${PLUGINS}/check_load -w 1`, policyFrom({ asterisk: 'a', allowPlugins: ['check_dummy'] }))).toMatch(/check_load is not in allowPlugins/);
    expect(pluginRefusal(`${PLUGINS}/negate ${PLUGINS}/check_dummy 2`, policyFrom({ asterisk: 'a', denyPlugins: [] }))).toBeNull();
    expect(vet(sensor('nagios', { command: '/bin/sh -c id' }), policyFrom({ asterisk: 'a', allowCommands: true })).ok).toBe(true);
  });

  it('allowKinds limits the kinds; the bot cannot choose the asterisk binary or the ping command', () => {
    const only = policyFrom({ asterisk: 'a', allowKinds: ['nagios', 'tcp'] });
    expect(vet(sensor('disk', {}), only)).toEqual({ ok: false, reason: 'kind disk is not in allowKinds (nagios, tcp)' });
    const v = vet(sensor('sip-registrations', { asterisk: '/tmp/evil', driver: 'sip' }), p);
    expect(v).toEqual({ ok: true, sensor: sensor('sip-registrations', { asterisk: '/usr/sbin/asterisk', driver: 'sip' }), ignored: ['asterisk=/tmp/evil'] });
    const ping = vet(sensor('ping', { host: '127.0.0.1', command: '/bin/sh -c id' }), p);
    expect(ping.ok && ping.sensor.args.command).toBeUndefined();
    expect(ping.ok && ping.ignored).toEqual(['command=/bin/sh -c id']);
    const asAllowed = vet(sensor('sip-registrations', { asterisk: '/opt/ast' }), policyFrom({ asterisk: 'a', allowCommands: true }));
    expect(asAllowed.ok && asAllowed.sensor.args.asterisk).toBe('/opt/ast');
  });

  it('the agent config is checked on load', () => {
    const file = path.join(dir, 'agent.yaml');
    const load = (extra: string) => {
      fs.writeFileSync(file, `server: http://127.0.0.1:9\nnodeId: 1\ntoken: ${'t'.repeat(40)}\n${extra}`);
      return () => loadAgentConfig(file);
    };
    expect(load('allowKinds: [disk, shell]\n')).toThrow(/allowKinds: unknown kind "shell" \(kinds: .*disk, .*nagios/);
    expect(load('pluginDirs: [plugins]\n')).toThrow(/pluginDirs: "plugins" is not an absolute path/);
    expect(load('denyPlugins: [/usr/lib/nagios/plugins/negate]\n')).toThrow(/must be a plugin's file name/);
    expect(load('allowCommands: "yes"\n')).toThrow(/allowCommands must be true or false/);
    expect(load('allowKinds: [nagios]\nallowCommands: false\n')()).toMatchObject({ allowKinds: ['nagios'], allowCommands: false });
  });
});

describe('sensors from chat, run by an agent with its default config', () => {
  let t: TestApp;
  let a: Agent | undefined;
  const marker = path.join(dir, 'marker-from-chat');
  const astMarker = path.join(dir, 'marker-asterisk');
  beforeAll(async () => {
    t = await makeTestApp({ engine: 'sqlite', listen: true });
  });
  afterAll(async () => {
    await a?.stop();
    await t?.close();
  });

  it('a shell command is refused (the marker never appears) and reported UNKNOWN with the reason; the asterisk= override is ignored', async () => {
    const add = await t.run(`monitor sensor add evil kind=nagios command="/bin/sh -c 'touch ${marker}'" interval=1s retention=history:1d`);
    expect(add.exitCode).toBe(0);
    expect(add.replies[0]).toMatch(/The agent on each PBX may refuse it: it runs only what its own config allows/);
    const fakeAst = path.join(dir, 'asterisk-evil');
    fs.writeFileSync(fakeAst, `#!/bin/sh\ntouch ${astMarker}\necho "System uptime: 5"\n`, { mode: 0o755 });
    expect((await t.run(`monitor sensor add astup kind=asterisk-uptime asterisk=${fakeAst} interval=1s retention=history:1d`)).exitCode).toBe(0);
    expect((await t.run(`monitor sensor add fine kind=nagios command="${PLUGINS}/check_dummy 0 fine" interval=1s retention=history:1d`)).exitCode).toBe(0);
    const svc = t.app.services.monitor;
    await svc.createEnrollment('pbx-safe');
    const e = (await svc.enroll((await svc.createEnrollment('pbx-safe', true)).code))!;
    for (const s of ['evil', 'astup', 'fine']) expect((await t.run(`monitor assign ${s} pbx-safe`)).exitCode).toBe(0);
    const d = path.join(dir, 'agent');
    const cfg: AgentConfig = {
      server: t.app.baseUrl(),
      nodeId: e.nodeId,
      token: e.token,
      spoolDir: path.join(d, 'spool'),
      spoolMaxBytes: 1 << 20,
      cdrPath: path.join(d, 'Master.csv'),
      cdrPollMs: 1000,
      configPollMs: 60_000,
      heartbeatMs: 500,
      backoffMaxMs: 1000,
      batchSize: 200,
      asterisk: '/bin/false',
      cdrTimezone: 'local',
    };
    const logs: string[] = [];
    a = new Agent(cfg, { log: (_l, msg, extra) => void logs.push(`${msg} ${JSON.stringify(extra ?? {})}`) });
    await a.start();
    const records = async (name: string) =>
      t.app.db
        .selectFrom('mon_records as r')
        .innerJoin('mon_sensors as s', 's.id', 'r.sensor_id')
        .select(['r.status', 'r.output'])
        .where('s.name', '=', name)
        .where('r.node_id', '=', e.nodeId)
        .execute();
    await until('three runs of each sensor stored', async () => (await records('evil')).length >= 3 && (await records('astup')).length >= 3 && (await records('fine')).length >= 3, 30_000);
    const evil = await records('evil');
    expect(evil.every((r) => r.status === 3)).toBe(true);
    expect(evil[0]!.output).toBe(
      "UNKNOWN - refused by the agent's config: /bin/sh is not in the plugin directories (/usr/lib/nagios/plugins, /usr/lib64/nagios/plugins, /usr/local/nagios/libexec) and allowCommands is off",
    );
    expect((await records('fine'))[0]).toMatchObject({ status: 0, output: 'OK: fine' });
    // The agent's own asterisk (/bin/false) ran, not the one named in chat.
    expect((await records('astup'))[0]!.output).toMatch(/^ASTERISK UNKNOWN - exit 1 \(ignored by the agent's config: asterisk=\/\S+asterisk-evil\)$/);
    await sleep(300);
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.existsSync(astMarker)).toBe(false);
    // Logged once per sensor, not on every run.
    expect(logs.filter((l) => l.startsWith("sensor refused by the agent's config"))).toHaveLength(1);
  }, 60_000);
});
