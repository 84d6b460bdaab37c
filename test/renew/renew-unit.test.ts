// Renewal building blocks: password policy, network parsing and the allow list, account naming, the
// inventory store on both engines, sweeping on loopback, dry runs.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { classesOf, generatePassword } from '../../src/renew/passwords.js';
import { checkAllowed, expandNetwork, pool, sweep } from '../../src/renew/scanner.js';
import { accountName, managedPatternProblem, managedRegex, readBootstrapPassword } from '../../src/renew/config.js';
import { connect } from '../../drivers/targets/linux-ssh.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { fakeSsh, type FakeSsh } from './fake-ssh.js';

/** Listeners that never accept (python: listen(0) with the one queue slot taken), so SYNs are dropped and probes time out. */
async function acceptless(port: number, hosts: string[]): Promise<ChildProcess> {
  const py = [
    'import socket, sys, time',
    'port = int(sys.argv[1]); keep = []',
    'for h in sys.argv[2:]:',
    '    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((h, port)); s.listen(0)',
    '    c = socket.socket(); c.setblocking(False); c.connect_ex((h, port)); keep += [s, c]',
    'time.sleep(0.2)',
    "print('ready', flush=True)",
    'sys.stdin.read()',
  ].join('\n');
  const p = spawn('python3', ['-c', py, String(port), ...hosts], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    p.stdout!.once('data', () => res());
    p.once('exit', (c) => rej(new Error(`accept-less listener exited ${c}`)));
  });
  return p;
}

/**
 * Count the scanner's probes in flight exactly, in-process: every socket net.connect makes for `port` counts
 * from its creation until it is destroyed (the probe's end), however loaded the machine is.
 */
function countProbes(port: number): { max: () => number; now: () => number; restore: () => void } {
  const real = net.connect;
  let inflight = 0;
  let max = 0;
  const spy = vi.spyOn(net, 'connect').mockImplementation(((...args: Parameters<typeof net.connect>) => {
    const sock = (real as (...a: unknown[]) => net.Socket).apply(net, args);
    const o = args[0] as { port?: number };
    if (typeof o === 'object' && o && Number(o.port) === port) {
      max = Math.max(max, ++inflight);
      let counted = true;
      const destroy = sock.destroy.bind(sock);
      sock.destroy = ((e?: Error) => {
        if (counted) {
          counted = false;
          inflight--;
        }
        return destroy(e);
      }) as typeof sock.destroy;
    }
    return sock;
  }) as typeof net.connect);
  return { max: () => max, now: () => inflight, restore: () => spy.mockRestore() };
}

describe('passwords', () => {
  it('follow the default policy: 16 chars, ≥3 classes, no look-alikes, no ":"', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const pw = generatePassword();
      expect(pw).toHaveLength(16);
      expect(classesOf(pw)).toBeGreaterThanOrEqual(3);
      expect(pw).not.toMatch(/[Il1O0o5S2Z|`'":\s]/);
      seen.add(pw);
    }
    expect(seen.size).toBe(500);
  });
  it('honour a custom policy and reject impossible ones', () => {
    const pw = generatePassword({ length: 24, classes: ['lower', 'digit'], minClasses: 2 });
    expect(pw).toMatch(/^[a-z0-9]{24}$/);
    expect(classesOf(pw)).toBe(2);
    expect(() => generatePassword({ classes: ['lower'], minClasses: 3 })).toThrow(/3 classes/);
  });
});

describe('networks and the allow list', () => {
  it('expands three octets (default 2..254, or range=a,b) and CIDRs', () => {
    expect(expandNetwork('192.168.122').hosts).toHaveLength(253);
    expect(expandNetwork('192.168.122', '3,10').hosts).toEqual(['3', '4', '5', '6', '7', '8', '9', '10'].map((o) => `192.168.122.${o}`));
    const c = expandNetwork('10.1.2.0/24');
    expect(c.hosts).toHaveLength(254);
    expect(c.hosts[0]).toBe('10.1.2.1');
    expect(expandNetwork('10.1.2.77/30').hosts).toEqual(['10.1.2.77', '10.1.2.78']);
    expect(expandNetwork('10.1.2.9').hosts).toEqual(['10.1.2.9']);
    expect(() => expandNetwork('10.1.2', '9,3')).toThrow(/range must be/);
    expect(() => expandNetwork('10.0.0.0/8')).toThrow(/too large/);
    expect(() => expandNetwork('pc-7.example')).toThrow(/not an IPv4 address/);
  });
  it('keeps a three-octet range inside 1..254 (no network or broadcast address)', () => {
    expect(expandNetwork('10.1.2', '1,254').hosts).toHaveLength(254);
    expect(() => expandNetwork('10.1.2', '0,5')).toThrow(/range must be "a,b" with 1 ≤ a ≤ b ≤ 254 \(got "0,5"\)/);
    expect(() => expandNetwork('10.1.2', '3,255')).toThrow(/1 ≤ a ≤ b ≤ 254/);
    expect(expandNetwork('10.1.2.0/24', '0,255').hosts).toHaveLength(254);
  });
  it('refuses hosts outside the allow list, naming them', () => {
    expect(() => checkAllowed(['192.168.122.5'], ['192.168.122.0/24'], 'x')).not.toThrow();
    expect(() => checkAllowed(['192.168.123.5'], ['192.168.122.0/24'], '192.168.123.5')).toThrow(/192\.168\.123\.5 is not on the renew allow list \(192\.168\.122\.0\/24\): 192\.168\.123\.5 refused/);
    expect(() => checkAllowed(['10.0.0.1'], [], 'x')).toThrow(/empty: set renew.allow/);
  });
});

describe('account names', () => {
  it('fill the pattern and derive the managed pattern from it', () => {
    expect(accountName('USER{site}{nnn}-{dddd}', 'SS', 6, 1291)).toBe('USERSS006-1291');
    const re = new RegExp(managedRegex({ accountPattern: 'USER{site}{nnn}-{dddd}', site: 'SS' }));
    expect(re.test('USERSS006-1291')).toBe(true);
    expect(re.test('USERSX006-1291')).toBe(false);
    expect(re.test('alice')).toBe(false);
    expect(managedRegex({ accountPattern: 'x', site: 'SS', managedPattern: '^old-' })).toBe('^old-');
  });
  it('refuse, at config load, a managed pattern that matches root or the SSH user', async () => {
    const ssh = { user: 'root', port: 22 };
    expect(managedPatternProblem({ accountPattern: 'USER{site}{nnn}-{dddd}', site: 'SS', ssh })).toBeNull();
    expect(managedPatternProblem({ accountPattern: 'x', site: 'SS', managedPattern: '.*', ssh })).toMatch(/renew\.managedPattern: the managed-account pattern "\.\*" matches "root"/);
    expect(managedPatternProblem({ accountPattern: 'x', site: 'SS', managedPattern: '^sb', ssh: { user: 'sbadmin', port: 22 } })).toMatch(/matches "sbadmin" \(renew\.ssh\.user\)/);
    expect(managedPatternProblem({ accountPattern: 'x', site: 'SS', managedPattern: '(', ssh })).toMatch(/not a valid regular expression/);
    expect(managedPatternProblem({ accountPattern: 'root', site: 'SS', managedPattern: '^USER', ssh })).toMatch(/renew\.accountPattern: "root" names the new account "root"/);
    await expect(makeTestApp({ overrides: { 'renew.managedPattern': '.*' } })).rejects.toThrow(/matches "root"/);
  });
  it('refuse, at config load, a managed pattern that is JavaScript-only syntax rather than the POSIX ERE grep -E runs', async () => {
    const ssh = { user: 'root', port: 22 };
    const p = (managedPattern: string) => managedPatternProblem({ accountPattern: 'x', site: 'SS', managedPattern, ssh });
    const head = (src: string) => `config renew.managedPattern: "${src}" is not a POSIX extended regular expression (the PCs match it with grep -E): `;
    expect(p('^USERSS\\d{3}-\\d{4}$')).toBe(`${head('^USERSS\\d{3}-\\d{4}$')}\\d is not POSIX ERE (write [0-9])`);
    expect(p('^USER\\w+$')).toBe(`${head('^USER\\w+$')}\\w is not POSIX ERE (write [A-Za-z0-9_])`);
    expect(p('^USER\\b')).toBe(`${head('^USER\\b')}\\b is not POSIX ERE`);
    expect(p('^USER(?!SS)')).toBe(`${head('^USER(?!SS)')}"(?" groups (lookarounds, non-capturing or named groups) are not POSIX ERE`);
    expect(p('^(?:USER)SS')).toMatch(/"\(\?" groups/);
    expect(p('^USER.*?$')).toBe(`${head('^USER.*?$')}the lazy quantifier "*?" is not POSIX ERE`);
    expect(p('^USER[0-9]{3}?$')).toMatch(/the lazy quantifier "\}\?"/);
    expect(p('^USER[\\d]$')).toMatch(/a backslash inside \[\.\.\.\] is a literal backslash in POSIX ERE/);
    // Portable ERE passes, including escaped punctuation, ] first in a bracket and character classes.
    for (const ok of ['^USERSS[0-9]{3}-[0-9]{4}$', '^old\\.acct[]x-]?$', '^lab[[:digit:]]+$', '^(a|b)+$', '^x\\?$']) expect(p(ok), ok).toBeNull();
    expect(managedPatternProblem({ accountPattern: 'U.{site}{nnn}-{dddd}', site: 'SS', ssh })).toBeNull();
    await expect(makeTestApp({ overrides: { 'renew.managedPattern': '^USERSS\\d+' } })).rejects.toThrow('\\d is not POSIX ERE (write [0-9])');
  });
  it('refuse a bootstrap password shorter than 8 characters, at start-up and on use', async () => {
    const dir = tmpDir('sb-boot-');
    try {
      const short = path.join(dir, 'short');
      fs.writeFileSync(short, 'abc1234\n');
      expect(() => readBootstrapPassword(short)).toThrow(/holds a password of 7 characters: at least 8 are required/);
      expect(() => readBootstrapPassword(path.join(dir, 'none'))).toThrow(/cannot read renew\.bootstrap\.passwordFile .*ENOENT/);
      fs.writeFileSync(path.join(dir, 'ok'), 'abcd1234\n');
      expect(readBootstrapPassword(path.join(dir, 'ok'))).toBe('abcd1234');
      await expect(makeTestApp({ overrides: { 'renew.bootstrap.passwordFile': short } })).rejects.toThrow(/at least 8 are required/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sweep on loopback', () => {
  it('lists exactly the hosts with a listener, with bounded concurrency', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const servers = await Promise.all(
      ['127.0.9.4', '127.0.9.9'].map(
        (h) =>
          new Promise<net.Server>((res) => {
            const s = net.createServer((c) => c.destroy());
            s.listen(port, h, () => res(s));
          }),
      ),
    );
    try {
      const r = await sweep(expandNetwork('127.0.9', '1,20').hosts, port, { concurrency: 4, timeoutMs: 500 });
      expect(r.open).toEqual(['127.0.9.4', '127.0.9.9']);
      expect(r.states['127.0.9.5']).toBe('closed');
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  });
  it('keeps at most `concurrency` probes in flight (measured) and reports silent hosts as timeout', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const hosts = Array.from({ length: 12 }, (_, i) => `127.0.9.${100 + i}`);
    const py = await acceptless(port, hosts);
    const probes = countProbes(port);
    try {
      const t0 = performance.now();
      const r = await sweep(hosts, port, { concurrency: 3, timeoutMs: 400 });
      const ms = performance.now() - t0;
      expect(Object.values(r.states)).toEqual(hosts.map(() => 'timeout'));
      expect(r.open).toEqual([]);
      expect(probes.max()).toBe(3); // bounded, and really parallel
      expect(probes.now()).toBe(0);
      // 12 hosts, 3 at a time, 400 ms each: four rounds (timers never fire early; the upper bound only
      // catches a sweep that ran one host at a time, however slow the machine).
      expect(ms).toBeGreaterThanOrEqual(1550);
      expect(ms).toBeLessThan(15_000);
    } finally {
      probes.restore();
      py.kill();
    }
  });
  it('pool: a failing item stops new ones but waits for those in flight', async () => {
    const finished: number[] = [];
    const err = await pool([0, 1, 2, 3, 4, 5], 3, async (i) => {
      if (i === 1) throw new Error('boom');
      await new Promise((r) => setTimeout(r, i === 0 || i === 2 ? 150 : 1));
      finished.push(i);
      return i;
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe('boom');
    expect(finished.sort()).toEqual([0, 2]); // in flight when 1 failed: finished before the pool rejected
  });
});

describe.each(['sqlite', 'mysql'] as const)('inventory store on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ engine, overrides: { 'renew.allow': ['127.0.9.0/24'], 'renew.ssh.port': 1 } });
  });
  afterAll(() => t?.close());

  it('records renewals by MAC with account history, and answers the inventory commands', async () => {
    const inv = t.app.services.renew.inventory;
    const r1 = await inv.newRequest('10.0.0.5', 22, null, 'test:admin');
    await inv.log(r1, 'INFO', 'first');
    await inv.log(r1, 'ERROR', 'second');
    await inv.recordRenewal({
      mac: '02:AA:00:00:00:05',
      hostname: 'pc-5',
      ip: '10.0.0.5',
      port: 22,
      facts: { os: 'Debian', serial: 'S5', kernel: 'Linux 6' },
      account: 'USERSS005-0001',
      hostKeyFp: 'SHA256:x',
      requestId: r1,
    });
    await inv.finishRequest(r1, 'ok', { mac: '02:aa:00:00:00:05', account: 'USERSS005-0001' });
    const r2 = await inv.newRequest('10.0.0.5', 22, null, 'test:admin');
    await inv.recordRenewal({
      mac: '02:aa:00:00:00:05',
      hostname: 'pc-5',
      ip: '10.0.0.5',
      port: 22,
      facts: { os: 'Debian', serial: 'S5' },
      account: 'USERSS005-0002',
      hostKeyFp: 'SHA256:x',
      requestId: r2,
    });
    expect(await inv.listPcs()).toHaveLength(1);
    expect((await inv.findPc('pc-5'))!.account).toBe('USERSS005-0002');
    expect((await inv.findPc('10.0.0.5'))!.mac).toBe('02:aa:00:00:00:05');
    const hist = await inv.accounts('02:aa:00:00:00:05');
    expect(hist.map((h) => [h.account, h.removed_at === null])).toEqual([
      ['USERSS005-0001', false],
      ['USERSS005-0002', true],
    ]);
    expect((await t.run('inventory pcs pc-5')).replies[0]).toMatch(/02:aa:00:00:00:05\s+pc-5\s+10\.0\.0\.5\s+USERSS005-0002/);
    expect((await t.run('inventory pcs nothing')).replies[0]).toMatch(/No PC matches/);
    expect((await t.run('inventory pc 02:AA:00:00:00:05')).replies[0]).toContain('serial S5');
    expect((await t.run('inventory pc nope')).exitCode).toBe(1);
    expect((await t.run('inventory accounts 10.0.0.5')).replies[0]).toMatch(/USERSS005-0001.*\n.*USERSS005-0002.*current/);
    const log = await t.run(`renew log ${r1} WARNING`);
    expect(log.replies[0]).toMatch(/ERROR\s+second/);
    expect(log.replies[0]).not.toMatch(/first/);
    expect((await t.run('renew log 999')).replies[0]).toMatch(/no renewal request #999/);
    await t.run('inventory export');
    expect(t.chat.last()!.files[0]!.data.toString().split('\n')[1]).toMatch(/^02:aa:00:00:00:05,pc-5,10\.0\.0\.5,USERSS005-0002,/);
  });

  it('serves the label link: the PC identity without account names', async () => {
    const ok = await t.app.http.inject({ method: 'GET', url: '/inventory/pc/02:aa:00:00:00:05' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ mac: '02:aa:00:00:00:05', hostname: 'pc-5', ip: '10.0.0.5', serial: 'S5', os: 'Debian' });
    expect(ok.body).not.toContain('USERSS');
    expect((await t.app.http.inject({ method: 'GET', url: '/inventory/pc/02:aa:00:00:00:06' })).statusCode).toBe(404);
    expect((await t.app.http.inject({ method: 'GET', url: '/inventory/pc/nope' })).statusCode).toBe(400);
  });

  it('pins host keys and forgets them', async () => {
    const inv = t.app.services.renew.inventory;
    await inv.pin('10.0.0.5', 22, 'ssh-ed25519', 'SHA256:abc');
    await inv.pin('10.0.0.5', 22, 'ssh-ed25519', 'SHA256:abc');
    expect((await inv.pinned('10.0.0.5', 22))!.fingerprint).toBe('SHA256:abc');
    expect((await t.run('renew forget 10.0.0.5', { confirmed: true })).replies[0]).toMatch(/Forgot/);
    expect(await inv.pinned('10.0.0.5', 22)).toBeUndefined();
  });

  it('a dry run changes nothing and needs no confirmation', async () => {
    const r = await t.run('renew run 127.0.9.7 --dry-run');
    expect(r.jobIds).toHaveLength(1);
    const job = await t.app.jobs.wait(r.jobIds[0]!);
    expect(job.status).toBe('succeeded');
    expect(JSON.parse(job.result!).text).toMatch(/Dry run on 1 host\(s\); nothing changed/);
    const req = JSON.parse(job.result!).data.results[0];
    expect(req.status).toBe('dry-run');
    expect((await t.run(`renew log ${req.request}`)).replies[0]).toMatch(/dry run: port 1 closed; host key not pinned yet/);
    expect(await t.app.db.selectFrom('known_hosts').selectAll().execute()).toHaveLength(0);
  });
});

describe('the connection side against an in-process SSH server', () => {
  let t: TestApp;
  let dir: string;
  const servers: FakeSsh[] = [];
  beforeAll(async () => {
    dir = tmpDir('sb-renew-ssh-');
    fs.writeFileSync(path.join(dir, 'boot'), 'Boot-unit-pw-5521\n');
    t = await makeTestApp({ overrides: { 'renew.allow': ['127.0.9.0/24'], 'renew.bootstrap.passwordFile': path.join(dir, 'boot'), 'renew.timeoutMs': 5000 } });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pins the first host key before any authentication and refuses a different key on a later connection of the same run, before the bootstrap password is sent', async () => {
    const s = await fakeSsh('127.0.9.30', { keys: 2 });
    servers.push(s);
    const inv = t.app.services.renew.inventory;
    // The IP was a PC whose key worked: when the key is refused now, key_ok goes back to 0.
    await inv.recordRenewal({ mac: '02:aa:00:00:00:30', hostname: 'pc-30', ip: s.host, port: s.port, facts: {}, account: 'USERSS030-0001', hostKeyFp: 'SHA256:old', requestId: 1 });
    expect((await inv.findPc('02:aa:00:00:00:30'))!.key_ok).toBe(1);
    const r = await t.app.services.renew.renewHost(s.host, s.port, { jobId: null, requester: 'test:admin' });
    expect(r.status).toBe('refused');
    expect(r.password).toBeUndefined();
    expect(r.error).toBe(
      `host key of ${s.host}:${s.port} CHANGED — pinned ${s.fingerprints[0]}, presented ${s.fingerprints[1]}; refusing to connect (if the PC was reinstalled, remove the pin with \`renew forget ${s.host}\`)`,
    );
    // Connection 1 (first key, bot key refused) then connection 2 (second key): refused at the key check, so
    // the bootstrap password never reached the server.
    expect(s.conns.map((c) => c.fingerprint)).toEqual(s.fingerprints);
    expect(s.conns[0]!.methods).toContain('publickey');
    expect(s.conns.reduce((n, c) => n + c.passwords, 0)).toBe(0);
    expect(s.conns[1]!.methods).toEqual([]);
    expect((await inv.pinned(s.host, s.port))!.fingerprint).toBe(s.fingerprints[0]);
    expect((await inv.findPc('02:aa:00:00:00:30'))!.key_ok).toBe(0);
    const lines = (await inv.logLines(r.requestId)).map((l) => `${l.level} ${l.message}`);
    const pinAt = lines.findIndex((l) => l.startsWith(`INFO host key pinned on first contact (TOFU): ssh-ed25519 ${s.fingerprints[0]}`));
    const keyAt = lines.findIndex((l) => l.startsWith("WARNING the bot's key is not accepted"));
    expect(pinAt).toBeGreaterThan(-1);
    expect(keyAt).toBeGreaterThan(pinAt);
    expect(lines).toContain("WARNING the bot's key stopped working on PC 02:aa:00:00:00:30: marked as not installed");
    expect(lines.at(-1)).toMatch(/^CRITICAL host key of .* CHANGED/);
  });

  it('keeps an error listener on the client after ready (a late error is no uncaught exception)', async () => {
    const s = await fakeSsh('127.0.9.31', { keys: 1, acceptPassword: 'Late-error-pw-1' });
    servers.push(s);
    const { client } = await connect({ host: s.host, port: s.port, username: 'x', password: 'Late-error-pw-1', timeoutMs: 5000, verifyHostKey: () => null });
    try {
      expect(client.listenerCount('error')).toBeGreaterThanOrEqual(1);
      expect(() => client.emit('error', new Error('connection reset after ready'))).not.toThrow();
    } finally {
      client.end();
    }
  });

  it('checks the allow list itself, whoever calls it', async () => {
    const r = await t.app.services.renew.renewHost('127.0.10.5', 22, { jobId: null, requester: 'test:admin' });
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/127\.0\.10\.5 is not on the renew allow list \(127\.0\.9\.0\/24\): 127\.0\.10\.5 refused/);
    expect(await t.app.services.renew.inventory.pinned('127.0.10.5', 22)).toBeUndefined();
  });

  it('exports the inventory with formula-looking cells written as text', async () => {
    const inv = t.app.services.renew.inventory;
    await inv.recordRenewal({
      mac: '02:aa:00:00:00:32',
      hostname: '=HYPERLINK("http://x")',
      ip: '127.0.9.32',
      port: 22,
      facts: { cpu: '+cmd' },
      account: 'USERSS032-0001',
      hostKeyFp: 'SHA256:x',
      requestId: 2,
    });
    await t.run('inventory export');
    const csv = t.chat.last()!.files[0]!.data.toString();
    const line = csv.split('\n').find((l) => l.startsWith('02:aa:00:00:00:32'))!;
    expect(line).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(line).toContain(",'+cmd,");
  });
});
