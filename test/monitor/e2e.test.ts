// End to end on loopback: the real bot (createApp + listen) and a real agent process
// (`node bin/switchboard.js agent`), enrolled through the CLI with the code the bot DM'd. The agent runs
// real Debian Nagios plugins and built-ins; a CRITICAL opens an alert posted to chat and e-mailed to a real
// SMTP server (smtp-server, parsed with mailparser) and resolves; the bot is stopped for a real gap
// (MONITOR_GAP_MS, default 60 s as the issue asks) and every result from the gap arrives once, in order; killing the agent
// raises a stale alert within its freshness limit; an agent restarted while the bot is down runs its saved sensor
// list and those results arrive once the bot is back; a premium-rate CDR line raises a fraud alert within 5 s; a
// Master.csv in cdr-csv's column order with a repeated userfield gives two calls.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { createApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { features } from '../../src/features.js';
import { RecordingAdapter } from '../helpers/app.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/env.js';
import { sleep, until as untilEvery } from '../helpers/wait.js';

const until = <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000) => untilEvery(what, fn, timeoutMs, 100);

const PLUGINS = '/usr/lib/nagios/plugins';
const GAP_MS = Number(process.env.MONITOR_GAP_MS ?? 60_000);

describe('monitoring end to end (real bot, real agent, real plugins, real SMTP)', () => {
  const dir = tmpDir('sb-mon-e2e-');
  const dataDir = path.join(dir, 'data');
  const agentCfg = path.join(dir, 'agent.yaml');
  const cdrFile = path.join(dir, 'Master.csv');
  const runLog = path.join(dir, 'runs.log');
  const chat = new RecordingAdapter();
  const logs: string[] = [];
  const mails: ParsedMail[] = [];
  let smtp: SMTPServer;
  let smtpPort = 0;
  let app: RunningApp;
  let port = 0;
  let url = '';
  let agent: ChildProcess | undefined;
  let agentErr = '';
  let listener: net.Server;
  let token = '';
  let code = '';

  async function startBot(): Promise<void> {
    const config = loadConfig({
      env: {},
      sections: features.flatMap((f) => (f.config ? [f.config] : [])),
      overrides: {
        dataDir,
        'http.port': port,
        'auth.admins': ['test:admin'],
        'monitor.alertTargets': ['test:alerts'],
        'monitor.staleCheckMs': 250,
        'monitor.groupWindowMs': 300,
        'monitor.mail': { host: '127.0.0.1', port: smtpPort, secure: false, from: 'switchboard@test.invalid', to: ['noc@test.invalid'] },
      },
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
    url = await app.listen();
    port = Number(new URL(url).port);
  }

  async function run(text: string): Promise<string> {
    const before = chat.messages.length;
    const res = await app.dispatcher.handle({ platform: 'test', channel: 'C1', user: { id: 'admin', name: 'admin' }, text, files: [] }, { confirmed: true });
    const out = chat.messages
      .slice(before)
      .filter((m) => m.channel === 'C1')
      .map((m) => m.text)
      .join('\n');
    if (res.exitCode !== 0) throw new Error(`${text} -> ${res.exitCode}: ${out}`);
    return out;
  }

  const alertsText = () => chat.messages.filter((m) => m.channel === 'alerts').map((m) => m.text);

  function startAgent(): void {
    agentErr = '';
    agent = spawnCli(['agent', '--config', agentCfg]);
    agent.stderr!.on('data', (d) => (agentErr += d));
  }
  async function stopAgent(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const a = agent;
    agent = undefined;
    if (!a || a.exitCode !== null) return;
    await new Promise<void>((r) => {
      a.once('exit', () => r());
      a.kill(sig);
    });
  }

  beforeAll(async () => {
    for (const p of ['check_dummy', 'check_disk', 'check_load', 'check_tcp'])
      if (!fs.existsSync(`${PLUGINS}/${p}`)) throw new Error(`${PLUGINS}/${p} is missing: install monitoring-plugins-basic/-standard`);
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, _s, cb) {
        simpleParser(stream).then((m) => {
          mails.push(m);
          cb();
        }, cb);
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    smtpPort = (smtp.server.address() as net.AddressInfo).port;
    listener = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
    await new Promise((r) => listener.once('listening', r));
    fs.writeFileSync(cdrFile, '');
    // A plugin wrapper that logs each run's marker and then execs the real check_dummy.
    fs.writeFileSync(path.join(dir, 'counted.sh'), `#!/bin/sh\nm=$(date +%s%N)\necho $m >> ${runLog}\nexec ${PLUGINS}/check_dummy "$1" "run $m"\n`, { mode: 0o755 });
    // A stand-in for `asterisk -rx`, printing real-format output.
    fs.writeFileSync(
      path.join(dir, 'asterisk'),
      `#!/bin/sh
case "$2" in
  "pjsip show registrations") cat <<'X'

 <Registration/ServerURI..............................>  <Auth....................>  <Status.......>
==========================================================================================

 trunk-main/sip:sip.carrier.example:5060                  trunk-main-auth             Registered (exp. 3564s)
 trunk-backup/sip:sip2.carrier.example:5060               trunk-backup-auth           Registered (exp. 3573s)

Objects found: 2

X
  ;;
  "core show version") echo "Asterisk 20.5.2 built by root @ build on a x86_64 running Linux" ;;
  "core show channels count") printf '3 active channels\\n1 active call\\n42 calls processed\\n' ;;
  "core show uptime seconds") printf 'System uptime: 86400\\nLast reload: 3600\\n' ;;
  *) echo "No such command '$2'" ; exit 1 ;;
esac
`,
      { mode: 0o755 },
    );
    await startBot();
  }, 60_000);

  afterAll(async () => {
    await stopAgent('SIGKILL');
    await app?.close().catch(() => undefined);
    listener?.close();
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("enrols an agent through the CLI with the DM'd code; token stored hashed and in a 0600 config", async () => {
    await run('monitor enroll pbx1');
    const dm = chat.messages.find((m) => m.dmTo === 'admin' && m.text.includes('agent enroll'))!;
    expect(dm.secret).toBe(true);
    code = /--code (\S+)/.exec(dm.text)![1]!;
    // The PBX admin's part: counted.sh lives in the test dir, so that dir is a plugin dir of this agent.
    fs.writeFileSync(
      agentCfg,
      `spoolDir: ${dir}/spool\ncdrPath: ${cdrFile}\ncdrPollMs: 200\nconfigPollMs: 300\nheartbeatMs: 500\nbackoffMaxMs: 1000\nasterisk: ${dir}/asterisk\npluginDirs: [${PLUGINS}, ${dir}]\n`,
    );
    const r = await runCli(['agent', 'enroll', '--server', url, '--code', code, '--config', agentCfg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/enrolled as node pbx1/);
    expect(fs.statSync(agentCfg).mode & 0o777).toBe(0o600);
    token = /token: (\S+)/.exec(fs.readFileSync(agentCfg, 'utf8'))![1]!;
    const row = await app.db.selectFrom('mon_nodes').selectAll().where('name', '=', 'pbx1').executeTakeFirstOrThrow();
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.token_hash).not.toContain(token);
  });

  it('runs real Nagios plugins and built-ins; states show in monitor node', async () => {
    const lp = (listener.address() as net.AddressInfo).port;
    await run(`monitor sensor add dummy kind=nagios command="${PLUGINS}/check_dummy 0 all-good" interval=1s timeout=5s attempts=2 retention=history:1d`);
    await run(`monitor sensor add counted kind=nagios command="${dir}/counted.sh 0" interval=1s timeout=5s attempts=3 retention=history:1d`);
    await run(`monitor sensor add root-disk kind=nagios command="${PLUGINS}/check_disk -w 0% -c 0% -p /" interval=2s`);
    await run(`monitor sensor add loadavg kind=nagios command="${PLUGINS}/check_load -w 500,500,500 -c 900,900,900" interval=2s`);
    await run(`monitor sensor add tcp-local kind=nagios command="${PLUGINS}/check_tcp -H 127.0.0.1 -p ${lp}" interval=2s`);
    await run('monitor sensor add mem kind=memory warn=101 crit=102 interval=2s');
    await run(`monitor sensor add tcp-builtin kind=tcp host=127.0.0.1 port=${lp} warn=~:5 crit=~:10 interval=2s retention=history:1d`);
    await run('monitor sensor add up kind=uptime crit=60: interval=2s');
    await run('monitor sensor add trunks kind=sip-registrations interval=2s');
    await run('monitor sensor add channels kind=asterisk-channels warn=~:50 crit=~:100 interval=2s');
    for (const s of ['dummy', 'counted', 'root-disk', 'loadavg', 'tcp-local', 'mem', 'tcp-builtin', 'up', 'trunks', 'channels']) await run(`monitor assign ${s} pbx1`);
    startAgent();
    const out = await until('all sensors reported', async () => {
      const o = await run('monitor node pbx1');
      return !o.includes('PENDING') && o;
    });
    expect(out).toMatch(/dummy\s+OK\s+OK: all-good/);
    expect(out).toMatch(/root-disk\s+\S+\s+DISK/);
    expect(out).toMatch(/loadavg\s+OK\s+LOAD OK/);
    expect(out).toMatch(/tcp-local\s+OK\s+TCP OK/);
    expect(out).toMatch(/mem\s+OK\s+MEMORY OK/);
    expect(out).toMatch(/tcp-builtin\s+OK\s+TCP OK - 127\.0\.0\.1:\d+ connected/);
    expect(out).toMatch(/up\s+OK\s+UPTIME OK/);
    expect(out).toMatch(/trunks\s+OK\s+SIP OK - 2\/2 registered/);
    expect(out).toMatch(/channels\s+OK\s+CHANNELS OK - 3 active channels/);
    expect(out).toMatch(/Asterisk 20\.5\.2/);
    const nodes = await run('monitor nodes');
    expect(nodes).toMatch(/pbx1\s+\S+\s+10\s+\d+s ago/);
  }, 60_000);

  it('a sensor forced CRITICAL opens an alert in chat and by e-mail, and resolves when OK again', async () => {
    await run(`monitor sensor edit dummy command="${PLUGINS}/check_dummy 2 forced-failure"`);
    const posted = await until('alert in chat', () => alertsText().find((t) => /CRITICAL pbx1\/dummy: CRITICAL: forced-failure/.test(t)));
    expect(posted).toMatch(/alert #\d+/);
    const mail = await until('alert e-mail', () => mails.find((m) => /CRITICAL pbx1\/dummy/.test(m.subject ?? '')));
    expect(mail.to && 'text' in mail.to ? mail.to.text : '').toContain('noc@test.invalid');
    expect(mail.text).toContain('forced-failure');
    const id = /alert #(\d+)/.exec(posted)![1];
    expect(await run('alerts')).toMatch(new RegExp(`${id}\\s+pbx1/dummy\\s+sensor`));
    await run(`monitor sensor edit dummy command="${PLUGINS}/check_dummy 0 all-good"`);
    await until('resolved in chat', () => alertsText().find((t) => t.includes(`alert #${id} RESOLVED`)));
    await until('resolved e-mail', () => mails.find((m) => (m.subject ?? '').includes(`alert #${id} RESOLVED`)));
    expect(await run('alerts')).not.toMatch(new RegExp(`^${id}\\s`, 'm'));
  }, 60_000);

  it(
    `keeps every result from a ${GAP_MS / 1000}s bot outage: stored once each, in order`,
    async () => {
      const sensor = await app.db.selectFrom('mon_sensors').select('id').where('name', '=', 'counted').executeTakeFirstOrThrow();
      await app.close();
      const stoppedAt = Date.now();
      let spooled = 0;
      let restartAt = 0;
      try {
        await sleep(GAP_MS);
        spooled = fs
          .readFileSync(path.join(dir, 'spool', 'results.jsonl'), 'utf8')
          .split('\n')
          .filter(Boolean).length;
      } finally {
        restartAt = Date.now();
        await startBot();
      }
      const markers = fs.readFileSync(runLog, 'utf8').split('\n').filter(Boolean).map(Number);
      const gap = markers.filter((m) => m / 1e6 > stoppedAt + 200 && m / 1e6 < restartAt - 200);
      expect(gap.length).toBeGreaterThanOrEqual(Math.floor(GAP_MS / 1000) - 3);
      expect(spooled).toBeGreaterThan(gap.length);
      await until('spool drained', () => fs.readFileSync(path.join(dir, 'spool', 'results.jsonl'), 'utf8').trim() === '' || undefined, 30_000);
      const rows = await app.db.selectFrom('mon_records').select(['id', 'result_id', 'output', 'at']).where('sensor_id', '=', sensor.id).orderBy('id').execute();
      const stored = rows.map((r) => Number(/run (\d+)/.exec(r.output)![1]));
      for (const m of gap) expect(stored.filter((s) => s === m)).toHaveLength(1);
      expect(new Set(rows.map((r) => r.result_id)).size).toBe(rows.length);
      const inGap = stored.filter((s) => gap.includes(s));
      expect(inGap).toEqual([...gap].sort((x, y) => x - y));
      expect(rows.map((r) => r.at)).toEqual([...rows.map((r) => r.at)].sort((x, y) => x - y));
      console.log(`gap ${GAP_MS} ms: ${gap.length} runs of 'counted' during the outage, ${spooled} results spooled (all sensors), all stored exactly once, in order`);
    },
    GAP_MS + 60_000,
  );

  it('raises a stale alert within the freshness limit when the agent dies, resolved when it returns', async () => {
    const freshness = 3 * 1000; // 3 x the shortest interval (1 s)
    chat.clear();
    await stopAgent('SIGKILL');
    const killedAt = Date.now();
    const lastSeen = (await app.db.selectFrom('mon_nodes').select('last_seen').where('name', '=', 'pbx1').executeTakeFirstOrThrow()).last_seen!;
    const stale = await until('stale alert', () => alertsText().find((t) => /STALE pbx1/.test(t)), 15_000);
    const raisedAt = Date.now();
    expect(raisedAt - lastSeen).toBeLessThanOrEqual(freshness + 1500);
    expect(raisedAt - killedAt).toBeLessThanOrEqual(freshness + 1500);
    expect(await run('monitor nodes')).toMatch(/pbx1\s+STALE/);
    const id = /alert #(\d+)/.exec(stale)![1];
    startAgent();
    await until('stale resolved', () => alertsText().find((t) => t.includes(`alert #${id} RESOLVED: node pbx1 is reporting again`)), 15_000);
  }, 40_000);

  it('an agent restarted during a bot outage runs its saved sensor list; the results arrive when the bot is back', async () => {
    const sensor = await app.db.selectFrom('mon_sensors').select('id').where('name', '=', 'counted').executeTakeFirstOrThrow();
    await stopAgent();
    await app.close();
    const restartedAt = Date.now();
    const spool = path.join(dir, 'spool', 'results.jsonl');
    const since = () =>
      fs
        .readFileSync(spool, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { sensorId: number; at: number })
        .filter((r) => r.sensorId === sensor.id && r.at >= restartedAt);
    try {
      startAgent();
      await until('results of the saved list spooled while the bot is down', () => since().length >= 3, 20_000);
      expect(agentErr).toMatch(/running the saved sensor list until the bot answers/);
    } finally {
      await startBot();
    }
    const spooled = since().map((r) => r.at);
    await until(
      'the outage results stored',
      async () => {
        const rows = await app.db.selectFrom('mon_records').select('at').where('sensor_id', '=', sensor.id).where('at', 'in', spooled).execute();
        return rows.length === spooled.length;
      },
      30_000,
    );
  }, 60_000);

  it('a CDR line to a premium-rate prefix raises a fraud alert within 5 s', async () => {
    await run('monitor fraud add 0900 premium Premium-rate numbers');
    await sleep(1000); // agent up and its CDR position taken
    const start = new Date().toISOString().slice(0, 19).replace('T', ' ');
    const line = `"","2001","0900123456","from-internal","""Reception"" <2001>","PJSIP/2001-00000001","PJSIP/trunk-main-00000002","Dial","PJSIP/0900123456@trunk-main,300,","${start}","${start}","${start}",65,60,"ANSWERED","DOCUMENTATION","1763860000.42",""\n`;
    const written = Date.now();
    fs.appendFileSync(cdrFile, line);
    const alert = await until('fraud alert', () => alertsText().find((t) => /TOLL FRAUD\? pbx1: call from 2001 to 0900123456/.test(t)), 5000);
    expect(Date.now() - written).toBeLessThanOrEqual(5000);
    expect(alert).toMatch(/premium prefix 0900/);
    await until('fraud mail', () => mails.find((m) => /TOLL FRAUD/.test(m.subject ?? '')));
    const stored = await app.db.selectFrom('mon_cdr_calls').selectAll().execute();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ dst: '0900123456', src: '2001', call_id: expect.stringMatching(/^1763860000\.42#[0-9a-f]{10}$/) });
  }, 20_000);

  it("stores two calls with the same userfield from a Master.csv in cdr-csv's column order", async () => {
    // accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, end,
    // duration, billsec, disposition, amaflags, uniqueid, userfield (loguniqueid/loguserfield=yes).
    const start = new Date().toISOString().slice(0, 19).replace('T', ' ');
    const line = (uniqueid: string, dst: string) =>
      `"","2001","${dst}","from-internal","""Reception"" <2001>","PJSIP/2001-00000003","PJSIP/${dst}-00000004","Dial","PJSIP/${dst},30,","${start}","${start}","${start}",12,10,"ANSWERED","DOCUMENTATION","${uniqueid}","queue-sales"\n`;
    fs.appendFileSync(cdrFile, line('1763860100.51', '2002') + line('1763860100.52', '2003'));
    const rows = await until('both calls stored', async () => {
      const r = await app.db.selectFrom('mon_cdr_calls').select(['call_id', 'dst', 'raw']).where('dst', 'in', ['2002', '2003']).orderBy('dst').execute();
      return r.length === 2 && r;
    });
    expect(rows.map((r) => [r.dst, r.call_id.split('#')[0]])).toEqual([
      ['2002', '1763860100.51'],
      ['2003', '1763860100.52'],
    ]);
    expect(rows.every((r) => r.raw!.endsWith('"queue-sales"'))).toBe(true);
  }, 20_000);

  it('never shows the enrolment code or token in channels, audit or logs', async () => {
    const audit = await app.db.selectFrom('audit_log').select(['args', 'detail']).execute();
    const hay = [...chat.messages.filter((m) => !m.secret).map((m) => m.text), ...audit.map((r) => `${r.args} ${r.detail}`), ...logs, agentErr, ...mails.map((m) => m.text)].join('\n');
    expect(token.length).toBeGreaterThan(20);
    expect(hay).not.toContain(token);
    expect(hay).not.toContain(code);
  });
});
