// Renewal building blocks: password policy, network parsing and the allow list, account naming, the
// inventory store on both engines, sweeping on loopback, dry runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { classesOf, generatePassword } from '../../src/renew/passwords.js';
import { checkAllowed, expandNetwork, sweep } from '../../src/renew/scanner.js';
import { accountName, managedRegex } from '../../src/renew/config.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

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
});

describe('sweep on loopback', () => {
  it('lists exactly the hosts with a listener, with bounded concurrency', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const servers = await Promise.all(['127.0.9.4', '127.0.9.9'].map((h) => new Promise<net.Server>((res) => { const s = net.createServer((c) => c.destroy()); s.listen(port, h, () => res(s)); })));
    try {
      const r = await sweep(expandNetwork('127.0.9', '1,20').hosts, port, { concurrency: 4, timeoutMs: 500 });
      expect(r.open).toEqual(['127.0.9.4', '127.0.9.9']);
      expect(r.states['127.0.9.5']).toBe('closed');
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
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
    await inv.recordRenewal({ mac: '02:AA:00:00:00:05', hostname: 'pc-5', ip: '10.0.0.5', port: 22, facts: { os: 'Debian', serial: 'S5', kernel: 'Linux 6' }, account: 'USERSS005-0001', hostKeyFp: 'SHA256:x', requestId: r1 });
    await inv.finishRequest(r1, 'ok', { mac: '02:aa:00:00:00:05', account: 'USERSS005-0001' });
    const r2 = await inv.newRequest('10.0.0.5', 22, null, 'test:admin');
    await inv.recordRenewal({ mac: '02:aa:00:00:00:05', hostname: 'pc-5', ip: '10.0.0.5', port: 22, facts: { os: 'Debian', serial: 'S5' }, account: 'USERSS005-0002', hostKeyFp: 'SHA256:x', requestId: r2 });
    expect(await inv.listPcs()).toHaveLength(1);
    expect((await inv.findPc('pc-5'))!.account).toBe('USERSS005-0002');
    expect((await inv.findPc('10.0.0.5'))!.mac).toBe('02:aa:00:00:00:05');
    const hist = await inv.accounts('02:aa:00:00:00:05');
    expect(hist.map((h) => [h.account, h.removed_at === null])).toEqual([['USERSS005-0001', false], ['USERSS005-0002', true]]);
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
