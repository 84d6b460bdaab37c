import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { SUBNETS } from './helpers.js';

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
    await t.app.services.dhcp.upsertHosts([
      { mac: '00:11:22:33:44:01', ip: '10.20.0.11', hostname: 'pc-101', room: '101', owner: 'Ivanova', access: 2, bootServer: 'http://10.20.0.5/prov/' },
      { mac: '00:11:22:33:44:02', ip: 'auto', hostname: 'pc-102', access: 1 },
    ], 't');
    const dry = await t.run('dhcp apply --dry-run');
    expect(dry.replies.join('\n')).toMatch(/Dry run: all checks passed; 2 added/);
    expect(fs.existsSync(path.join(dir, 'dhcpd.hosts'))).toBe(false);
    const r = await t.run('dhcp apply', { confirmed: true });
    expect(r.replies.join('\n')).toMatch(/Applied 6 file\(s\) \(2 hosts\): 2 added, 0 changed, 0 removed/);
    expect(fs.readFileSync(path.join(dir, 'dhcpd.hosts'), 'utf8')).toMatch(/hardware ethernet 00:11:22:33:44:01;\n  fixed-address 10.20.0.11;\n  option host-name "pc-101";\n  option tftp-server-name "http:\/\/10.20.0.5\/prov\/";/);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'kea-dhcp4.conf'), 'utf8')).Dhcp4.subnet4[0].reservations.find((x: { hostname: string }) => x.hostname === 'pc-101')['option-data'][0]).toEqual({ name: 'tftp-server-name', data: 'http://10.20.0.5/prov/' });
    expect(fs.readFileSync(path.join(dir, 'dnsmasq.hosts'), 'utf8')).toMatch(/dhcp-host=00:11:22:33:44:01,set:sb001122334401,10.20.0.11,pc-101\ndhcp-option=tag:sb001122334401,66,"http:\/\/10.20.0.5\/prov\/"/);
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
});

describe('caller-ID hook', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await makeTestApp({ listen: true, overrides: { 'dhcp.subnets': SUBNETS, 'dhcp.callerid.targets': ['test:support'] }, env: { SWITCHBOARD_CALLERID_TOKEN: 'good-token-123' } });
    base = t.app.baseUrl();
    const csv = fs.readFileSync('/work/shared/fixtures/hosts-sample.csv');
    await t.run('dhcp import', { files: [{ name: 'h.csv', fetch: async () => csv }] });
    t.chat.clear();
  });
  afterAll(() => t.close());

  it('GET /set_call with the good token posts ONE message listing both hosts of the number', async () => {
    const res = await fetch(`${base}/set_call/2101?token=good-token-123`);
    expect(res.status).toBe(200);
    const msgs = t.chat.messages.filter((m) => m.channel === 'support');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toMatch(/Call from 2101: 2 matching hosts/);
    expect(msgs[0]!.text).toMatch(/room 101, Ivanova, pc-101, 10\.20\.0\.11, 00:11:22:33:44:01/);
    expect(msgs[0]!.text).toMatch(/room 101, -, printer-1, 10\.20\.0\.13, 00:11:22:33:44:03/);
    expect((await t.run('call last')).replies[0]).toMatch(/pc-101[\s\S]*printer-1/);
  });

  it('a wrong or missing token gets 401 and stores and posts nothing', async () => {
    const n0 = (await t.app.db.selectFrom('calls').selectAll().execute()).length;
    t.chat.clear();
    expect((await fetch(`${base}/set_call/2101?token=wrong`)).status).toBe(401);
    expect((await fetch(`${base}/set_call/2101`)).status).toBe(401);
    expect((await fetch(`${base}/hooks/call`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ number: '2101' }) })).status).toBe(401);
    expect((await t.app.db.selectFrom('calls').selectAll().execute()).length).toBe(n0);
    expect(t.chat.messages).toHaveLength(0);
  });

  it('GET /set_call answers malformed requests with a specific 4xx and stores and posts nothing', async () => {
    const n0 = (await t.app.db.selectFrom('calls').selectAll().execute()).length;
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
    expect((await t.app.db.selectFrom('calls').selectAll().execute()).length).toBe(n0);
    expect(t.chat.messages).toHaveLength(0);
  });

  it('GET /set_call takes the token from a header too, and an encoded +country number', async () => {
    t.chat.clear();
    const res = await fetch(`${base}/set_call/%2B7%20812%20555-2104`, { headers: { authorization: 'Bearer good-token-123' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, matches: expect.any(Number) });
    expect(t.chat.texts('support')[0]).toMatch(/^📞 Call from \+7 812 555-2104/);
  });

  it('normalises formatted numbers (+country, spaces, brackets, dashes) and POST /hooks/call with header token', async () => {
    t.chat.clear();
    const res = await fetch(`${base}/hooks/call`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-switchboard-token': 'good-token-123' }, body: JSON.stringify({ number: '8 812 555 2103', name: 'Sidorov' }) });
    expect(res.status).toBe(200);
    expect(t.chat.texts('support')[0]).toMatch(/Call from 8 812 555 2103 \(Sidorov\): 1 matching host\n• room 103, Sidorov, pc-103/);
    await fetch(`${base}/set_call/999?token=good-token-123`);
    expect(t.chat.texts('support')[1]).toMatch(/no host matches/);
    // A second leg of the same call (ring group) within dedupeSeconds is recorded but not posted again.
    expect((await fetch(`${base}/set_call/999?token=good-token-123`)).status).toBe(200);
    expect(t.chat.texts('support')).toHaveLength(2);
    expect((await t.run('calls 5')).replies[0]!.match(/Call from 999:/g)).toHaveLength(2);
    expect((await t.run('calls 5')).replies[0]).toMatch(/999[\s\S]*8 812 555 2103/);
  });
});
