import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/env.js';

describe('switchboard CLI', () => {
  const env = () => ({ SWITCHBOARD_DATA_DIR: tmpDir() });

  it('exec help lists the commands and exits 0', async () => {
    const r = await runCli(['exec', 'help'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Switchboard commands/);
    expect(r.stdout).toMatch(/Access and audit .*help users/);
  });

  it('exec nosuch exits 2 and suggests the nearest command', async () => {
    const r = await runCli(['exec', 'nosuch'], env());
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/Unknown command "nosuch"\. Did you mean `\w+/);
    const r2 = await runCli(['exec', 'jbos'], env());
    expect(r2.stdout).toMatch(/Did you mean .*`jobs`/);
  });

  it('exec exits 2 on bad arguments and 1 on a failed command', async () => {
    const e = env();
    expect((await runCli(['exec', 'job', 'abc'], e)).code).toBe(2);
    const failed = await runCli(['exec', 'job', '42'], e);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/no job #42/);
  });

  it('exec waits for a job and prints its result', async () => {
    const r = await runCli(['exec', 'selftest', '1'], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✅ Job #1 selftest \(1 s\): done/);
  });

  it('exec passes --flags after the command line to the bot command, with attached files', async () => {
    const dir = tmpDir();
    const csv = path.join(dir, 'hosts.csv');
    fs.writeFileSync(csv, 'mac,ip,hostname\n00:11:22:33:44:01,10.0.0.11,desk-1\n00:11:22:33:44:02,10.0.0.12,desk-2\n00:11:22:33:44:03,10.0.0.13,desk-3\n');
    const e = { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD__dhcp__subnets: '[{"cidr":"10.0.0.0/24","pool":"10.0.0.100-10.0.0.200"}]' };
    const r = await runCli(['exec', '--file', csv, 'dhcp', 'import', '--dry-run'], e);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Dry run, nothing written: 3 added/);
    const list = await runCli(['exec', 'dhcp', 'list'], e);
    expect(list.stdout).not.toMatch(/desk-1/);
  });

  it('exec - reads the command line from standard input; a password among the arguments is warned about', async () => {
    const e = env();
    const piped = await runCli(['exec', '-'], e, { input: 'whoami\n' });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toMatch(/cli/);
    expect(piped.stderr).toBe('');
    const audit = await runCli(['exec', 'audit', '3'], e);
    expect(audit.stdout).toMatch(/ok\s+whoami/);
    // A password on the command line: the command still runs, with a warning that points at `exec -`.
    const inline = await runCli(['exec', 'provision', 'fanvil-x1sg', 'mac=0c:38:3e:12:34:56', 'ext=1001', 'server=pbx.example.lan', 'password=Secret-Pw-1', '--dry-run'], e);
    expect(inline.stderr).toMatch(/warning: a password in the arguments is visible .*ps.*switchboard exec -/);
    expect(inline.stderr).not.toContain('Secret-Pw-1');
    // The same through standard input: no warning, and the password is not in this process's arguments.
    const stdin = await runCli(['exec', '-'], e, { input: 'provision fanvil-x1sg mac=0c:38:3e:12:34:56 ext=1001 server=pbx.example.lan password=Secret-Pw-1 --dry-run\n' });
    expect(stdin.stderr).not.toMatch(/warning/);
    expect(stdin.stdout).toMatch(/Dry run/i);
    expect(stdin.code).toBe(inline.code);
    for (const r of [inline, stdin]) expect(r.stdout).toMatch(/0c:38:3e:12:34:56\s+1001\s.*added/);
    const empty = await runCli(['exec', '-'], e, { input: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/standard input held no command line/);
  });

  it('console-user without --role makes a viewer', async () => {
    const e = env();
    const u = await runCli(['console-user', 'carol'], e);
    expect(u.code).toBe(0);
    expect(u.stdout).toMatch(/console user carol created \(role viewer\)/);
    const users = await runCli(['exec', 'users', 'list'], e);
    expect(users.stdout).toMatch(/console:carol\s+viewer/);
  });

  it('audits exec commands with platform cli', async () => {
    const e = env();
    await runCli(['exec', '--as', 'ops', 'whoami'], e);
    const r = await runCli(['exec', 'audit', '3'], e);
    expect(r.stdout).toMatch(/cli:ops\s+ok\s+whoami/);
  });

  it('stops with a message naming the key, the value and what is expected on a bad config', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'http:\n  port: 99999\nlog:\n  level: loud\nbogus: 1\n');
    const r = await runCli(['exec', '--config', file, 'help'], { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_LOG_LEVEL: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config key "http\.port" has value 99999: must be <= 65535/);
    expect(r.stderr).toMatch(/config key "log\.level" has value "loud": must be one of "trace"/);
    expect(r.stderr).toMatch(/config key "bogus" is not known/);
    const envBad = await runCli(['exec', 'help'], { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_HTTP_PORT: 'eighty' });
    expect(envBad.code).toBe(2);
    expect(envBad.stderr).toMatch(/config key "http\.port" has value "eighty": must be integer/);
  });

  it('migrate, console-user and version work', async () => {
    const e = env();
    const m = await runCli(['migrate'], e);
    expect(m.code).toBe(0);
    expect(m.stdout).toMatch(/applied \d+ migration/);
    expect((await runCli(['migrate'], e)).stdout).toMatch(/up to date/);
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'pw'), 'correct horse battery\n');
    const u = await runCli(['console-user', 'alice', '--password-file', path.join(dir, 'pw'), '--role', 'operator'], e);
    expect(u.code).toBe(0);
    expect(u.stdout).toMatch(/console user alice created \(role operator\)/);
    expect((await runCli(['console-user', 'alice'], e)).stderr).toMatch(/exists; use --reset/);
    const g = await runCli(['console-user', 'alice', '--reset'], e);
    expect(g.stdout).toMatch(/reset .*password: \S{20}/);
    const v = await runCli(['version'], e);
    expect(v.stdout).toMatch(/^switchboard \d+\.\d+\.\d+/);
  });
});
