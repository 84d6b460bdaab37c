// `switchboard doctor`: every row against the real thing — a migrated SQLite store (and one that is not), the
// Slack, Telegram and Discord protocol fakes (auth.test, getMe, /users/@me with good and bad tokens), the real
// dhcpd checker, a real SMTP server (smtp-server) and a closed port, real file modes. One all-good run (exit 0,
// warnings allowed, through the built CLI), and a failing row with its fix for each check. No token is printed.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.js';
import { features } from '../src/features.js';
import { openStore } from '../src/store/db.js';
import { doctorExitCode, formatDoctor, runDoctor, type DoctorRow } from '../src/doctor/doctor.js';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/env.js';
import { SlackFake } from './fakes/slack-fake.js';
import { TelegramFake } from './fakes/telegram-fake.js';
import { DiscordFake } from './fakes/discord-fake.js';

const closedPort = async (): Promise<number> => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
};

describe('switchboard doctor', () => {
  let t: TestApp;
  let slack: SlackFake;
  let telegram: TelegramFake;
  let discord: DiscordFake;
  let smtp: SMTPServer;
  let smtpPort = 0;
  let goodEnv: Record<string, string>;
  const secrets = () => [slack.botToken, telegram.token, discord.token];

  const config = (env: Record<string, string> = {}, overrides: Record<string, unknown> = {}): Config =>
    loadConfig({ env: { ...goodEnv, ...env }, sections: features.flatMap((f) => (f.config ? [f.config] : [])), overrides: { dataDir: t.dataDir, 'dhcp.backends.isc.enabled': true, ...overrides } });
  const doctor = (env: Record<string, string> = {}, overrides: Record<string, unknown> = {}) => runDoctor({ loadConfig: () => config(env, overrides), secretFiles: [], timeoutMs: 5000 });
  const row = (rows: DoctorRow[], check: string) => {
    const r = rows.find((x) => x.check === check);
    if (!r) throw new Error(`no row ${check} in:\n${formatDoctor(rows)}`);
    return r;
  };
  const failing = (rows: DoctorRow[]) => rows.filter((r) => r.status === 'FAIL').map((r) => r.check);

  beforeAll(async () => {
    t = await makeTestApp();
    slack = await new SlackFake().start();
    telegram = await new TelegramFake().start();
    discord = await new DiscordFake([{ id: '900000000000000001', channels: ['900000000000000011'] }]).start();
    smtp = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], onData: (s, _x, cb) => s.on('end', () => cb()).resume() });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    smtpPort = (smtp.server.address() as net.AddressInfo).port;
    goodEnv = {
      SWITCHBOARD_PUBLIC_URL: 'http://10.20.0.5:8080',
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_APP_TOKEN: slack.appToken,
      SLACK_API_URL: slack.apiUrl,
      SLACK_ALLOWED_WORKSPACES: 'T0TEAM',
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.url,
      TELEGRAM_ALLOWED_CHATS: '-100123',
      DISCORD_BOT_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.appId,
      DISCORD_API_URL: discord.apiUrl,
      DISCORD_ALLOWED_GUILDS: '900000000000000001',
      SWITCHBOARD_SMTP_HOST: '127.0.0.1',
      SWITCHBOARD_SMTP_PORT: String(smtpPort),
    };
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all([slack?.close(), telegram?.close(), discord?.close()]);
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
  });

  it('all good: every row OK, exit 0 from the built CLI, and no token in the output', async () => {
    const rows = await doctor();
    expect(failing(rows), formatDoctor(rows)).toEqual([]);
    expect(rows.map((r) => r.check)).toEqual([
      'config valid',
      'store reachable and migrated',
      'public URL',
      'Discord token',
      'Discord allow-list',
      'Slack token',
      'Slack allow-list',
      'Telegram token',
      'Telegram allow-list',
      'isc checker',
      'SMTP',
      'data dir',
      'secrets files 0600',
    ]);
    expect(
      rows.every((r) => r.status === 'OK'),
      formatDoctor(rows),
    ).toBe(true);
    expect(row(rows, 'Slack token').detail).toMatch(/auth\.test: bot switchboard/);
    expect(row(rows, 'isc checker').detail).toMatch(/dhcpd$/);
    const cli = await runCli(['doctor'], { ...goodEnv, SWITCHBOARD_DATA_DIR: t.dataDir, SWITCHBOARD__dhcp__backends__isc__enabled: 'true' });
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^OK {4}config valid/m);
    expect(cli.stdout).toMatch(/all checks passed/);
    for (const s of secrets()) expect(cli.stdout).not.toContain(s);
  });

  it('config not valid: one FAIL row with the key, exit 1', async () => {
    const rows = await doctor({ SWITCHBOARD_HTTP_PORT: 'eighty' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ check: 'config valid', status: 'FAIL' });
    expect(rows[0]!.detail).toMatch(/http\.port/);
    expect(rows[0]!.fix).toBeTruthy();
    expect(doctorExitCode(rows)).toBe(1);
  });

  it('store: none yet, not migrated, unreachable', async () => {
    const fresh = tmpDir();
    let r = row(await doctor({}, { dataDir: fresh }), 'store reachable and migrated');
    expect(r).toMatchObject({ status: 'FAIL', fix: expect.stringMatching(/switchboard migrate/) });
    expect(r.detail).toMatch(/does not exist/);
    const store = openStore({ sqlitePath: path.join(fresh, 'switchboard.sqlite') });
    await store.close();
    r = row(await doctor({}, { dataDir: fresh }), 'store reachable and migrated');
    expect(r.detail).toMatch(/reachable; \d+ migration\(s\) not applied \(0001_core/);
    expect(r.fix).toMatch(/switchboard migrate/);
    r = row(await doctor({ DATABASE_URL: `mysql://root@127.0.0.1:${await closedPort()}/test` }), 'store reachable and migrated');
    expect(r).toMatchObject({ status: 'FAIL', fix: expect.stringMatching(/DATABASE_URL/) });
    expect(r.detail).toMatch(/ECONNREFUSED/);
    fs.rmSync(fresh, { recursive: true, force: true });
  });

  it('public URL: not set, or loopback', async () => {
    const unset = config();
    delete unset.http.publicUrl;
    let r = row(await runDoctor({ loadConfig: () => unset, secretFiles: [] }), 'public URL');
    expect(r).toMatchObject({ status: 'FAIL', fix: expect.stringMatching(/SWITCHBOARD_PUBLIC_URL/) });
    r = row(await doctor({ SWITCHBOARD_PUBLIC_URL: 'http://localhost:8080' }), 'public URL');
    expect(r).toMatchObject({ status: 'FAIL' });
    expect(r.detail).toMatch(/loopback/);
  });

  it('chat: each platform with a token its API refuses, and an empty allow-list; the tokens are never printed', async () => {
    const bad = { SLACK_BOT_TOKEN: 'xoxb-wrong-wrong-wrong', TELEGRAM_BOT_TOKEN: '999:wrong-token-wrong', DISCORD_BOT_TOKEN: 'wrong.discord.token' };
    const rows = await doctor({ ...bad, SLACK_ALLOWED_WORKSPACES: '', TELEGRAM_ALLOWED_CHATS: '', DISCORD_ALLOWED_GUILDS: '' });
    expect(row(rows, 'Slack token')).toMatchObject({ status: 'FAIL', detail: 'auth.test refused the bot token: invalid_auth' });
    expect(row(rows, 'Telegram token')).toMatchObject({ status: 'FAIL', detail: 'getMe refused the bot token: Unauthorized' });
    expect(row(rows, 'Discord token')).toMatchObject({ status: 'FAIL', detail: '/users/@me refused the bot token: 401: Unauthorized' });
    for (const c of ['Slack allow-list', 'Telegram allow-list', 'Discord allow-list'])
      expect(row(rows, c)).toMatchObject({ status: 'FAIL', fix: expect.stringMatching(/^set (SLACK|TELEGRAM|DISCORD)_ALLOWED_/) });
    for (const c of ['Slack token', 'Telegram token', 'Discord token']) expect(row(rows, c).fix).toBeTruthy();
    const text = formatDoctor(rows);
    for (const s of [...Object.values(bad), ...secrets()]) expect(text).not.toContain(s);
  });

  it('DHCP/proxy: a checker that is not installed; an apply agent that is not connected', async () => {
    let r = row(await doctor({}, { 'dhcp.backends.isc.check': ['/nonexistent/dhcpd', '-t', '-cf', '{wrapper}'] }), 'isc checker');
    expect(r).toMatchObject({ status: 'FAIL', fix: expect.stringMatching(/isc-dhcp-server.*role=apply targets=isc/) });
    await t.app.db
      .insertInto('mon_nodes')
      .values({
        name: 'dhcp-far',
        token_hash: 'x'.repeat(64),
        enroll_hash: null,
        enroll_expires: null,
        enabled: 1,
        last_seen: Date.now() - 3_600_000,
        facts: null,
        stale: 0,
        created_at: Date.now(),
        clock_skew: null,
        business_hours: null,
        role: 'apply',
        apply_targets: 'proxy',
      })
      .execute();
    try {
      const rows = await doctor({}, { 'dhcp.backends.proxy.enabled': true, 'dhcp.backends.proxy.check': ['/nonexistent/squid'] });
      r = row(rows, 'apply agent dhcp-far');
      expect(r).toMatchObject({ status: 'FAIL', detail: 'applies proxy; not heard from for 60 min', fix: expect.stringMatching(/systemctl status switchboard-agent/) });
      // The proxy backend is the agent's: the bot's own squid checker is not asked for.
      expect(rows.find((x) => x.check === 'proxy checker')).toBeUndefined();
      await t.app.db.updateTable('mon_nodes').set({ last_seen: Date.now() }).where('name', '=', 'dhcp-far').execute();
      expect(row(await doctor(), 'apply agent dhcp-far').status).toBe('OK');
    } finally {
      await t.app.db.deleteFrom('mon_nodes').where('name', '=', 'dhcp-far').execute();
    }
  });

  it('SMTP: nothing listening', async () => {
    const r = row(await doctor({ SWITCHBOARD_SMTP_PORT: String(await closedPort()) }), 'SMTP');
    expect(r).toMatchObject({ status: 'FAIL', fix: expect.stringMatching(/SWITCHBOARD_SMTP_HOST/) });
    expect(r.detail).toMatch(/ECONNREFUSED/);
  });

  it('data dir writable by everyone; a secrets file readable by others', async () => {
    const key = path.join(t.dataDir, 'provision.key');
    fs.chmodSync(t.dataDir, 0o777);
    fs.chmodSync(key, 0o644);
    try {
      const rows = await doctor();
      expect(row(rows, 'data dir')).toMatchObject({ status: 'FAIL', fix: `chmod 700 ${t.dataDir}` });
      expect(row(rows, 'secrets files 0600')).toMatchObject({ status: 'FAIL', detail: `readable by others: ${key} (644)`, fix: `chmod 600 ${key}` });
      expect(doctorExitCode(rows)).toBe(1);
      const cli = await runCli(['doctor'], { ...goodEnv, SWITCHBOARD_DATA_DIR: t.dataDir });
      expect(cli.code).toBe(1);
      expect(cli.stdout).toMatch(/^FAIL {2}data dir/m);
      expect(cli.stdout).toMatch(/fix: chmod 600 /);
    } finally {
      fs.chmodSync(t.dataDir, 0o700);
      fs.chmodSync(key, 0o600);
    }
  });

  it('the doctor chat command is for admins and answers with the table', async () => {
    const denied = await t.run('doctor', { user: 'someone' });
    expect(denied.exitCode).not.toBe(0);
    const r = await t.run('doctor');
    expect(r.replies.join('\n')).toMatch(/config valid[\s\S]*store reachable and migrated[\s\S]*public URL/);
  });
});
