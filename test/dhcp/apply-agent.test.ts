// Apply where the daemons run: a real bot (createApp + listen) and a real `switchboard agent` process enrolled
// with role apply, in its own directory tree standing in for the DHCP/proxy server (etc/dhcp, etc/kea,
// etc/squid, its spool), with the real checkers (dhcpd -t, kea-dhcp4 -t, squid -k parse) and reload commands
// from its own agent.yaml (a script that records that it ran). A change made in chat is checked, swapped and
// reloaded there and the outcome is posted where the apply was asked; a change a checker rejects leaves every
// live file byte-identical and the post carries the checker's message; the bot stopped in the middle of an
// apply (while the agent reloads) loses nothing and the apply runs once.
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { features } from '../../src/features.js';
import { RecordingAdapter } from '../helpers/app.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/env.js';
import { sleep, until } from '../helpers/wait.js';
import { SUBNETS } from './helpers.js';

const TEMPLATE = {
  Dhcp4: {
    'interfaces-config': { interfaces: [] },
    'lease-database': { type: 'memfile', persist: false },
    subnet4: [{ id: 1, subnet: '10.20.0.0/24', pools: [{ pool: '10.20.0.100 - 10.20.0.200' }] }],
  },
};

describe('apply agent on the DHCP/proxy server (real agent process, real checkers)', () => {
  const dir = tmpDir('sb-apply-agent-');
  const dataDir = path.join(dir, 'bot');
  const server = path.join(dir, 'dhcp-server'); // the agent's machine
  const live = { isc: path.join(server, 'etc/dhcp/dhcpd.hosts'), kea: path.join(server, 'etc/kea/kea-dhcp4.conf'), proxy: path.join(server, 'etc/squid') };
  const lists = [1, 2, 3].map((l) => path.join(live.proxy, `proxy${l}`));
  const reloadLog = path.join(server, 'reloads.log');
  const slow = path.join(server, 'slow-reload');
  const agentCfg = path.join(server, 'etc/switchboard/agent.yaml');
  const template = path.join(dataDir, 'kea-template.json');
  const logs: string[] = [];
  let chat = new RecordingAdapter();
  let app: RunningApp;
  let port = 0;
  let agent: ChildProcess | undefined;
  let agentErr = '';

  async function startBot(): Promise<void> {
    chat = new RecordingAdapter();
    const config = loadConfig({
      env: {},
      sections: features.flatMap((f) => (f.config ? [f.config] : [])),
      overrides: { dataDir, 'http.port': port, 'auth.admins': ['test:admin'], 'dhcp.subnets': SUBNETS, 'dhcp.backends.kea.template': template },
    });
    const log = createLogger({
      level: 'debug',
      pretty: false,
      destination: new Writable({
        write(c, _e, cb) {
          logs.push(c.toString());
          cb();
        },
      }),
    });
    app = await createApp({ mode: 'server', config, log, adapters: [chat] });
    const url = await app.listen();
    port = Number(new URL(url).port);
  }

  async function run(text: string): Promise<{ code: number; text: string }> {
    const before = chat.messages.length;
    const res = await app.dispatcher.handle({ platform: 'test', channel: 'C1', user: { id: 'admin', name: 'admin' }, text, files: [] }, { confirmed: true });
    return {
      code: res.exitCode,
      text: chat.messages
        .slice(before)
        .map((m) => m.text)
        .join('\n'),
    };
  }

  const posted = (re: RegExp) => until(`a post matching ${re}`, () => chat.messages.find((m) => m.channel === 'C1' && re.test(m.text))?.text, 60_000, 100);
  const reloads = () =>
    fs.existsSync(reloadLog)
      ? fs
          .readFileSync(reloadLog, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('done '))
      : [];
  const snapshot = () => [live.isc, live.kea, ...lists].map((f) => (fs.existsSync(f) ? fs.readFileSync(f).toString('base64') : null));

  beforeAll(async () => {
    for (const d of [path.dirname(live.isc), path.dirname(live.kea), live.proxy, path.dirname(agentCfg), dataDir]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(template, JSON.stringify(TEMPLATE));
    // The reload "command": records that it ran (and for which daemon); slow while the marker file exists.
    const script = path.join(server, 'reload.sh');
    fs.writeFileSync(script, `#!/bin/sh\necho "begin $1" >> "${reloadLog}"\nif [ -e "${slow}" ]; then sleep 3; fi\necho "done $1" >> "${reloadLog}"\n`, { mode: 0o755 });
    await startBot();
    const r = await run('monitor enroll dhcp1 role=apply targets=isc,kea,proxy');
    expect(r.code, r.text).toBe(0);
    expect(r.text).toMatch(/role apply: isc,kea,proxy/);
    const dm = chat.messages.find((m) => m.dmTo === 'admin')!;
    expect(dm.text).toMatch(/apply:\n {2}backends:/);
    const code = /--code (\S+)/.exec(dm.text)![1]!;
    const e = await runCli(['agent', 'enroll', '--server', `http://127.0.0.1:${port}`, '--code', code, '--config', agentCfg]);
    expect(e.code, e.stderr).toBe(0);
    const cfg = YAML.parse(fs.readFileSync(agentCfg, 'utf8')) as Record<string, unknown>;
    Object.assign(cfg, {
      spoolDir: path.join(server, 'var/lib/switchboard-agent'),
      cdrSource: 'off',
      heartbeatMs: 1000,
      configPollMs: 60_000,
      apply: {
        pollMs: 500,
        backends: {
          isc: { path: live.isc, reload: [script, 'isc'] },
          kea: { path: live.kea, reload: [script, 'kea'] },
          proxy: { dir: live.proxy, reload: [script, 'squid'] },
        },
      },
    });
    fs.writeFileSync(agentCfg, YAML.stringify(cfg), { mode: 0o600 });
    agent = spawnCli(['agent', '--config', agentCfg]);
    agent.stderr!.on('data', (d) => (agentErr += d));
  }, 120_000);

  afterAll(async () => {
    agent?.kill('SIGKILL');
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a change made in chat is checked, swapped and reloaded on the agent, and the outcome is posted where it was asked', async () => {
    expect((await run('dhcp add mac=00:11:22:33:44:01 ip=10.20.0.11 name=pc-101 room=101 access=1')).code).toBe(0);
    const r = await run('dhcp apply');
    expect(r.code, r.text).toBe(0);
    expect(r.text).toMatch(/Handed isc, kea, proxy to the apply agent on dhcp1 \(generation (\d+)\).*its result will be posted here/);
    const text = await posted(/DHCP apply on dhcp1 \(generation \d+\)/);
    expect(text, agentErr).toMatch(
      /^✅ DHCP apply on dhcp1 \(generation \d+\): Applied 5 file\(s\) \(1 hosts\): 1 added, 0 changed, 0 removed since the last apply\.\nisc reload ok\nkea reload ok\nproxy reload ok$/,
    );
    expect(fs.readFileSync(live.isc, 'utf8')).toMatch(/hardware ethernet 00:11:22:33:44:01;\n {2}fixed-address 10\.20\.0\.11;\n {2}option host-name "pc-101";/);
    expect(JSON.parse(fs.readFileSync(live.kea, 'utf8')).Dhcp4.subnet4[0].reservations).toEqual([expect.objectContaining({ hostname: 'pc-101', 'ip-address': '10.20.0.11' })]);
    expect(fs.readFileSync(lists[0]!, 'utf8')).toBe('10.20.0.11\n');
    expect(reloads()).toEqual(['done isc', 'done kea', 'done squid']);
  });

  it("a change a checker rejects leaves every live file byte-identical, reloads nothing, and the post names the checker's message", async () => {
    const before = snapshot();
    const reloadsBefore = reloads().length;
    // The admin breaks the Kea template the bot builds on: kea-dhcp4 -t on the agent refuses it.
    fs.writeFileSync(template, JSON.stringify({ Dhcp4: { ...TEMPLATE.Dhcp4, 'valid-lifetime': 'forever' } }));
    try {
      expect((await run('dhcp add mac=00:11:22:33:44:02 ip=10.20.0.12 name=pc-102 access=2')).code).toBe(0);
      expect((await run('dhcp apply')).code).toBe(0);
      const text = await posted(/^❌ DHCP apply on dhcp1/);
      expect(text).toMatch(/Apply aborted; no live file was changed\.\nkea-dhcp4 check failed:\nSyntax check failed with: .*: syntax error, unexpected constant string, expecting integer/);
      expect(snapshot()).toEqual(before);
      expect(reloads().length).toBe(reloadsBefore);
      const tmpLeft = [path.dirname(live.isc), path.dirname(live.kea), live.proxy].flatMap((d) => fs.readdirSync(d).filter((f) => f.startsWith('.')));
      expect(tmpLeft).toEqual([]);
    } finally {
      fs.writeFileSync(template, JSON.stringify(TEMPLATE));
    }
  });

  it('the bot stopped mid-apply (while the agent reloads) loses nothing: after its restart the outcome is posted once and the apply ran once', async () => {
    const reloadsBefore = reloads().length;
    fs.writeFileSync(slow, '');
    expect((await run('dhcp add mac=00:11:22:33:44:03 ip=10.20.0.13 name=pc-103 access=3')).code).toBe(0);
    const r = await run('dhcp apply');
    const gen = Number(/generation (\d+)/.exec(r.text)![1]);
    await until(
      'the agent to start reloading',
      () =>
        fs.existsSync(reloadLog) &&
        fs
          .readFileSync(reloadLog, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('begin ')).length > reloadsBefore,
      30_000,
      50,
    );
    await app.close(); // the agent's report now has nowhere to go
    fs.rmSync(slow);
    await until('the agent to finish reloading', () => reloads().length === reloadsBefore + 3, 30_000, 100);
    await sleep(1500); // it tries to report to a stopped bot, and keeps the outcome
    await startBot();
    const text = await posted(new RegExp(`^✅ DHCP apply on dhcp1 \\(generation ${gen}\\)`));
    expect(text).toMatch(/Applied 5 file\(s\) \(3 hosts\): 1 added, 0 changed, 0 removed since the last apply/);
    expect(fs.readFileSync(lists[2]!, 'utf8')).toBe('10.20.0.13\n');
    await sleep(2000); // several more polls: nothing runs again, nothing is posted again
    expect(reloads().length).toBe(reloadsBefore + 3);
    expect(chat.messages.filter((m) => m.text.includes(`(generation ${gen})`) && m.text.startsWith('✅')).length).toBe(1);
    const row = await app.db.selectFrom('dhcp_apply_generations').select(['status', 'ok', 'posted']).where('id', '=', gen).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'done', ok: 1, posted: 1 });
  });
});
