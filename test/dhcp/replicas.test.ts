// Two replicas on one MariaDB store: caller-ID posts are decided in the store, and DHCP/proxy files are written
// by one process for the whole cluster (the holder of the apply lease), whichever replica was asked.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { SUBNETS } from './helpers.js';
import { sleep, until } from '../helpers/wait.js';

const TOKEN = 'good-token-123';

describe('caller ID on two replicas', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const opts = { listen: true, overrides: { 'dhcp.subnets': SUBNETS, 'dhcp.callerid.targets': ['test:support'] }, env: { SWITCHBOARD_CALLERID_TOKEN: TOKEN } };
    a = await makeTestApp({ ...opts, engine: 'mysql' });
    b = await makeTestApp({ ...opts, replicaOf: a });
    await a.app.services.dhcp.upsertHosts([{ mac: '00:11:22:33:44:01', ip: '10.20.0.11', hostname: 'pc-101', room: '101', phones: ['2101'] }], 't');
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('5 hits of one number spread over both within 0.2 s post once, and all 5 are stored', async () => {
    const hit = (t: TestApp, n: string) => fetch(`${t.app.baseUrl()}/set_call/${encodeURIComponent(n)}?token=${TOKEN}`);
    // One number, written five ways (the key is its digits), alternating between the replicas.
    const forms = ['2101', '2101', '(2101)', '2-101', '2101'];
    const res = await Promise.all(forms.map((n, i) => new Promise<Response>((r) => setTimeout(() => r(hit(i % 2 ? b : a, n)), i * 40))));
    expect(res.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    await a.app.services.callLog.flush();
    await b.app.services.callLog.flush();
    const posts = [...a.chat.texts('support'), ...b.chat.texts('support')];
    expect(posts).toEqual([expect.stringMatching(/^📞 Call from \(?2-?101\)?: 1 matching host\n• room 101, -, pc-101/)]);
    const rows = await a.app.db.selectFrom('calls').select(['normalized', 'source']).execute();
    expect(rows.map((r) => r.normalized)).toEqual(['2101', '2101', '2101', '2101', '2101']);
    // The console room is shared by the replicas: one message there too.
    expect((await a.app.services.console.hub.history('general')).filter((m) => m.text.startsWith('📞'))).toHaveLength(1);
  });
});

/** Points a replica's DHCP/proxy targets into its own data dir (as if on its own machine). */
function ownTargets(t: TestApp): void {
  const etc = path.join(t.dataDir, 'etc');
  fs.mkdirSync(etc, { recursive: true });
  const cfg = t.app.config.dhcp.backends;
  Object.assign(cfg.isc, { enabled: true, path: path.join(etc, 'dhcpd.hosts') });
  Object.assign(cfg.dnsmasq, { enabled: true, path: path.join(etc, 'dnsmasq.hosts') });
  Object.assign(cfg.proxy, { enabled: true, dir: etc });
}
const written = (t: TestApp) => fs.readdirSync(path.join(t.dataDir, 'etc')).sort();
const FILES = ['dhcpd.hosts', 'dnsmasq.hosts', 'proxy1', 'proxy2', 'proxy3'];
const leaseHolder = async (t: TestApp) => (await t.app.db.selectFrom('schedule_leases').select('owner').where('name', '=', 'dhcp-apply').executeTakeFirst())?.owner;

describe('dhcp apply on two replicas with their own target paths', () => {
  let a: TestApp;
  let b: TestApp;
  let exec: TestApp;
  beforeAll(async () => {
    const overrides = { 'dhcp.subnets': SUBNETS, 'dhcp.callerid.targets': ['test:noc'], 'dhcp.autoApply': true, 'dhcp.autoApplyDelayMs': 300 };
    a = await makeTestApp({ engine: 'mysql', listen: true, overrides });
    ownTargets(a);
    await until('replica A to hold the apply lease', async () => (await leaseHolder(a)) === a.app.services.dhcpApply.owner);
    b = await makeTestApp({ replicaOf: a, listen: true, overrides });
    ownTargets(b);
    // Like `switchboard exec`: no server of its own.
    exec = await makeTestApp({ replicaOf: a, overrides });
    ownTargets(exec);
  });
  afterAll(async () => {
    await exec?.close();
    await b?.close();
    if (!aClosed) await a?.close();
  });
  let aClosed = false;

  it('a change made through exec is applied by the lease holder, in its place only, and exec replies with its outcome', async () => {
    const r = await exec.run('dhcp add mac=00:11:22:33:44:01 ip=10.20.0.11 name=pc-101 access=1');
    expect(r.replies.join('\n')).toMatch(/^Added:[\s\S]*\nApplied 5 file\(s\) \(1 hosts\): 1 added, 0 changed, 0 removed/);
    expect(written(a)).toEqual(FILES);
    expect(fs.readFileSync(path.join(a.dataDir, 'etc', 'proxy1'), 'utf8')).toBe('10.20.0.11\n');
    expect(written(b)).toEqual([]);
    expect(written(exec)).toEqual([]);
    // The change is applied already: the holder's debounced auto-apply has nothing left to do.
    await sleep(800);
    expect(a.chat.texts('noc')).toEqual([]);
    expect(b.chat.texts('noc')).toEqual([]);
  });

  it('asked on the holder and confirmed on the other replica: written in exactly one place, the reply where confirmed', async () => {
    await b.app.services.dhcp.upsertHosts([{ mac: '00:11:22:33:44:02', ip: '10.20.0.12', hostname: 'pc-102', access: 2 }], 't');
    const ask = await a.run('dhcp apply');
    expect(ask.outcome).toBe('confirm');
    const code = /confirm ([A-Z0-9]{6})/.exec(ask.replies[0]!)![1]!;
    const done = await b.run(`confirm ${code}`);
    expect(done.exitCode, done.replies.join('\n')).toBe(0);
    // The "since last apply" snapshot is the cluster's: the auto-apply of pc-101 counts, whoever ran it.
    expect(done.replies.join('\n')).toMatch(/^Applied 5 file\(s\) \(2 hosts\): 1 added, 0 changed, 0 removed since the last apply/);
    expect(fs.readFileSync(path.join(a.dataDir, 'etc', 'proxy2'), 'utf8')).toBe('10.20.0.12\n');
    expect(written(b)).toEqual([]);
    expect(written(exec)).toEqual([]);
  });

  it('exec waits for the holder and prints its result; with the holder gone the next one applies', async () => {
    const r = await exec.run('dhcp apply --dry-run');
    expect(r.replies.join('\n')).toMatch(/Dry run: all checks passed; 0 added, 0 changed, 0 removed since the last apply/);
    expect(written(exec)).toEqual([]);
    const last = await exec.app.db.selectFrom('dhcp_apply_requests').select(['runner', 'asked_by']).orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(last).toEqual({ runner: a.app.services.dhcpApply.owner, asked_by: exec.app.services.dhcpApply.owner });
    await a.close();
    aClosed = true;
    const after = await exec.run('dhcp apply', { confirmed: true });
    expect(after.exitCode, after.replies.join('\n')).toBe(0);
    // A released the lease on its clean stop; B (a running server) or exec took it: files in exactly one of them.
    const places = [b, exec].filter((t) => written(t).length);
    expect(places).toHaveLength(1);
    expect(written(places[0]!)).toEqual(FILES);
  });
});
