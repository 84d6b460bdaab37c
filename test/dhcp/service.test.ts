import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { fixture } from '../helpers/env.js';
import { SUBNETS } from './helpers.js';

const file = (name: string, data: Buffer | string) => ({ name, size: Buffer.byteLength(data), fetch: async () => Buffer.from(data) });

describe.each(['sqlite', 'mysql'] as const)('dhcp hosts on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ engine, overrides: { 'dhcp.subnets': SUBNETS } });
    await t.run('users grant test:vic viewer');
  });
  afterAll(() => t.close());

  it('imports the fixture, canonicalises MACs, allocates auto and exports', async () => {
    const r = await t.run('dhcp import', { files: [file('hosts-sample.csv', fs.readFileSync(fixture('hosts-sample.csv')))] });
    expect(r.replies.join('\n')).toMatch(/Imported: 4 added/);
    const h = await t.app.services.dhcp.getByMac('3c52.821f.a004');
    expect(h).toMatchObject({ mac: '3c:52:82:1f:a0:04', ip: '10.20.0.2', hostname: 'ws-cedar', access: 3, phones: ['+55 (11) 3555-0212'] });
    const exp = await t.run('dhcp export', { user: 'vic' });
    expect(t.chat.last()!.files[0]!.data.toString()).toMatch(/3c:52:82:1f:a0:01,10\.20\.0\.21,ws-alder/);
    expect(exp.exitCode).toBe(0);
  });

  it('viewers read, operators change', async () => {
    expect((await t.run('dhcp show ws-alder', { user: 'vic' })).replies[0]).toMatch(/room: 210\s+owner: Okafor/);
    expect((await t.run('dhcp add mac=00:11:22:33:44:99 ip=auto name=x1', { user: 'vic' })).outcome).toBe('denied');
  });

  it('rejects addresses outside the rules with clear reasons', async () => {
    for (const [ip, why] of [
      ['10.20.0.150', /dynamic pool/],
      ['10.20.0.0', /network address/],
      ['10.20.0.255', /broadcast/],
      ['10.99.0.5', /no configured subnet/],
      ['10.20.0.21', /already used by existing host ws-alder/],
    ] as const) {
      const r = await t.run(`dhcp add mac=aa:bb:cc:00:00:01 ip=${ip} name=newpc`);
      expect(r.exitCode).toBe(1);
      expect(r.replies.join('\n')).toMatch(why);
    }
  });

  it('hostile text is rejected with a clear message and never stored', async () => {
    const bad = ['a"b', 'a;b', 'a{b', 'a}b', 'a#b', 'a\nb', 'a\u0000b', 'x'.repeat(10_000)];
    for (const field of ['room', 'owner', 'comment']) {
      for (const v of bad) {
        const r = await t.app.services.dhcp.upsertHosts([{ mac: 'aa:bb:cc:00:00:02', ip: 'auto', hostname: 'hostile', [field]: v }], 't');
        expect(r.ok).toBe(false);
        expect(r.errors[0]!.message).toMatch(new RegExp(`^${field} (contains|is \\d+ characters)`));
      }
    }
    for (const v of [...bad, 'héllo', 'пк-1', 'a_b', '-ab']) {
      const r = await t.app.services.dhcp.upsertHosts([{ mac: 'aa:bb:cc:00:00:02', ip: 'auto', hostname: v }], 't');
      expect(r.ok).toBe(false);
      expect(r.errors[0]!.message).toMatch(/hostname: .* is not an RFC 1123 label/);
    }
    // Non-ASCII room/owner is allowed and stays out of the unsafe characters.
    const ok = await t.app.services.dhcp.upsertHosts([{ mac: 'aa:bb:cc:00:00:02', ip: 'auto', hostname: 'unicode', room: 'Sala 3º', owner: 'Иванова' }], 't');
    expect(ok.ok).toBe(true);
    expect(await t.app.services.dhcp.getByMac('aa:bb:cc:00:00:02')).toBeTruthy();
  });

  it('a CSV with one bad row among 500 changes nothing and names the row and the reason', async () => {
    const before = (await t.app.services.dhcp.all()).length;
    const lines = ['mac,ip,hostname,room,phone,owner,access'];
    for (let i = 0; i < 500; i++) {
      const mac = `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      lines.push(i === 321 ? `${mac},10.20.0.20,bulk-${i},R1,,,7` : `${mac},auto,bulk-${i},R1,,,1`);
    }
    // 500 hosts do not fit a /24 with its pool; use a larger subnet for this test via extra rows check
    const r = await t.run('dhcp import', { files: [file('bulk.csv', lines.join('\n'))] });
    expect(r.exitCode).toBe(1);
    const text = r.replies.join('\n');
    expect(text).toMatch(/Nothing imported/);
    expect(text).toMatch(/row 323: access: "7" is not 0, 1, 2 or 3/);
    expect((await t.app.services.dhcp.all()).length).toBe(before);
  });

  it('edit, history and rm (with confirmation)', async () => {
    expect((await t.run('dhcp edit 10.20.0.22 room=204 access=0')).replies[0]).toMatch(/Changed:[\s\S]*room: 204/);
    expect((await t.run('dhcp history ws-birch', { user: 'vic' })).replies[0]).toMatch(/edit[\s\S]*add/);
    const ask = await t.run('dhcp rm ws-birch');
    expect(ask.outcome).toBe('confirm');
    expect(await t.app.services.dhcp.lookup('ws-birch')).toBeTruthy();
    expect((await t.run('dhcp rm ws-birch', { confirmed: true })).replies[0]).toMatch(/Removed ws-birch/);
    expect(await t.app.services.dhcp.lookup('ws-birch')).toBeUndefined();
  });
});

describe('dhcp import of 500 rows into a big subnet', () => {
  it('all-or-nothing with the bad row named', async () => {
    const t = await makeTestApp({ overrides: { 'dhcp.subnets': [{ cidr: '10.30.0.0/22', pool: '10.30.3.0-10.30.3.255' }] } });
    try {
      const lines = ['mac,ip,hostname,access'];
      for (let i = 0; i < 500; i++) lines.push(`02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')},auto,${i === 250 ? 'bad host' : `bulk-${i}`},1`);
      const r = await t.run('dhcp import', { files: [file('bulk.csv', lines.join('\n'))] });
      expect(r.replies.join('\n')).toMatch(/Nothing imported: 1 problem\(s\)[\s\S]*row 252: hostname: "bad host" is not an RFC 1123 label/);
      expect(
        await t.app.db
          .selectFrom('dhcp_hosts')
          .select((e) => e.fn.countAll().as('n'))
          .executeTakeFirst(),
      ).toMatchObject({ n: 0 });
      lines[251] = lines[251]!.replace('bad host', 'bulk-250');
      const ok = await t.run('dhcp import', { files: [file('bulk.csv', lines.join('\n'))] });
      expect(ok.replies.join('\n')).toMatch(/Imported: 500 added/);
    } finally {
      await t.close();
    }
  });
});

describe('host checks that say what is wrong, once, in row order', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({
      overrides: {
        'dhcp.subnets': [{ cidr: '10.30.0.0/24', pool: '10.30.0.100-10.30.0.200', gateway: '10.30.0.1', dns: ['10.30.0.2', '10.30.0.4', '8.8.8.8'] }],
        'provision.url': 'http://10.30.0.5:8080/provision/',
        'provision.ntpServer': '10.30.0.6',
      },
    });
  });
  afterAll(() => t.close());

  it('a phone number that is too short is refused as too short, not as having the wrong characters', async () => {
    const r = await t.run('dhcp add mac=aa:bb:cc:00:10:01 ip=auto name=p1 phone=1');
    expect(r.exitCode).toBe(1);
    const text = r.replies.join('\n');
    expect(text).toMatch(/phone: "1" is too short: 1 digit, at least 2/);
    expect(text).not.toMatch(/digits, spaces/);
    expect((await t.run('dhcp add mac=aa:bb:cc:00:10:01 ip=auto name=p1 phone=12x4')).replies.join('\n')).toMatch(
      /phone: "12x4" is not a phone number: "x" is not allowed \(digits, spaces and \+ - \( \) \. only\)/,
    );
    expect((await t.run('dhcp add mac=aa:bb:cc:00:10:01 ip=auto name=p1 phone="+7 812 555-01-01"')).exitCode).toBe(0);
  });

  it("a multicast MAC (first octet's low bit set) is refused as a host's", async () => {
    const r = await t.run('dhcp add mac=01:00:5e:00:00:fb ip=auto name=mc1');
    expect(r.exitCode).toBe(1);
    expect(r.replies.join('\n')).toMatch(/mac: 01:00:5e:00:00:fb is a multicast address \(the first octet is odd\), not a host's/);
    expect(await t.app.services.dhcp.getByMac('01:00:5e:00:00:fb')).toBeFalsy();
  });

  it('ip=auto never hands out the gateway, a DNS server, the provisioning (boot) server or the NTP server the config names', async () => {
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await t.run(`dhcp add mac=aa:bb:cc:00:30:0${i} ip=auto name=auto-${i}`);
      expect(r.exitCode, r.replies.join('\n')).toBe(0);
      got.push((await t.app.services.dhcp.getByMac(`aa:bb:cc:00:30:0${i}`))!.ip);
    }
    // .1 gateway, .2 and .4 DNS, .5 the provisioning server phones boot from, .6 NTP; the host added above took .3.
    expect(got).toEqual(['10.30.0.7', '10.30.0.8', '10.30.0.9']);
  });

  it('import problems are listed by row, and a formula cell once', async () => {
    const csv = ['mac,ip,hostname,phone', 'aa:bb:cc:00:20:01,10.30.0.150,h-1,', 'aa:bb:cc:00:20:02,auto,=1+2,', 'aa:bb:cc:00:20:03,auto,h-3,1', '01:bb:cc:00:20:04,auto,h-4,'].join('\n');
    const r = await t.run('dhcp import', { files: [file('mixed.csv', csv)] });
    expect(r.exitCode).toBe(1);
    const lines = r.replies
      .join('\n')
      .split('\n')
      .filter((l) => /^row \d+:/.test(l));
    expect(lines.map((l) => Number(/^row (\d+)/.exec(l)![1]))).toEqual([2, 3, 4, 5]);
    expect(lines[1]).toMatch(/^row 3: hostname is a formula \(column C\)/);
    expect(r.replies.join('\n').match(/row 3:/g)).toHaveLength(1);
    expect(lines[2]).toMatch(/^row 4: phone: "1" is too short/);
    expect(lines[3]).toMatch(/^row 5: mac: 01:bb:cc:00:20:04 is a multicast address/);
  });
});
