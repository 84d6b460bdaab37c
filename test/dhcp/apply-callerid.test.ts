import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { SUBNETS } from './helpers.js';
import { fixture } from '../helpers/env.js';
import { applyAll } from '../../src/dhcp/apply.js';
import { allowed, compileAllow } from '../../src/dhcp/callerid.js';
import type { DhcpStore } from '../../src/dhcp/service.js';
import { sleep, until } from '../helpers/wait.js';

/** Posts are decided behind the response (a claim in the store): wait for them, then look. */
const settled = (t: TestApp) => t.app.services.callLog.flush();

const storedCalls = async (t: TestApp) => {
  await t.app.services.callLog.flush(); // rows are written behind the response: count what is really stored
  return (await t.app.db.selectFrom('calls').selectAll().execute()).length;
};

describe('dhcp apply with the real checkers', () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { 'dhcp.subnets': SUBNETS } });
    dir = path.join(t.dataDir, 'etc');
    fs.mkdirSync(dir);
    const cfg = t.app.config.dhcp.backends;
    Object.assign(cfg.isc, { enabled: true, path: path.join(dir, 'dhcpd.hosts') });
    Object.assign(cfg.kea, { enabled: true, path: path.join(dir, 'kea-dhcp4.conf') });
    Object.assign(cfg.dnsmasq, { enabled: true, path: path.join(dir, 'dnsmasq.hosts') });
    Object.assign(cfg.proxy, { enabled: true, dir, reload: ['touch', path.join(dir, 'reloaded')] });
  });
  afterAll(() => t.close());

  it('installs checked files, reloads, and reports what changed', async () => {
    await t.app.services.dhcp.upsertHosts(
      [
        { mac: '00:11:22:33:44:01', ip: '10.20.0.11', hostname: 'pc-101', room: '101', owner: 'Ivanova', access: 2, bootServer: 'http://10.20.0.5/prov/' },
        { mac: '00:11:22:33:44:02', ip: 'auto', hostname: 'pc-102', access: 1 },
      ],
      't',
    );
    const dry = await t.run('dhcp apply --dry-run');
    expect(dry.replies.join('\n')).toMatch(/Dry run: all checks passed; 2 added/);
    expect(fs.existsSync(path.join(dir, 'dhcpd.hosts'))).toBe(false);
    const r = await t.run('dhcp apply', { confirmed: true });
    expect(r.replies.join('\n')).toMatch(/Applied 6 file\(s\) \(2 hosts\): 2 added, 0 changed, 0 removed/);
    expect(fs.readFileSync(path.join(dir, 'dhcpd.hosts'), 'utf8')).toMatch(
      /hardware ethernet 00:11:22:33:44:01;\n  fixed-address 10.20.0.11;\n  option host-name "pc-101";\n  option tftp-server-name "http:\/\/10.20.0.5\/prov\/";/,
    );
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'kea-dhcp4.conf'), 'utf8')).Dhcp4.subnet4[0].reservations.find((x: { hostname: string }) => x.hostname === 'pc-101')['option-data'][0]).toEqual({
      name: 'tftp-server-name',
      data: 'http://10.20.0.5/prov/',
    });
    expect(fs.readFileSync(path.join(dir, 'dnsmasq.hosts'), 'utf8')).toMatch(
      /dhcp-host=00:11:22:33:44:01,set:sb001122334401,10.20.0.11,pc-101\ndhcp-option=tag:sb001122334401,66,"http:\/\/10.20.0.5\/prov\/"/,
    );
    expect(fs.readFileSync(path.join(dir, 'proxy2'), 'utf8')).toBe('10.20.0.11\n');
    expect(fs.readFileSync(path.join(dir, 'proxy1'), 'utf8')).toBe('10.20.0.2\n');
    expect(fs.existsSync(path.join(dir, 'reloaded'))).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.sb-'))).toEqual([]);
    await t.app.services.dhcp.remove('00:11:22:33:44:02', 't');
    expect((await t.run('dhcp apply', { confirmed: true })).replies.join('\n')).toMatch(/0 added, 0 changed, 1 removed/);
  });

  it('a failed check leaves every live file byte-identical and shows the checker message', async () => {
    const before = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
    await t.app.services.dhcp.upsertHosts([{ mac: '00:11:22:33:44:03', ip: 'auto', hostname: 'pc-103', access: 3 }], 't');
    // Break the dhcpd wrapper's subnet so that dhcpd itself rejects the candidate (a real checker failure).
    t.app.config.dhcp.backends.isc.check = ['dhcpd', '-t', '-cf', path.join(dir, 'nonexistent.conf')];
    const r = await t.run('dhcp apply', { confirmed: true });
    t.app.config.dhcp.backends.isc.check = ['dhcpd', '-t', '-cf', '{wrapper}'];
    expect(r.exitCode).toBe(1);
    const text = r.replies.join('\n');
    expect(text).toMatch(/Apply aborted; no live file was changed/);
    expect(text).toMatch(/dhcpd check failed:[\s\S]*nonexistent\.conf/);
    const after = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const f of Object.keys(before)) expect(after[f]!.equals(before[f]!), f).toBe(true);
  });

  it('kea rejecting the candidate (real checker) also aborts', async () => {
    const snap = () => Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]));
    const all = snap();
    const before = fs.readFileSync(path.join(dir, 'kea-dhcp4.conf'));
    // a subnet whose gateway is outside it makes kea-dhcp4 -t fail on its own
    (t.app.services.dhcp.subnets()[0]!.cfg as { pool?: string }).pool = '10.21.0.100-10.21.0.200';
    const r = await t.run('dhcp apply', { confirmed: true });
    (t.app.services.dhcp.subnets()[0]!.cfg as { pool?: string }).pool = '10.20.0.100-10.20.0.200';
    expect(r.replies.join('\n')).toMatch(/kea-dhcp4 check failed:[\s\S]*pool/i);
    expect(fs.readFileSync(path.join(dir, 'kea-dhcp4.conf')).equals(before)).toBe(true);
    expect(snap()).toEqual(all);
    expect(r.replies.join('\n')).toMatch(/no live file was changed/);
  });

  it('dhcpd itself rejecting the candidate leaves every live file byte-identical and shows its message', async () => {
    const snap = () => Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]));
    const all = snap();
    const kea = t.app.config.dhcp.backends.kea;
    kea.enabled = false; // only dhcpd's verdict counts here
    const cfg = t.app.services.dhcp.subnets()[0]!.cfg as { pool?: string };
    cfg.pool = '10.21.0.100-10.21.0.200'; // the wrapper's range is then outside its subnet
    try {
      const r = await t.run('dhcp apply', { confirmed: true });
      expect(r.exitCode).toBe(1);
      const text = r.replies.join('\n');
      expect(text).toMatch(
        /Apply aborted; no live file was changed\. \(SB_DHCP_RENDER_FAILED\)\ndhcpd check failed:\n[\s\S]*bad range, address 10\.21\.0\.100 not in subnet 10\.20\.0\.0 netmask 255\.255\.255\.0/,
      );
      expect(text).not.toMatch(/Internet Systems Consortium|submitting a bug/);
    } finally {
      cfg.pool = '10.20.0.100-10.20.0.200';
      kea.enabled = true;
    }
    expect(snap()).toEqual(all);
  });

  it('dhcp render prints byte-for-byte what apply writes, for every target', async () => {
    expect((await t.run('dhcp apply', { confirmed: true })).exitCode).toBe(0);
    const live: Record<string, string> = { isc: 'dhcpd.hosts', kea: 'kea-dhcp4.conf', dnsmasq: 'dnsmasq.hosts', proxy1: 'proxy1', proxy2: 'proxy2', proxy3: 'proxy3' };
    for (const target of t.app.services.dhcpBackends.targets()) {
      const r = await t.run(`dhcp render ${target}`, { user: 'admin' });
      const msg = t.chat.last()!;
      const shown = msg.files.length ? msg.files[0]!.data.toString() : /^```\n([\s\S]*)```$/.exec(r.replies[0]!)![1]!;
      const disk = fs.readFileSync(path.join(dir, live[target]!), 'utf8');
      expect(shown === '(empty)\n' ? '' : shown, target).toBe(disk);
    }
  });

  it('hosts in no configured subnet are reported by apply and render, not dropped silently', async () => {
    // A host kept from an earlier subnet configuration.
    await t.app.db
      .insertInto('dhcp_hosts')
      .values({
        mac: '00:11:22:33:44:77',
        ip: '10.99.0.7',
        ip_num: 0x0a630007,
        hostname: 'stray',
        room: null,
        phones: '',
        owner: null,
        access: 0,
        comment: null,
        boot_server: null,
        updated_by: 't',
        updated_at: 0,
      })
      .execute();
    try {
      const a = await t.run('dhcp apply --dry-run');
      expect(a.replies.join('\n')).toMatch(/1 host\(s\) lie in no configured subnet \(dhcp\.subnets\) and are left out of the Kea config: stray \(10\.99\.0\.7\)/);
      const r = await t.run('dhcp render kea');
      expect(r.replies.join('\n')).toMatch(/```\n[\s\S]*```\n1 host\(s\) lie in no configured subnet[\s\S]*stray \(10\.99\.0\.7\)/);
      expect((await t.run('dhcp render isc')).replies.join('\n')).not.toMatch(/no configured subnet/);
    } finally {
      await t.app.db.deleteFrom('dhcp_hosts').where('mac', '=', '00:11:22:33:44:77').execute();
    }
  });

  it("with dhcp.backends.kea.template, apply keeps the admin's settings and kea-dhcp4 -t passes", async () => {
    const tpl = path.join(t.dataDir, 'kea-base.conf');
    fs.writeFileSync(
      tpl,
      `// base config\n{ "Dhcp4": { "interfaces-config": { "interfaces": [ "lo" ] }, # loopback only\n "valid-lifetime": 600, /* short */ "subnet4": [ { "id": 42, "subnet": "10.20.0.0/24", "option-data": [ { "name": "domain-name", "data": "lab.example" } ] } ] } }\n`,
    );
    const kea = t.app.config.dhcp.backends.kea;
    kea.template = tpl;
    try {
      const r = await t.run('dhcp apply', { confirmed: true });
      expect(r.exitCode, r.replies.join('\n')).toBe(0);
      const d4 = JSON.parse(fs.readFileSync(kea.path!, 'utf8')).Dhcp4;
      expect(d4['interfaces-config']).toEqual({ interfaces: ['lo'] });
      expect(d4['valid-lifetime']).toBe(600);
      expect(d4['lease-database']).toBeUndefined();
      expect(d4.subnet4).toHaveLength(1);
      expect(d4.subnet4[0]).toMatchObject({ id: 42, subnet: '10.20.0.0/24', 'option-data': [{ name: 'domain-name', data: 'lab.example' }] });
      expect(d4.subnet4[0].reservations.map((x: { hostname: string }) => x.hostname).sort()).toEqual(['pc-101', 'pc-103']);
      const shown = (await t.run('dhcp render kea')).replies[0]!;
      expect(/^```\n([\s\S]*)```$/.exec(shown)![1]).toBe(fs.readFileSync(kea.path!, 'utf8'));
      // A template that cannot be read stops apply before anything is written, naming the key.
      const snap = fs.readFileSync(kea.path!);
      fs.writeFileSync(tpl, '{ "Dhcp4": { "subnet4": [ }');
      const bad = await t.run('dhcp apply', { confirmed: true });
      expect(bad.exitCode).toBe(1);
      expect(bad.replies.join('\n')).toMatch(/Apply aborted; no live file was changed\. \(SB_DHCP_RENDER_FAILED\)\ndhcp\.backends\.kea\.template = ".*kea-base\.conf": is not valid Kea JSON/);
      expect((await t.run('dhcp render kea')).replies.join('\n')).toMatch(/dhcp\.backends\.kea\.template = .*is not valid Kea JSON/);
      expect(fs.readFileSync(kea.path!).equals(snap)).toBe(true);
    } finally {
      delete kea.template;
    }
  });

  it('applies are serialised: a manual apply and a concurrent one never interleave', async () => {
    const log = path.join(t.dataDir, 'apply.log');
    const proxy = t.app.config.dhcp.backends.proxy;
    const reload = proxy.reload;
    proxy.reload = ['sh', '-c', `echo start >> ${log}; sleep 0.3; echo end >> ${log}`];
    try {
      const svc = t.app.services.dhcp as DhcpStore;
      const rs = await Promise.all([applyAll(t.app, svc), applyAll(t.app, svc), applyAll(t.app, svc)]);
      for (const r of rs) expect(r.ok, r.text).toBe(true);
      expect(fs.readFileSync(log, 'utf8')).toBe('start\nend\nstart\nend\nstart\nend\n');
    } finally {
      proxy.reload = reload;
    }
    const snaps = await t.app.db.selectFrom('kv').select('k').where('k', '=', 'dhcp.lastApply').execute();
    expect(snaps).toHaveLength(1);
  });
});

describe('debounced auto-apply', () => {
  it('many changes inside the delay give one apply with all of them, reported to the targets', { timeout: 30_000 }, async () => {
    // Auto-apply runs on the server holding the apply lease.
    const t = await makeTestApp({ listen: true, overrides: { 'dhcp.subnets': SUBNETS, 'dhcp.autoApply': true, 'dhcp.autoApplyDelayMs': 1500, 'dhcp.callerid.targets': ['test:noc'] } });
    try {
      const dir = path.join(t.dataDir, 'etc');
      fs.mkdirSync(dir);
      const log = path.join(dir, 'reloads');
      Object.assign(t.app.config.dhcp.backends.proxy, { enabled: true, dir, reload: ['sh', '-c', `echo reload >> ${log}`] });
      // Changes made outside a chat host command (an import, provisioning): `dhcp add` itself applies and replies.
      for (let i = 1; i <= 3; i++) {
        expect((await t.app.services.dhcp.upsertHosts([{ mac: `02:00:00:00:aa:0${i}`, ip: 'auto', hostname: `auto-${i}`, access: 1 }], 't')).ok).toBe(true);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(fs.existsSync(path.join(dir, 'proxy1'))).toBe(false); // not before the delay has passed
      // The delay is long beside one host write, even on a loaded machine, so the three land in one apply.
      await until('the auto-apply report', () => t.chat.texts('noc').length > 0, 15_000);
      await sleep(2_500); // a second apply would have started by now
      expect(t.chat.texts('noc')).toEqual([expect.stringMatching(/^DHCP auto-apply: Applied 3 file\(s\) \(3 hosts\): 3 added, 0 changed, 0 removed/)]);
      expect(fs.readFileSync(path.join(dir, 'proxy1'), 'utf8')).toBe('10.20.0.2\n10.20.0.3\n10.20.0.4\n');
      expect(fs.readFileSync(log, 'utf8')).toBe('reload\n');
    } finally {
      await t.close();
    }
  });
});

describe('caller-ID hook', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await makeTestApp({ listen: true, overrides: { 'dhcp.subnets': SUBNETS, 'dhcp.callerid.targets': ['test:support'] }, env: { SWITCHBOARD_CALLERID_TOKEN: 'good-token-123' } });
    base = t.app.baseUrl();
    const csv = fs.readFileSync(fixture('hosts-sample.csv'));
    await t.run('dhcp import', { files: [{ name: 'h.csv', fetch: async () => csv }] });
    t.chat.clear();
  });
  afterAll(() => t.close());

  it('GET /set_call with the good token posts ONE message listing both hosts of the number', async () => {
    const res = await fetch(`${base}/set_call/3210?token=good-token-123`);
    expect(res.status).toBe(200);
    await settled(t);
    const msgs = t.chat.messages.filter((m) => m.channel === 'support');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toMatch(/Call from 3210: 2 matching hosts/);
    expect(msgs[0]!.text).toMatch(/room 210, Okafor, ws-alder, 10\.20\.0\.21, 3c:52:82:1f:a0:01/);
    expect(msgs[0]!.text).toMatch(/room 210, -, mfp-2f, 10\.20\.0\.23, 3c:52:82:1f:a0:03/);
    expect((await t.run('call last')).replies[0]).toMatch(/ws-alder[\s\S]*mfp-2f/);
  });

  it('a wrong or missing token gets 401 and stores and posts nothing', async () => {
    const n0 = await storedCalls(t);
    t.chat.clear();
    expect((await fetch(`${base}/set_call/2101?token=wrong`)).status).toBe(401);
    expect((await fetch(`${base}/set_call/2101`)).status).toBe(401);
    expect((await fetch(`${base}/hooks/call`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ number: '2101' }) })).status).toBe(401);
    expect(await storedCalls(t)).toBe(n0);
    expect(t.chat.messages).toHaveLength(0);
  });

  it('GET /set_call answers malformed requests with a specific 4xx and stores and posts nothing', async () => {
    const n0 = await storedCalls(t);
    t.chat.clear();
    const bad = async (url: string, init?: RequestInit) => {
      const r = await fetch(`${base}${url}`, init);
      return { status: r.status, error: ((await r.json()) as { error: string }).error, allow: r.headers.get('allow') };
    };
    expect(await bad('/set_call/21x01?token=good-token-123')).toMatchObject({ status: 400, error: expect.stringMatching(/1-64 characters of digits/) });
    expect(await bad(`/set_call/${'1'.repeat(65)}?token=good-token-123`)).toMatchObject({ status: 400 });
    expect(await bad('/set_call/%E0%A4%A?token=good-token-123')).toMatchObject({ status: 400, error: expect.stringMatching(/URL encoding/) });
    expect(await bad('/set_call/2101/extra?token=good-token-123')).toMatchObject({ status: 404 });
    expect(await bad('/set_call/?token=good-token-123')).toMatchObject({ status: 404 });
    expect(await bad('/set_call/2101?token=good-token-123', { method: 'POST' })).toMatchObject({ status: 405, allow: 'GET, HEAD' });
    expect(await storedCalls(t)).toBe(n0);
    expect(t.chat.messages).toHaveLength(0);
  });

  it('GET /set_call takes the token from a header too, and an encoded +country number', async () => {
    t.chat.clear();
    const res = await fetch(`${base}/set_call/%2B7%20812%20555-2104`, { headers: { authorization: 'Bearer good-token-123' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, matches: expect.any(Number) });
    await settled(t);
    expect(t.chat.texts('support')[0]).toMatch(/^📞 Call from \+7 812 555-2104/);
  });

  it('normalises formatted numbers (+country, spaces, brackets, dashes) and POST /hooks/call with header token', async () => {
    t.chat.clear();
    const res = await fetch(`${base}/hooks/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchboard-token': 'good-token-123' },
      body: JSON.stringify({ number: '0 11 3555 0212', name: 'Haddad' }),
    });
    expect(res.status).toBe(200);
    await settled(t);
    expect(t.chat.texts('support')[0]).toMatch(/Call from 0 11 3555 0212 \(Haddad\): 1 matching host\n• room 212, Haddad, ws-cedar/);
    await fetch(`${base}/set_call/999?token=good-token-123`);
    await settled(t);
    expect(t.chat.texts('support')[1]).toMatch(/no host matches/);
    // A second leg of the same call (ring group) within dedupeSeconds is recorded but not posted again.
    expect((await fetch(`${base}/set_call/999?token=good-token-123`)).status).toBe(200);
    await settled(t);
    expect(t.chat.texts('support')).toHaveLength(2);
    expect((await t.run('calls 5')).replies[0]!.match(/Call from 999:/g)).toHaveLength(2);
    expect((await t.run('calls 5')).replies[0]).toMatch(/999[\s\S]*0 11 3555 0212/);
  });

  it('a JSON body nested thousands deep is a 400 naming the limit on every JSON route (caller ID, console login), never a 500', async () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    for (const [path, headers] of [
      ['/hooks/call', { 'content-type': 'application/json', 'x-switchboard-token': 'good-token-123' }],
      ['/console/api/login', { 'content-type': 'application/json' }],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: deep });
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/nests deeper than 64 levels/);
    }
    // Ordinary nesting is untouched.
    const ok = await fetch(`${base}/hooks/call`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-switchboard-token': 'good-token-123' }, body: JSON.stringify({ number: '999' }) });
    expect(ok.status).toBe(200);
  });
});

describe('caller-ID hook: console, HEAD, token before body, rebuilds', () => {
  let t: TestApp;
  let base: string;
  const TOKEN = 'good-token-123';
  beforeAll(async () => {
    t = await makeTestApp({ listen: true, overrides: { 'dhcp.subnets': SUBNETS, 'dhcp.callerid.targets': ['test:support'] }, env: { SWITCHBOARD_CALLERID_TOKEN: TOKEN } });
    base = t.app.baseUrl();
    await t.run('dhcp import', { files: [{ name: 'h.csv', fetch: async () => fs.readFileSync(fixture('hosts-sample.csv')) }] });
    t.chat.clear();
  });
  afterAll(() => t.close());

  it('a call posted to another platform is also in the console default room, live', async () => {
    const before = (await t.app.services.console.hub.history('general')).length;
    expect((await fetch(`${base}/set_call/3211?token=${TOKEN}`)).status).toBe(200);
    await until('the call posted behind the response', () => t.chat.texts('support').length > 0, 10_000);
    expect(t.chat.texts('support')).toEqual([expect.stringMatching(/^📞 Call from 3211: 1 matching host\n• room 211, Lindqvist, ws-birch/)]);
    const room = await t.app.services.console.hub.history('general');
    expect(room.length).toBe(before + 1);
    expect(room[room.length - 1]!.text).toMatch(/^📞 Call from 3211: 1 matching host\n• room 211, Lindqvist, ws-birch/);
  });

  it('HEAD /set_call answers like GET (token checked) but stores and posts nothing', async () => {
    const n0 = await storedCalls(t);
    const console0 = (await t.app.services.console.hub.history('general')).length;
    t.chat.clear();
    expect((await fetch(`${base}/set_call/3210?token=${TOKEN}`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${base}/set_call/3210?token=bad`, { method: 'HEAD' })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 150));
    expect(await storedCalls(t)).toBe(n0);
    expect(t.chat.messages).toHaveLength(0);
    expect((await t.app.services.console.hub.history('general')).length).toBe(console0);
  });

  it('POST /hooks/call checks the token before the body: a bad token is 401 whatever the body', async () => {
    const n0 = await storedCalls(t);
    t.chat.clear();
    const post = (body: string, token?: string) =>
      fetch(`${base}/hooks/call`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { 'x-switchboard-token': token } : {}) }, body });
    for (const body of ['{"number": "21x01"}', '{}', '{not json', JSON.stringify({ number: '2101', name: 'x'.repeat(300) })]) {
      const r = await post(body, 'wrong');
      expect(r.status, body).toBe(401);
      expect(await r.json()).toMatchObject({ code: 'SB_CALLERID_TOKEN_INVALID', message: 'bad or missing token' });
      expect((await post(body)).status, body).toBe(401);
    }
    // With the good token the body is validated.
    expect((await post('{"number": "21x01"}', TOKEN)).status).toBe(400);
    expect(await storedCalls(t)).toBe(n0);
    expect(t.chat.messages).toHaveLength(0);
  });

  it('concurrent calls after a change share one index rebuild', async () => {
    await t.app.services.dhcp.upsertHosts([{ mac: '3c:52:82:1f:a0:02', phones: ['3211', '2199'] }], 't');
    const r0 = t.app.services.callLog.indexRebuilds();
    const res = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(`${base}/set_call/${i % 2 ? '2199' : '3210'}?token=${TOKEN}`)));
    expect(res.map((r) => r.status)).toEqual(Array(40).fill(200));
    expect(t.app.services.callLog.indexRebuilds()).toBe(r0 + 1);
    expect(await res[1]!.json()).toEqual({ ok: true, matches: 1 });
  });
});

describe('caller-ID source allow list', () => {
  it('addresses and CIDRs, IPv4-mapped IPv6 included', () => {
    const rules = compileAllow(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::ffff:172.16.0.0/112']);
    expect(allowed(rules, '10.200.3.4')).toBe(true);
    expect(allowed(rules, '::ffff:10.200.3.4')).toBe(true);
    expect(allowed(rules, '192.168.1.7')).toBe(true);
    expect(allowed(rules, '192.168.1.8')).toBe(false);
    expect(allowed(rules, 'fd12::1')).toBe(true);
    expect(allowed(rules, 'fe80::1')).toBe(false);
    expect(allowed(rules, '172.16.9.9')).toBe(true);
    expect(allowed(rules, '172.17.0.1')).toBe(false);
    expect(allowed(rules, '11.0.0.1')).toBe(false);
    expect(allowed(rules, 'not-an-ip')).toBe(false);
    expect(() => compileAllow(['10.0.0.0/8', '10.0.0.300'])).toThrow(/dhcp\.callerid\.allow\[1\] = "10\.0\.0\.300": not an IP address or CIDR/);
  });

  it('a source outside the list gets 403 and nothing is stored or posted; a CIDR that holds it passes', async () => {
    const env = { SWITCHBOARD_CALLERID_TOKEN: 'good-token-123' };
    const outside = await makeTestApp({ listen: true, overrides: { 'dhcp.subnets': SUBNETS, 'dhcp.callerid.allow': ['10.0.0.0/8', '::ffff:10.0.0.0/104'] }, env });
    try {
      const b = outside.app.baseUrl();
      const g = await fetch(`${b}/set_call/2101?token=good-token-123`);
      expect(g.status).toBe(403);
      expect(await g.json()).toMatchObject({ code: 'SB_CALLERID_SOURCE_REFUSED', message: 'source address not allowed' });
      expect((await fetch(`${b}/hooks/call`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-switchboard-token': 'good-token-123' }, body: '{"number":"2101"}' })).status).toBe(
        403,
      );
      await new Promise((r) => setTimeout(r, 150));
      expect(await storedCalls(outside)).toBe(0);
      expect(outside.chat.messages).toHaveLength(0);
      expect(await outside.app.services.console.hub.history('general')).toHaveLength(0);
    } finally {
      await outside.close();
    }
    const inside = await makeTestApp({ listen: true, overrides: { 'dhcp.subnets': SUBNETS, 'dhcp.callerid.allow': ['10.0.0.0/8', '127.0.0.0/8'] }, env });
    try {
      expect((await fetch(`${inside.app.baseUrl()}/set_call/2101?token=good-token-123`)).status).toBe(200);
      expect(await storedCalls(inside)).toBe(1);
    } finally {
      await inside.close();
    }
    await expect(makeTestApp({ overrides: { 'dhcp.callerid.allow': ['10.0.0.0/33'] } })).rejects.toThrow(/dhcp\.callerid\.allow\[0\] = "10\.0\.0\.0\/33"/);
  });
});
