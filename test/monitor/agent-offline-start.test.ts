// An agent (re)started while the bot is unreachable — a PBX reboot during a bot outage — runs the sensor list
// it saved (with its ETag, mode 0600, in its spool dir) instead of nothing; the results wait in the spool and
// reach the bot once it answers. A list saved for another bot or node is not used.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { Agent, type AgentConfig } from '../../src/agent/agent.js';
import { SensorCache } from '../../src/agent/sensor-cache.js';

const dir = tmpDir('sb-mon-offline-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A TCP relay in front of the bot that can be switched off (connections refused) and on again, on one port. */
class Relay {
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  port = 0;
  constructor(private target: number) {}
  async up(): Promise<void> {
    const s = net.createServer((c) => {
      const b = net.connect(this.target, '127.0.0.1');
      for (const x of [c, b]) {
        this.sockets.add(x);
        x.on('close', () => this.sockets.delete(x));
        x.on('error', () => undefined);
      }
      c.pipe(b).pipe(c);
    });
    await new Promise<void>((r) => s.listen(this.port, '127.0.0.1', r));
    this.port = (s.address() as net.AddressInfo).port;
    this.server = s;
  }
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const x of this.sockets) x.destroy();
    await new Promise((r) => (s ? s.close(r) : r(undefined)));
  }
}

describe('agent started while the bot is unreachable', () => {
  let t: TestApp;
  let relay: Relay;
  const agents: Agent[] = [];
  beforeAll(async () => {
    t = await makeTestApp({ engine: 'sqlite', listen: true });
    relay = new Relay(Number(new URL(t.app.baseUrl()).port));
    await relay.up();
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await relay?.down();
    await t?.close();
  });

  it('runs the saved sensor list; its results upload when the bot is back', async () => {
    expect((await t.run('monitor sensor add saved kind=nagios command="/usr/lib/nagios/plugins/check_dummy 0 from-the-saved-list" interval=1s retention=history:1d')).exitCode).toBe(0);
    const svc = t.app.services.monitor;
    await svc.createEnrollment('pbx-offline');
    const e = (await svc.enroll((await svc.createEnrollment('pbx-offline', true)).code))!;
    expect((await t.run('monitor assign saved pbx-offline')).exitCode).toBe(0);
    const d = path.join(dir, 'agent');
    const cfg: AgentConfig = {
      server: `http://127.0.0.1:${relay.port}`,
      nodeId: e.nodeId,
      token: e.token,
      spoolDir: path.join(d, 'spool'),
      spoolMaxBytes: 1 << 20,
      cdrPath: path.join(d, 'Master.csv'),
      cdrPollMs: 1000,
      configPollMs: 500,
      heartbeatMs: 500,
      backoffMaxMs: 1000,
      batchSize: 200,
      asterisk: '/bin/false',
      cdrTimezone: 'local',
    };
    const records = async () => t.app.db.selectFrom('mon_records').select(['at', 'output', 'result_id']).where('node_id', '=', e.nodeId).orderBy('at').execute();

    let a = new Agent(cfg, { log: () => {} });
    agents.push(a);
    await a.start();
    await until('a first result stored', async () => (await records()).length > 0);
    await a.stop();
    const saved = path.join(cfg.spoolDir, 'sensors.json');
    expect(fs.statSync(saved).mode & 0o777).toBe(0o600);
    const file = JSON.parse(fs.readFileSync(saved, 'utf8')) as { etag: string; sensors: { name: string }[] };
    expect(file.etag).toMatch(/\S/);
    expect(file.sensors.map((s) => s.name)).toEqual(['saved']);

    await relay.down();
    const downAt = Date.now();
    const logs: string[] = [];
    a = new Agent(cfg, { log: (_l, msg) => void logs.push(msg) });
    agents.push(a);
    await a.start();
    expect(logs).toContain('running the saved sensor list until the bot answers');
    expect(logs).toContain('config fetch failed; running the saved sensor list');
    const spooledSince = (t0: number) =>
      fs
        .readFileSync(path.join(cfg.spoolDir, 'results.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { at: number })
        .filter((r) => r.at >= t0).length;
    await until('three results spooled while the bot is unreachable', () => spooledSince(downAt) >= 3, 20_000);
    expect((await records()).filter((r) => r.at >= downAt)).toHaveLength(0);

    await relay.up();
    await until('the spool drained', () => a.spoolState.size === 0, 20_000);
    const during = (await records()).filter((r) => r.at >= downAt);
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(during.every((r) => r.output === 'OK: from-the-saved-list')).toBe(true);
    expect(new Set(during.map((r) => r.result_id)).size).toBe(during.length);
  }, 60_000);

  it('a list saved for another node or bot, or an unreadable one, is not used', () => {
    const d = path.join(dir, 'cache');
    fs.mkdirSync(d, { recursive: true });
    const sensors = [{ id: 3, name: 'x', kind: 'disk', args: {}, intervalMs: 1000, timeoutMs: 1000 }];
    new SensorCache(d, 'http://bot-a', 1).save('"e1"', sensors);
    expect(new SensorCache(d, 'http://bot-a', 1).load().saved?.sensors).toEqual(sensors);
    expect(new SensorCache(d, 'http://bot-a', 2).load()).toEqual({ problem: 'saved for another bot or node (http://bot-a, node 1)' });
    expect(new SensorCache(d, 'http://bot-b', 1).load().saved).toBeUndefined();
    fs.writeFileSync(path.join(d, 'sensors.json'), '{"server":"http://bot-a","nodeId":1,"sensors":[{"id":"x"}]}');
    expect(new SensorCache(d, 'http://bot-a', 1).load()).toEqual({ problem: 'not a sensor list' });
    fs.writeFileSync(path.join(d, 'sensors.json'), '{"torn');
    expect(new SensorCache(d, 'http://bot-a', 1).load().problem).toMatch(/^unreadable: /);
    expect(new SensorCache(path.join(dir, 'none'), 'http://bot-a', 1).load()).toEqual({});
  });
});
