// The agent where it lives: a clean Debian 12 root made with debootstrap (.ci/debian12-root.sh, cached outside the
// clone), Debian's own nodejs 18 in it. The .deb installs there with dpkg (its user joins the asterisk group,
// agent.yaml is 0600), enrols against the real bot running on the host on 127.0.0.1 (a chroot shares the
// host's network) and its agent, started as the unit's User= with the unit's ExecStart= (no systemd in a
// chroot), reports a result and its version. The single file (switchboard-agent.mjs) under the same Node 18:
// enrol, push a result, spool while the bot is down, replay once it is back. Last, the package's life cycle:
// an upgrade keeps the enrolled, edited config and the state; remove keeps them; purge removes them.
// Needs root, debootstrap, dpkg-deb and lintian: skipped without them, failing instead when CI=true.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { features } from '../../src/features.js';
import { VERSION } from '../../src/version.js';
import { bundleAgent } from '../../src/build/bundle-agent.js';
import { buildDeb } from '../../src/build/deb.js';
import { RecordingAdapter } from '../helpers/app.js';
import { ROOT, tmpDir } from '../helpers/env.js';
import { until as untilEvery } from '../helpers/wait.js';

const until = <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000) => untilEvery(what, fn, timeoutMs, 200);

function missing(): string[] {
  const out: string[] = [];
  if (process.getuid?.() !== 0) out.push('root');
  for (const t of ['debootstrap', 'dpkg-deb', 'lintian', 'chroot', 'setpriv']) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    } catch {
      out.push(t);
    }
  }
  return out;
}
const lacking = missing();
if (lacking.length && process.env.CI) throw new Error(`packaging test needs ${lacking.join(', ')} (CI must install them: .ci/run)`);

/** `Key=value` lines of a unit file's [Service] section. */
function unitValue(unit: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(unit);
  if (!m) throw new Error(`${key}= missing from the unit`);
  return m[1]!.trim();
}

describe.skipIf(lacking.length > 0)("the agent on Debian 12 with Debian's Node 18 (debootstrap root)", () => {
  const dir = tmpDir('sb-deb12-');
  const root = path.join(dir, 'root');
  const dataDir = path.join(dir, 'data');
  const chat = new RecordingAdapter();
  const unit = fs.readFileSync(path.join(ROOT, 'docs/systemd/switchboard-agent.service'), 'utf8');
  let app: RunningApp | undefined;
  let url = '';
  let port = 0;
  let deb = '';
  let bundle = '';
  const agents: ChildProcess[] = [];
  const errs = new Map<ChildProcess, string>();

  // Asynchronous: the bot answering the agent runs in this process.
  const inRoot = async (args: string[]) => (await promisify(execFile)('chroot', [root, ...args], { encoding: 'utf8', timeout: 60_000 })).stdout;

  async function startBot(): Promise<void> {
    const config = loadConfig({
      env: {},
      sections: features.flatMap((f) => (f.config ? [f.config] : [])),
      overrides: { dataDir, 'http.host': '127.0.0.1', 'http.port': port, 'auth.admins': ['test:admin'], 'monitor.alertTargets': ['test:alerts'] },
    });
    const log = createLogger({
      level: 'warn',
      pretty: false,
      destination: new Writable({
        write(_c, _e, cb) {
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
    const res = await app!.dispatcher.handle({ platform: 'test', channel: 'C1', user: { id: 'admin', name: 'admin' }, text, files: [] }, { confirmed: true });
    const out = chat.messages
      .slice(before)
      .filter((m) => m.channel === 'C1')
      .map((m) => m.text)
      .join('\n');
    if (res.exitCode !== 0) throw new Error(`${text} -> ${res.exitCode}: ${out}`);
    return out;
  }

  async function enrolCode(node: string): Promise<string> {
    const before = chat.messages.length;
    await run(`monitor enroll ${node}`);
    const dm = chat.messages.slice(before).find((m) => m.dmTo === 'admin' && /--code (\S+)/.test(m.text))!;
    return /--code (\S+)/.exec(dm.text)![1]!;
  }

  /** Start a process inside the root as `user` (its groups from the root's /etc/group), like systemd's User=. */
  function startInRoot(user: string, argv: string[]): ChildProcess {
    const child = spawn('chroot', [root, 'setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    errs.set(child, '');
    child.stderr!.on('data', (d) => errs.set(child, errs.get(child)! + String(d)));
    agents.push(child);
    return child;
  }

  async function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode) return;
    const done = new Promise((r) => child.once('close', r));
    child.kill('SIGTERM');
    await done;
  }

  async function storedResults(node: string): Promise<{ result_id: string | null; at: number; status: number; output: string }[]> {
    return app!.db
      .selectFrom('mon_records')
      .innerJoin('mon_sensors', 'mon_sensors.id', 'mon_records.sensor_id')
      .select(['mon_records.result_id', 'mon_records.at', 'mon_records.status', 'mon_records.output'])
      .where('mon_sensors.name', '=', `tcp-${node}`)
      .execute() as never;
  }

  beforeAll(async () => {
    // The bundle and the .deb, built as `npm run package` builds them (into this test's own directory).
    const out = path.join(dir, 'packages');
    const b = await bundleAgent({ root: ROOT, outfile: path.join(out, 'switchboard-agent.mjs'), version: VERSION });
    deb = buildDeb({ root: ROOT, bundle: b.file, version: VERSION, outDir: out });
    bundle = b.file;
    execFileSync('bash', [path.join(ROOT, '.ci/debian12-root.sh'), root], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.copyFileSync(deb, path.join(root, 'tmp', path.basename(deb)));
    fs.mkdirSync(path.join(root, 'opt/sb'), { recursive: true });
    fs.copyFileSync(b.file, path.join(root, 'opt/sb/switchboard-agent.mjs'));
    await startBot();
  }, 600_000);

  afterAll(async () => {
    for (const a of agents) a.kill('SIGKILL');
    await app?.close().catch(() => undefined);
    // Nothing is mounted in the root (the agent needs no /proc here), so it is removed as plain files.
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the root runs Debian's Node 18 and lintian finds nothing in the .deb", async () => {
    expect(await inRoot(['node', '--version'])).toMatch(/^v18\./);
    expect(await inRoot(['dpkg-query', '-W', '-f=${Version}', 'nodejs'])).toMatch(/^18\.[0-9.]+\+dfsg-.*deb12/);
    const l = execFileSync('lintian', ['-I', '--pedantic', deb], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(l.trim()).toBe('');
  });

  it('the .deb installs: own user in the asterisk group, 0600 config, state dir, /usr/bin/switchboard-agent', async () => {
    await inRoot(['groupadd', '--system', 'asterisk']);
    await inRoot(['dpkg', '-i', `/tmp/${path.basename(deb)}`]);
    expect((await inRoot(['id', '-nG', 'switchboard-agent'])).trim().split(' ').sort()).toEqual(['asterisk', 'switchboard-agent']);
    expect((await inRoot(['stat', '-c', '%a %U', '/etc/switchboard/agent.yaml'])).trim()).toBe('600 switchboard-agent');
    expect((await inRoot(['stat', '-c', '%a %U', '/var/lib/switchboard-agent'])).trim()).toBe('700 switchboard-agent');
    expect((await inRoot(['switchboard-agent', '--version'])).trim()).toBe(VERSION);
    expect(await inRoot(['dpkg-query', '-L', 'switchboard-agent'])).toContain('/lib/systemd/system/switchboard-agent.service');
    expect(fs.readFileSync(path.join(root, 'lib/systemd/system/switchboard-agent.service'), 'utf8')).toBe(unit);
  });

  it('the installed agent enrols against the host bot and its result and version arrive', async () => {
    const code = await enrolCode('pbx-deb');
    // As the README says: `sudo switchboard-agent enroll …` (root) fills the packaged config, which keeps its owner.
    const r = await inRoot(['switchboard-agent', 'enroll', '--server', url, '--code', code]);
    expect(r).toMatch(/enrolled as node pbx-deb/);
    expect((await inRoot(['stat', '-c', '%a %U', '/etc/switchboard/agent.yaml'])).trim()).toBe('600 switchboard-agent');
    const cfg = fs.readFileSync(path.join(root, 'etc/switchboard/agent.yaml'), 'utf8');
    expect(cfg).toMatch(/^# Switchboard agent config/);
    expect(cfg).toMatch(/^token: \S+/m);
    fs.appendFileSync(path.join(root, 'etc/switchboard/agent.yaml'), 'heartbeatMs: 500\nconfigPollMs: 500\n');
    await run(`monitor sensor add tcp-pbx-deb kind=tcp host=127.0.0.1 port=${port} interval=1s retention=history:1d`);
    await run('monitor assign tcp-pbx-deb pbx-deb');

    const agent = startInRoot(unitValue(unit, 'User'), unitValue(unit, 'ExecStart').split(/\s+/));
    await until('a result from the packaged agent', async () => (await storedResults('pbx-deb')).find((x) => x.status === 0)).catch((e: Error) => {
      throw new Error(`${e.message}; agent stderr: ${errs.get(agent)}`);
    });
    const node = await run('monitor node pbx-deb');
    expect(node).toContain(`agent ${VERSION}`);
    expect(node).toMatch(/Debian GNU\/Linux 12/);
    expect(await run('monitor nodes')).toMatch(new RegExp(`pbx-deb.*${VERSION.replace(/\./g, '\\.')}`));
    await stop(agent);
    expect(errs.get(agent)).not.toMatch(/ExperimentalWarning|Error/);
    // What the agent wrote is its own: the spool in its state directory.
    expect(await inRoot(['find', '/var/lib/switchboard-agent', '-newer', '/etc/switchboard/agent.yaml', '!', '-user', 'switchboard-agent'])).toBe('');
  }, 90_000);

  it('the single file under Node 18: enrol, push a result, spool while the bot is down, replay', async () => {
    const code = await enrolCode('pbx-file');
    const cfgFile = '/opt/sb/agent.yaml';
    fs.writeFileSync(path.join(root, cfgFile.slice(1)), 'spoolDir: /opt/sb/spool\ncdrSource: off\nheartbeatMs: 500\nconfigPollMs: 500\nbackoffMaxMs: 1000\n');
    expect(await inRoot(['node', '/opt/sb/switchboard-agent.mjs', 'enroll', '--server', url, '--code', code, '--config', cfgFile])).toMatch(/enrolled as node pbx-file/);
    await run(`monitor sensor add tcp-pbx-file kind=tcp host=127.0.0.1 port=${port} interval=1s retention=history:1d`);
    await run('monitor assign tcp-pbx-file pbx-file');
    const agent = startInRoot('root', ['node', '/opt/sb/switchboard-agent.mjs', '--config', cfgFile]);
    await until('a result from the single file', async () => (await storedResults('pbx-file')).length > 0).catch((e: Error) => {
      throw new Error(`${e.message}; agent stderr: ${errs.get(agent)}`);
    });

    // The bot goes away: the agent keeps running its sensor and spools (the check itself now fails: CRITICAL).
    await app!.close();
    app = undefined;
    const spool = path.join(root, 'opt/sb/spool/results.jsonl');
    const spooled = () =>
      fs.existsSync(spool)
        ? fs
            .readFileSync(spool, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { id: string })
        : [];
    try {
      await until('results spooled while the bot is down', () => spooled().length >= 3, 30_000);
    } finally {
      await startBot();
    }
    const ids = spooled().map((r) => r.id);
    await until('the spooled results replayed once', async () => {
      const got = (await storedResults('pbx-file')).map((r) => r.result_id);
      return ids.every((id) => got.filter((g) => g === id).length === 1);
    });
    expect(errs.get(agent)).toMatch(/upload failed; spooling/);
    expect(errs.get(agent)).not.toMatch(/ExperimentalWarning/);
    await stop(agent);
  }, 120_000);
  it('upgrade keeps the edited config and the state; remove keeps them too; purge removes both and keeps the user', async () => {
    const cfg = path.join(root, 'etc/switchboard/agent.yaml');
    // Enrolled by the test above (token), and edited by the admin.
    expect(fs.readFileSync(cfg, 'utf8')).toMatch(/^token: \S+/m);
    fs.appendFileSync(cfg, '# edited by the admin: kept across upgrades\n');
    const config = fs.readFileSync(cfg);
    const state = (await inRoot(['find', '/var/lib/switchboard-agent', '-printf', '%P %u %m\n'])).split('\n').sort().join('\n');
    expect(state).toMatch(/\S/);
    const newer = `${VERSION}+upgrade1`;
    const next = buildDeb({ root: ROOT, bundle, version: newer, outDir: path.join(dir, 'packages-next') });
    fs.copyFileSync(next, path.join(root, 'tmp', path.basename(next)));

    await inRoot(['dpkg', '-i', `/tmp/${path.basename(next)}`]);
    expect(await inRoot(['dpkg-query', '-W', '-f=${Version} ${Status}', 'switchboard-agent'])).toBe(`${newer} install ok installed`);
    expect(fs.readFileSync(cfg).equals(config)).toBe(true);
    expect((await inRoot(['stat', '-c', '%a %U', '/etc/switchboard/agent.yaml'])).trim()).toBe('600 switchboard-agent');
    expect((await inRoot(['find', '/var/lib/switchboard-agent', '-printf', '%P %u %m\n'])).split('\n').sort().join('\n')).toBe(state);
    expect((await inRoot(['getent', 'passwd'])).split('\n').filter((l) => l.startsWith('switchboard-agent:'))).toHaveLength(1);
    expect((await inRoot(['id', '-nG', 'switchboard-agent'])).trim().split(' ').sort()).toEqual(['asterisk', 'switchboard-agent']);

    await inRoot(['dpkg', '--remove', 'switchboard-agent']);
    expect(fs.existsSync(path.join(root, 'usr/bin/switchboard-agent'))).toBe(false);
    expect(fs.readFileSync(cfg).equals(config)).toBe(true);
    expect(fs.existsSync(path.join(root, 'var/lib/switchboard-agent'))).toBe(true);

    await inRoot(['dpkg', '--purge', 'switchboard-agent']);
    expect(fs.existsSync(cfg)).toBe(false);
    expect(fs.existsSync(path.join(root, 'etc/switchboard'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'var/lib/switchboard-agent'))).toBe(false);
    expect(await inRoot(['dpkg-query', '-W', '-f=${db:Status-Abbrev}', 'switchboard-agent']).catch(() => 'unknown')).not.toMatch(/^i/);
    // The system user stays (Debian's practice: files it owned elsewhere would otherwise fall to a reused uid).
    expect((await inRoot(['getent', 'passwd', 'switchboard-agent'])).trim()).toMatch(/^switchboard-agent:x:\d+:\d+:Switchboard monitoring agent[^:]*:\/var\/lib\/switchboard-agent:/);
  }, 120_000);
});
