// End to end on loopback: a real bot and a real agent process (`switchboard agent`) on a "PBX" whose clock
// is 2 h ahead (the agent runs with a preload that moves Date two hours forward). Its results are refused
// one by one with the reason (the agent drops and counts them; the channel hears about that once, pointing
// at the clock), the node gets a "clock skew" alert, no sensor state is frozen in the future, and when the
// agent runs with a right clock again the alert resolves and its results are stored and followed.
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { features } from '../../src/features.js';
import { RecordingAdapter } from '../helpers/app.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/env.js';
import { until } from '../helpers/wait.js';

const AHEAD_MS = 2 * 3_600_000;

describe('monitoring end to end: a PBX whose clock is 2 h ahead', () => {
  const dir = tmpDir('sb-mon-clock-');
  const agentCfg = path.join(dir, 'agent.yaml');
  const preload = path.join(dir, 'clock-ahead.cjs');
  const chat = new RecordingAdapter();
  const logs: string[] = [];
  let app: RunningApp;
  let url = '';
  let agent: ChildProcess | undefined;
  let agentErr = '';

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
  const records = async () =>
    Number(
      (
        await app.db
          .selectFrom('mon_records')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  function startAgent(offsetMs: number): void {
    agentErr = '';
    agent = spawnCli(['agent', '--config', agentCfg], offsetMs ? { NODE_OPTIONS: `--require ${preload}`, SB_TEST_CLOCK_OFFSET_MS: String(offsetMs) } : {});
    agent.stderr!.on('data', (d) => (agentErr += d));
  }
  async function stopAgent(): Promise<void> {
    const a = agent;
    agent = undefined;
    if (!a || a.exitCode !== null) return;
    await new Promise<void>((r) => {
      a.once('exit', () => r());
      a.kill('SIGTERM');
    });
  }

  beforeAll(async () => {
    // Date moved forward for the whole agent process: results are stamped, and its clock read, 2 h ahead.
    fs.writeFileSync(
      preload,
      `const off = Number(process.env.SB_TEST_CLOCK_OFFSET_MS || 0);
if (off) {
  const Real = Date;
  class Ahead extends Real {
    constructor(...a) { super(...(a.length ? a : [Real.now() + off])); }
    static now() { return Real.now() + off; }
  }
  globalThis.Date = Ahead;
}
`,
    );
    fs.writeFileSync(path.join(dir, 'Master.csv'), '');
    const config = loadConfig({
      env: {},
      sections: features.flatMap((f) => (f.config ? [f.config] : [])),
      overrides: {
        dataDir: path.join(dir, 'data'),
        'http.port': 0,
        'auth.admins': ['test:admin'],
        'monitor.alertTargets': ['test:alerts'],
        'monitor.staleCheckMs': 250,
        'monitor.groupWindowMs': 300,
        'monitor.freshnessMs': 60_000,
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
    await run('monitor enroll pbx-ahead');
    const code = /--code (\S+)/.exec(chat.messages.find((m) => m.dmTo === 'admin' && m.text.includes('agent enroll'))!.text)![1]!;
    fs.writeFileSync(agentCfg, `spoolDir: ${dir}/spool\ncdrPath: ${dir}/Master.csv\ncdrPollMs: 500\nconfigPollMs: 300\nheartbeatMs: 500\nbackoffMaxMs: 1000\n`);
    const r = await runCli(['agent', 'enroll', '--server', url, '--code', code, '--config', agentCfg]);
    expect(r.code).toBe(0);
    await run('monitor sensor add mem kind=memory warn=101 crit=102 interval=1s attempts=1 retention=history:1d');
    await run('monitor assign mem pbx-ahead');
  }, 60_000);

  afterAll(async () => {
    await stopAgent();
    await app?.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses its future results, raises a clock-skew alert on the node, and freezes nothing', async () => {
    startAgent(AHEAD_MS);
    const alert = await until('the clock-skew alert', () => alertsText().find((t) => /CLOCK SKEW pbx-ahead: its clock is 2 h ahead of the bot's/.test(t)), 30_000);
    expect(alert).toMatch(/^🚨 alert #\d+ /);
    // The agent was told why, dropped the results and reported them: announced once, pointing at the clock.
    await until('the drop report', () => chat.texts().find((t) => /agent on pbx-ahead dropped \d+ result\(s\).*its clock is off/.test(t)), 30_000);
    await until('several refused batches', () => logs.filter((l) => l.includes('is 2 h ahead of the bot')).length >= 3 || undefined, 30_000);
    expect(chat.texts().filter((t) => /agent on pbx-ahead dropped/.test(t))).toHaveLength(1);
    expect(alertsText().filter((t) => /CLOCK SKEW pbx-ahead/.test(t))).toHaveLength(1);
    expect(alertsText().filter((t) => /STALE pbx-ahead/.test(t))).toEqual([]);
    expect(await records()).toBe(0);
    expect(await app.db.selectFrom('mon_sensor_state').selectAll().execute()).toEqual([]);
    expect(await run('monitor node pbx-ahead')).toMatch(/CLOCK OFF by 2 h \(ahead\)[\s\S]*mem\s+PENDING/);
  }, 60_000);

  it('with its clock right again: the alert resolves, results are stored and followed', async () => {
    await stopAgent();
    startAgent(0);
    await until('clock skew resolved', () => alertsText().find((t) => /RESOLVED: the clock of pbx-ahead is right again/.test(t)), 30_000);
    await until('results stored', async () => (await records()) >= 2 || undefined, 30_000);
    const out = await until('the sensor state', async () => {
      const o = await run('monitor node pbx-ahead');
      return /mem\s+OK\s+MEMORY OK/.test(o) && o;
    });
    expect(out).not.toMatch(/CLOCK OFF/);
    const st = await app.db.selectFrom('mon_sensor_state').select('at').executeTakeFirstOrThrow();
    expect(Math.abs(st.at - Date.now())).toBeLessThan(60_000);
    expect(await run('alerts')).not.toMatch(/CLOCK SKEW/);
  }, 60_000);
});
