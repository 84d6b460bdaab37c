// Sensor kinds are files: src/agent/sensors/<kind>.ts, found by one loader (src/wire/sensor-kinds.ts) that the
// agent uses to run them and the bot to check `monitor sensor add … kind=<kind> key=value`. A new kind is one
// file: here a `file-age` kind written into a scratch directory is loaded by that same loader into the bot and
// into a real agent; the bot accepts a sensor of it, the agent (whose allowKinds names it) runs it, and the
// result is stored — with no other file changed. (test/packaging/bundle.test.ts checks the bundled agent has
// every file of the folder.) The bot and the wire module import none of the agent.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { Agent, loadAgentConfig } from '../../src/agent/agent.js';
import { AGENT_KINDS } from '../../src/agent/kinds.js';
import { runCheck } from '../../src/agent/checks.js';
import { SENSORS_DIR, SensorKinds, sensorFiles } from '../../src/wire/sensor-kinds.js';

const dir = tmpDir('sb-sensor-kinds-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A new kind, written as it would be in src/agent/sensors/file-age.ts (its type import is erased when loaded). */
const FILE_AGE = `// Seconds since a file was last modified (a backup that stopped being written).
import fs from 'node:fs';
import type { SensorKind } from '../../wire/sensor-kind.js';

export const sensor: SensorKind = {
  name: 'file-age',
  summary: 'seconds since a file was last modified',
  runs: 'builtin',
  args: {
    path: { summary: 'the file', required: true },
    warn: { summary: 'warning range in seconds', type: 'range' },
    crit: { summary: 'critical range in seconds', type: 'range' },
  },
  async check(s, kit) {
    const age = Math.max(0, Math.round((Date.now() - fs.statSync(s.args.path!).mtimeMs) / 1000));
    return kit.judge('FILE AGE', age, s.args, \`\${s.args.path} modified \${age}s ago\`, [{ label: 'age', value: age, uom: 's', warn: s.args.warn, crit: s.args.crit, min: 0 }]);
  },
};
`;

function scratchDir(name: string, files: Record<string, string>): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(d, f), text);
  return d;
}

describe('the sensor kind files', () => {
  it('every file of src/agent/sensors/ is a kind named as its file; helpers (_name.ts) are not kinds', () => {
    const files = sensorFiles(SENSORS_DIR);
    expect(files.length).toBeGreaterThan(0);
    expect(AGENT_KINDS.names()).toEqual(files.map((f) => f.replace(/\.ts$/, '')));
    expect(fs.readdirSync(SENSORS_DIR).filter((f) => f.startsWith('_')).length).toBeGreaterThan(0);
    for (const k of AGENT_KINDS.all()) expect(k.summary.length).toBeGreaterThan(5);
    // The agent vets the command line of exactly the plugin kinds.
    expect(
      AGENT_KINDS.all()
        .filter((k) => k.runs === 'plugin')
        .map((k) => k.name),
    ).toEqual(['nagios']);
  });

  it('a kind file imports only Node built-ins, types, and the _helpers beside it: the bot loads it without the agent', () => {
    for (const f of fs.readdirSync(SENSORS_DIR).filter((x) => x.endsWith('.ts'))) {
      const text = fs.readFileSync(path.join(SENSORS_DIR, f), 'utf8');
      for (const m of text.matchAll(/^import\s+(type\s+)?[^'"]*from\s+'([^']+)'/gm)) {
        const [, isType, from] = m;
        if (isType) continue;
        expect(`${f}: ${from}`).toMatch(/: (node:\w+|\.\/_[\w-]+\.js)$/);
      }
    }
  });

  // What the bot, the wire module and the agent may import of each other is checked with every other import
  // rule by test/architecture.test.ts (wire imports nothing; the bot reaches the agent only for Feature.cli).

  it('a bad kind file is refused by name: wrong name, no check, a plugin kind without a command argument, a second kind of a name', async () => {
    const bad = (name: string, file: string, body: string) => new SensorKinds().loadDir(scratchDir(name, { [file]: body }));
    await expect(bad('wrong-name', 'age.ts', FILE_AGE)).rejects.toThrow(/sensor kind file .*wrong-name\/age\.ts: its sensor\.name is "file-age", not "age" as its file name says/);
    await expect(bad('no-check', 'file-age.ts', FILE_AGE.replace(/async check[\s\S]*?\n {2}\},\n/, ''))).rejects.toThrow(/no-check\/file-age\.ts: sensor\.check is not a function/);
    await expect(bad('no-export', 'file-age.ts', 'export const kind = 1;\n')).rejects.toThrow(/no-export\/file-age\.ts: it exports no `sensor` object/);
    await expect(bad('plugin', 'file-age.ts', FILE_AGE.replace("runs: 'builtin'", "runs: 'plugin'"))).rejects.toThrow(/a plugin kind needs a required `command` argument/);
    await expect(bad('syntax', 'file-age.ts', 'export const sensor = {\n')).rejects.toThrow(/sensor kind file .*syntax\/file-age\.ts cannot be loaded/);
    await expect(SensorKinds.load(scratchDir('twice', { 'disk.ts': fs.readFileSync(path.join(SENSORS_DIR, 'disk.ts'), 'utf8') }))).rejects.toThrow(
      /twice\/disk\.ts: a sensor kind named disk is already loaded/,
    );
  });
});

describe.each(['sqlite', 'mysql'] as const)('a new sensor kind as one file, on %s', (engine) => {
  let t: TestApp;
  let agent: Agent | undefined;
  const kindsDir = scratchDir(`new-kind-${engine}`, { 'file-age.ts': FILE_AGE });
  const watched = path.join(dir, `backup-${engine}.tar`);
  beforeAll(async () => {
    fs.writeFileSync(watched, 'x');
    t = await makeTestApp({ engine, listen: true });
  });
  afterAll(async () => {
    await agent?.stop();
    await t?.close();
  });

  it('is unknown until its file is loaded; then the bot checks its arguments from the file', async () => {
    const before = await t.run(`monitor sensor add backup kind=file-age path=${watched}`);
    expect(before.exitCode).toBe(2);
    expect(before.replies.join('\n')).toMatch(/kind=file-age: no such sensor kind \(kinds: .*disk.*nagios.*\)/);

    await t.app.services.monitor.kinds.loadDir(kindsDir);
    expect((await t.run('monitor sensor kinds')).replies.join('\n')).toMatch(/file-age\s+seconds since a file was last modified\s+path=… \(required\), warn, crit/);
    expect((await t.run('monitor sensor kinds file-age')).replies.join('\n')).toContain('path=…  the file (required)');
    const missing = await t.run('monitor sensor add backup kind=file-age crit=~:3600');
    expect(missing.exitCode).toBe(2);
    expect(missing.replies.join('\n')).toMatch(/kind=file-age needs path=…: the file/);
    const unknown = await t.run(`monitor sensor add backup kind=file-age path=${watched} host=x`);
    expect(unknown.replies.join('\n')).toMatch(/host=x: kind file-age takes no argument host \(its arguments: path, warn, crit\)/);
    const add = await t.run(`monitor sensor add backup kind=file-age path=${watched} warn=~:3600 crit=~:86400 interval=1s retention=history:1d`);
    expect(add.exitCode).toBe(0);
    expect(add.replies.join('\n')).not.toMatch(/may refuse it/);
  });

  it("the built-in kinds' arguments are checked the same way, on add, edit and a node's overrides", async () => {
    const replies = async (line: string) => {
      const r = await t.run(line);
      return `${r.exitCode} ${r.replies.join('\n').replace(/^⚠️ /, '')}`;
    };
    expect(await replies('monitor sensor add t1 kind=tcp port=99999')).toMatch(/^2 port=99999: expected a whole number from 1 to 65535/);
    expect(await replies('monitor sensor add t1 kind=tcp')).toMatch(/^2 kind=tcp needs port=…: TCP port/);
    expect(await replies('monitor sensor add l1 kind=load per=7 warn=abc')).toMatch(
      /^2 per=7: expected one of 1, 5, 15 \(SB_USAGE\)\nwarn=abc: range abc: "abc" is not a number \(Nagios range syntax/,
    );
    expect(await replies('monitor sensor add p1 kind=ping host=-oProxyCommand=x')).toMatch(/^2 host=-oProxyCommand=x: expected a host name or address/);
    expect(await replies('monitor sensor add n1 kind=nagios command=""')).toMatch(/^2 command=: must not be empty/);
    expect(await replies('monitor sensor add t1 kind=tcp port=5060 interval=1h')).toMatch(/^0 Sensor t1 \(tcp\) added/);
    expect(await replies('monitor sensor edit t1 port=abc')).toMatch(/^2 port=abc: expected a whole number/);
    expect(await replies('monitor sensor edit t1 crit=~:2')).toMatch(/^0 /);
    await t.app.services.monitor.createEnrollment('pbx-args');
    expect(await replies('monitor assign t1 pbx-args asterisk=/opt/asterisk')).toMatch(/^2 asterisk=\/opt\/asterisk: kind tcp takes no argument asterisk \(its arguments: host, port, warn, crit\)/);
    expect(await replies('monitor sensor add p2 kind=ping host=10.0.0.1 command=/usr/bin/ping')).toMatch(/^0 .*may refuse it/);
    expect(await replies('monitor assign t1 pbx-args host=10.0.0.2')).toMatch(/^0 Sensor t1 assigned to pbx-args\.$/);
  });

  it('an agent that loads the same file runs it (allowKinds names it) and the result is stored', async () => {
    const svc = t.app.services.monitor;
    await svc.createEnrollment('pbx-new-kind');
    const e = (await svc.enroll((await svc.createEnrollment('pbx-new-kind', true)).code))!;
    expect((await t.run('monitor assign backup pbx-new-kind')).exitCode).toBe(0);
    const kinds = await SensorKinds.load(kindsDir);
    const file = path.join(dir, `agent-${engine}.yaml`);
    fs.writeFileSync(
      file,
      `server: ${t.app.baseUrl()}\nnodeId: ${e.nodeId}\ntoken: ${e.token}\nspoolDir: ${path.join(dir, `spool-${engine}`)}\ncdrSource: off\nconfigPollMs: 500\nheartbeatMs: 500\nallowKinds: [file-age, disk]\n`,
    );
    expect(() => loadAgentConfig(file)).toThrow(/allowKinds: unknown kind "file-age"/); // the agent's own kinds do not have it
    agent = new Agent(loadAgentConfig(file, kinds), { kinds, log: () => {} });
    await agent.start();
    const rec = await until('a file-age record', async () => {
      const rows = await t.app.db.selectFrom('mon_records').select(['status', 'output', 'perfdata']).where('node_id', '=', e.nodeId).execute();
      return rows[0];
    });
    expect(rec).toMatchObject({ status: 0, output: expect.stringMatching(/^FILE AGE OK/) });
    expect(rec.output).toMatch(new RegExp(`^FILE AGE OK - ${watched.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} modified \\d+s ago$`));
    expect(JSON.parse(rec.perfdata!)).toEqual([expect.objectContaining({ label: 'age', uom: 's', warn: '~:3600', crit: '~:86400', min: 0 })]);
    expect((await t.run('monitor node pbx-new-kind')).replies.join('\n')).toMatch(/backup\s+OK\s+FILE AGE OK/);
  });
});

describe('running a kind', () => {
  it('an unknown kind, a check that throws, one that never ends and one with a malformed result are UNKNOWN, never an exception', async () => {
    const def = (kind: string, args: Record<string, string> = {}) => ({ id: 1, name: kind, kind, args, intervalMs: 60_000, timeoutMs: 200 });
    const kinds = await SensorKinds.load(
      scratchDir('misbehaving', {
        'throws.ts': "export const sensor = { name: 'throws', summary: 'always throws', runs: 'builtin', args: {}, async check() { throw new Error('no such file'); } };\n",
        'hangs.ts': "export const sensor = { name: 'hangs', summary: 'never answers', runs: 'builtin', args: {}, check: () => new Promise(() => {}) };\n",
        'sloppy.ts': "export const sensor = { name: 'sloppy', summary: 'a status out of range', runs: 'builtin', args: {}, check: async () => ({ status: 7, output: 'x' }) };\n",
      }),
    );
    expect(await runCheck(def('nope'), kinds)).toEqual({ status: 3, output: 'UNKNOWN - unknown sensor kind nope', perfdata: [] });
    expect(await runCheck(def('throws'), kinds)).toEqual({ status: 3, output: 'UNKNOWN - no such file', perfdata: [] });
    expect(await runCheck(def('hangs'), kinds)).toEqual({ status: 3, output: 'UNKNOWN - check timed out after 0.2s', perfdata: [] });
    expect(await runCheck(def('sloppy'), kinds)).toEqual({ status: 3, output: 'UNKNOWN - the sloppy check gave no {status 0..3, output, perfdata} result', perfdata: [] });
  });
});
