import fs from 'node:fs';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { fixture } from '../helpers/env.js';
import { ConfigError } from '../../src/config.js';
import { compileSubnets } from '../../src/dhcp/validate.js';
import { SUBNETS } from './helpers.js';

const file = (name: string, data: Buffer | string) => ({ name, size: Buffer.byteLength(data), fetch: async () => Buffer.from(data) });
const hostsCsv = () => fs.readFileSync(fixture('hosts-sample.csv'));
const count = async (t: TestApp, table: 'dhcp_hosts' | 'dhcp_history') =>
  Number(
    (
      await t.app.db
        .selectFrom(table)
        .select((e) => e.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe.each(['sqlite', 'mysql'] as const)('dhcp import and export on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ engine, overrides: { 'dhcp.subnets': SUBNETS } });
  });
  afterAll(() => t.close());

  it('a column absent from the sheet keeps the existing value; an empty cell in a present column clears it', async () => {
    expect((await t.run('dhcp import', { files: [file('hosts.csv', hostsCsv())] })).replies.join('\n')).toMatch(/Imported: 4 added/);
    const r = await t.run('dhcp import', { files: [file('rename.csv', 'mac,hostname\n3c:52:82:1f:a0:01,ws-alder-b\n')] });
    expect(r.replies.join('\n')).toMatch(/Imported: 0 added, 1 changed, 0 unchanged[\s\S]*ws-alder-b \(3c:52:82:1f:a0:01\): hostname ws-alder → ws-alder-b/);
    expect(await t.app.services.dhcp.getByMac('3c:52:82:1f:a0:01')).toMatchObject({
      hostname: 'ws-alder-b',
      ip: '10.20.0.21',
      room: '210',
      owner: 'Okafor',
      access: 2,
      phones: ['3210'],
      comment: 'Payroll',
    });
    // A new host in the same kind of sheet gets the defaults.
    await t.run('dhcp import', { files: [file('new.csv', 'mac,hostname\n3c:52:82:1f:a0:0a,ws-new\n')] });
    expect(await t.app.services.dhcp.getByMac('3c:52:82:1f:a0:0a')).toMatchObject({ ip: '10.20.0.3', room: null, owner: null, access: 0, phones: [] });
    // Present but empty: cleared.
    await t.run('dhcp import', { files: [file('clear.csv', 'mac,room,owner,phone,access\n3c:52:82:1f:a0:01,,,,\n')] });
    expect(await t.app.services.dhcp.getByMac('3c:52:82:1f:a0:01')).toMatchObject({ hostname: 'ws-alder-b', room: null, owner: null, phones: [], access: 0, comment: 'Payroll' });
  });

  it('export writes formula-like cells as text and export → import round-trips unchanged', async () => {
    const ok = await t.app.services.dhcp.upsertHosts(
      [
        {
          mac: '00:11:22:33:44:0b',
          ip: 'auto',
          hostname: 'pc-formula',
          owner: '=HYPERLINK("x")'.replace(/"/g, "'"),
          room: '+1 floor',
          comment: '-5 dB @noc',
          phones: ['+7 812 555-0001', '+7 812 555-0002'],
        },
      ],
      't',
    );
    expect(ok.ok, JSON.stringify(ok.errors)).toBe(true);
    await t.run('dhcp export');
    const csv = t.chat.last()!.files[0]!.data;
    const line = csv
      .toString()
      .split('\n')
      .find((l) => l.startsWith('00:11:22:33:44:0b'))!;
    expect(line).toContain(",'+1 floor,'+7 812 555-0001;+7 812 555-0002,'=HYPERLINK('x'),");
    expect(line).toContain(",'-5 dB @noc,");
    const before = await t.app.services.dhcp.all();
    const r = await t.run('dhcp import', { files: [file('dhcp-hosts.csv', csv)] });
    expect(r.replies.join('\n')).toMatch(new RegExp(`Imported: 0 added, 0 changed, ${before.length} unchanged`));
    expect(await t.app.services.dhcp.getByMac('00:11:22:33:44:0b')).toMatchObject({
      owner: "=HYPERLINK('x')",
      room: '+1 floor',
      comment: '-5 dB @noc',
      phones: ['+7 812 555-0001', '+7 812 555-0002'],
    });
  });

  it('MAC and hostname are unique: within a batch, against the store, and for dhcp add', async () => {
    const n0 = await count(t, 'dhcp_hosts');
    const dupMac = await t.run('dhcp import', { files: [file('d.csv', 'mac,hostname\naa:bb:cc:00:01:01,u-1\nAA-BB-CC-00-01-01,u-2\n')] });
    expect(dupMac.replies.join('\n')).toMatch(/row 3: mac: aa:bb:cc:00:01:01 appears twice in this batch \(also item 1\)/);
    const dupName = await t.run('dhcp import', { files: [file('d.csv', 'mac,hostname\naa:bb:cc:00:01:02,ws-birch\n')] });
    expect(dupName.replies.join('\n')).toMatch(/row 2: hostname: ws-birch is already used by existing host ws-birch \(3c:52:82:1f:a0:02\)/);
    const inBatch = await t.run('dhcp import', { files: [file('d.csv', 'mac,hostname\naa:bb:cc:00:01:03,same\naa:bb:cc:00:01:04,same\n')] });
    expect(inBatch.replies.join('\n')).toMatch(/row 2: hostname: same is already used by item 2 \(aa:bb:cc:00:01:04\)/);
    const add = await t.run('dhcp add mac=3c52.821f.a002 ip=auto name=other');
    expect(add.exitCode).toBe(1);
    expect(add.replies.join('\n')).toMatch(/A host with MAC 3c:52:82:1f:a0:02 exists \(ws-birch, 10\.20\.0\.22\); use dhcp edit/);
    expect((await t.run('dhcp edit ws-cedar name=ws-birch')).replies.join('\n')).toMatch(/hostname: ws-birch is already used by existing host ws-birch/);
    expect(await count(t, 'dhcp_hosts')).toBe(n0);
  });
});

describe('dhcp commands', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { 'dhcp.subnets': [{ cidr: '10.40.0.0/23', pool: '10.40.1.0-10.40.1.255', gateway: '10.40.0.1' }] } });
    await t.run('users grant test:vic viewer');
    const lines = ['mac,ip,hostname,room,phone,owner,access'];
    for (let i = 0; i < 120; i++) lines.push(`02:00:00:00:00:${i.toString(16).padStart(2, '0')},auto,h-${i},${i < 60 ? 'A1' : 'B2'},${3000 + i},Owner ${i},${i % 4}`);
    expect((await t.run('dhcp import', { files: [file('h.csv', lines.join('\n'))] })).replies.join('\n')).toMatch(/Imported: 120 added/);
  });
  afterAll(() => t.close());

  it('ip=auto in one batch takes consecutive free addresses, skipping the gateway, used addresses and the pool', async () => {
    const hs = await t.app.services.dhcp.all();
    expect(hs[0]!.ip).toBe('10.40.0.2');
    expect(hs.map((h) => h.ip)).toEqual(Array.from({ length: 120 }, (_, i) => `10.40.0.${i + 2}`));
    // A batch that walks past an address the same batch fixes, to the end of the free range; one more fails.
    const mk = (n: number) => [
      { mac: '02:00:00:00:01:ff', ip: '10.40.0.130', hostname: 'fixed' },
      ...Array.from({ length: n }, (_, i) => ({ mac: `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`, ip: 'auto', hostname: `m-${i}` })),
    ];
    const dry = await t.app.services.dhcp.upsertHosts(mk(133), 't', { dryRun: true });
    expect(dry.ok).toBe(true);
    const ips = dry.added.slice(1).map((h) => h.ip);
    expect(ips.slice(0, 9)).toEqual(['10.40.0.122', '10.40.0.123', '10.40.0.124', '10.40.0.125', '10.40.0.126', '10.40.0.127', '10.40.0.128', '10.40.0.129', '10.40.0.131']);
    expect(ips[132]).toBe('10.40.0.255');
    const full = await t.app.services.dhcp.upsertHosts(mk(134), 't', { dryRun: true });
    expect(full.ok).toBe(false);
    expect(full.errors).toEqual([{ index: 134, message: 'ip: auto found no free address in the configured subnets', code: 'SB_DHCP_NO_FREE_IP' }]);
  });

  it('ip=auto allocates 20 000 hosts in one batch, in address order past the pool', async () => {
    const big = await makeTestApp({ overrides: { 'dhcp.subnets': [{ cidr: '10.128.0.0/16', pool: '10.128.255.0-10.128.255.200' }] } });
    try {
      const inputs = Array.from({ length: 20_000 }, (_, i) => ({ mac: (0x020000100000 + i).toString(16).padStart(12, '0').match(/../g)!.join(':'), ip: 'auto', hostname: `a-${i}` }));
      const r = await big.app.services.dhcp.upsertHosts(inputs, 't', { dryRun: true });
      expect(r.ok).toBe(true);
      expect(r.added[0]!.ip).toBe('10.128.0.1');
      expect(r.added[19_999]!.ip).toBe('10.128.78.32');
      expect(new Set(r.added.map((h) => h.ip)).size).toBe(20_000);
    } finally {
      await big.close();
    }
  });

  it('ip=auto fills every subnet when dhcp.subnets is not in address order', async () => {
    const two = await makeTestApp({
      overrides: {
        'dhcp.subnets': [
          { cidr: '10.30.0.0/29', pool: '10.30.0.6-10.30.0.6' },
          { cidr: '10.20.0.0/29', pool: '10.20.0.6-10.20.0.6' },
        ],
      },
    });
    try {
      const inputs = Array.from({ length: 10 }, (_, i) => ({ mac: (0x020000200000 + i).toString(16).padStart(12, '0').match(/../g)!.join(':'), ip: 'auto', hostname: `o-${i}` }));
      const r = await two.app.services.dhcp.upsertHosts(inputs, 't', { dryRun: true });
      expect(r.ok).toBe(true);
      expect(r.added.map((h) => h.ip)).toEqual(['10.20.0.1', '10.20.0.2', '10.20.0.3', '10.20.0.4', '10.20.0.5', '10.30.0.1', '10.30.0.2', '10.30.0.3', '10.30.0.4', '10.30.0.5']);
      const more = await two.app.services.dhcp.upsertHosts([...inputs, { mac: '02:00:00:20:00:99', ip: 'auto', hostname: 'o-x' }], 't', { dryRun: true });
      expect(more.errors).toEqual([{ index: 10, message: 'ip: auto found no free address in the configured subnets', code: 'SB_DHCP_NO_FREE_IP' }]);
    } finally {
      await two.close();
    }
  });

  it('dhcp list pages (50 a page) and filters by room= and access=', async () => {
    const p1 = (await t.run('dhcp list', { user: 'vic' })).replies[0]!;
    expect(p1).toMatch(/^120 host\(s\), page 1\/3:/);
    expect(p1).toMatch(/next: `dhcp list page=2`$/);
    expect(p1.split('\n').filter((l) => /^h-\d+\s/.test(l))).toHaveLength(50);
    const p3 = (await t.run('dhcp list page=3', { user: 'vic' })).replies[0]!;
    expect(p3).toMatch(/page 3\/3/);
    expect(p3.split('\n').filter((l) => /^h-\d+\s/.test(l))).toHaveLength(20);
    expect(p3).not.toMatch(/next:/);
    const room = (await t.run('dhcp list room=B2 access=3', { user: 'vic' })).replies[0]!;
    expect(room).toMatch(/^15 host\(s\), page 1\/1:/);
    const rows = room.split('\n').filter((l) => /^h-\d+\s/.test(l));
    expect(rows).toHaveLength(15);
    for (const l of rows) expect(l).toMatch(/\sB2\s+Owner \d+\s+3\s/);
    const beyond = await t.run('dhcp list page=99', { user: 'vic' });
    expect(beyond.exitCode).toBe(1);
    expect(beyond.replies[0]).toMatch(/There is no page 99: 120 host\(s\) fit on 3 page\(s\) of 50/);
    expect((await t.run('dhcp list room=Z9', { user: 'vic' })).replies[0]).toBe('No hosts with room=Z9.');
    expect((await t.run('dhcp list access=7', { user: 'vic' })).exitCode).toBe(2);
  });

  it('dhcp find searches MAC, IP, hostname, room, phone and owner', async () => {
    const f = async (q: string) => (await t.run(`dhcp find ${q}`, { user: 'vic' })).replies[0]!;
    expect(await f('02:00:00:00:00:0a')).toMatch(/^1 host\(s\):[\s\S]*h-10\s/);
    expect(await f('10.40.0.12')).toMatch(/^3 host\(s\):[\s\S]*h-10\s[\s\S]*h-118\s[\s\S]*h-119\s/);
    expect(await f('h-11')).toMatch(/^11 host\(s\):[\s\S]*h-11\s[\s\S]*h-119\s/);
    expect(await f('3077')).toMatch(/^1 host\(s\):[\s\S]*h-77\s/);
    expect(await f('Owner 99')).toMatch(/^1 host\(s\):[\s\S]*h-99\s/);
    expect(await f('B2')).toMatch(/^60 host\(s\):[\s\S]*… 10 more; refine the search/);
    expect(await f('nothing-like-this')).toBe('No host matches "nothing-like-this".');
  });

  it('dhcp import --dry-run shows what would change and writes nothing', async () => {
    const hist = await count(t, 'dhcp_history');
    const before = await t.app.services.dhcp.all();
    const r = await t.run('dhcp import --dry-run', { files: [file('d.csv', 'mac,room,access\n02:00:00:00:00:00,C3,3\n02:00:00:00:00:01,A1,1\n')] });
    expect(r.exitCode).toBe(0);
    const text = r.replies.join('\n');
    expect(text).toMatch(/^Dry run, nothing written: 0 added, 1 changed, 1 unchanged/);
    expect(text).toMatch(/h-0 \(02:00:00:00:00:00\): room A1 → C3, access 0 → 3/);
    expect(await t.app.services.dhcp.all()).toEqual(before);
    expect(await count(t, 'dhcp_history')).toBe(hist);
  });

  it('imports an XLSX workbook', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('Hosts');
    ws.addRow(['MAC', 'IP', 'Hostname', 'Room', 'Phone', 'Owner', 'Access']);
    ws.addRow(['02-00-00-00-02-01', '10.40.0.200', 'x-1', 'Sala 3º', 4001, 'Иванова', 2]);
    ws.addRow(['0200.0000.0202', 'auto', 'x-2', 'D4', '4002', '', 0]);
    const data = Buffer.from(await wb.xlsx.writeBuffer());
    const r = await t.run('dhcp import', { files: [file('hosts.xlsx', data)] });
    expect(r.replies.join('\n')).toMatch(/Imported: 2 added/);
    expect(await t.app.services.dhcp.getByMac('02:00:00:00:02:01')).toMatchObject({ ip: '10.40.0.200', hostname: 'x-1', room: 'Sala 3º', phones: ['4001'], owner: 'Иванова', access: 2 });
    expect(await t.app.services.dhcp.getByMac('02:00:00:00:02:02')).toMatchObject({ ip: '10.40.0.122', hostname: 'x-2', owner: null, access: 0 });
  });

  it('dhcp edit ip=auto takes the lowest free address', async () => {
    await t.run('dhcp rm h-3', { confirmed: true }); // frees 10.40.0.5
    const r = await t.run('dhcp edit x-1 ip=auto');
    expect(r.replies[0]).toMatch(/Changed:\nx-1  10\.40\.0\.5  02:00:00:00:02:01/);
    expect((await t.run('dhcp edit x-1 ip=auto')).replies[0]).toBe('Nothing changed.');
  });

  it('viewers are refused apply, edit, rm and import with a clear message, and nothing changes', async () => {
    const hist = await count(t, 'dhcp_history');
    for (const cmd of ['dhcp apply', 'dhcp apply --dry-run', 'dhcp edit h-1 room=X', 'dhcp rm h-1', 'dhcp import', 'dhcp add mac=02:00:00:00:09:01 ip=auto name=v']) {
      const r = await t.run(cmd, { user: 'vic', files: [file('h.csv', 'mac,room\n02:00:00:00:00:01,X\n')] });
      expect(r.outcome, cmd).toBe('denied');
      expect(r.replies[0], cmd).toMatch(new RegExp(`^⛔ \`${cmd.split(' ').slice(0, 2).join(' ')}\` needs the operator role; you are viewer`));
    }
    expect(await count(t, 'dhcp_history')).toBe(hist);
    expect((await t.app.services.dhcp.lookup('h-1'))!.room).toBe('A1');
  });
});

describe('dhcp.subnets is checked at start', () => {
  it('names the key and the value', async () => {
    const bad: [unknown, RegExp][] = [
      [{ cidr: '10.50.0.5/24' }, /dhcp\.subnets\[0\]\.cidr = "10\.50\.0\.5\/24": has host bits set; the network is 10\.50\.0\.0\/24/],
      [{ cidr: '10.50.0.0/24', pool: '10.50.1.10-10.50.1.20' }, /dhcp\.subnets\[0\]\.pool = "10\.50\.1\.10-10\.50\.1\.20": must lie inside 10\.50\.0\.0\/24/],
      [{ cidr: '10.50.0.0/24', pool: '10.50.0.20-10.50.0.10' }, /dhcp\.subnets\[0\]\.pool = .*: the first address is after the last/],
      [{ cidr: '10.50.0.0/24', gateway: '10.50.0.255' }, /dhcp\.subnets\[0\]\.gateway = "10\.50\.0\.255": must lie inside 10\.50\.0\.0\/24/],
      [{ cidr: '10.50.0.0/24', gateway: '10.60.0.1' }, /dhcp\.subnets\[0\]\.gateway = "10\.60\.0\.1"/],
      [{ cidr: '10.50.0.0/33' }, /dhcp\.subnets\[0\]\.cidr = "10\.50\.0\.0\/33": is not an IPv4 CIDR/],
    ];
    for (const [s, re] of bad) {
      expect(() => compileSubnets([s as never])).toThrow(re);
      expect(() => compileSubnets([s as never])).toThrow(ConfigError);
    }
    expect(() => compileSubnets([{ cidr: '10.50.0.0/16' }, { cidr: '10.50.4.0/24' }])).toThrow(/dhcp\.subnets\[1\]\.cidr = "10\.50\.4\.0\/24": overlaps dhcp\.subnets\[0\] \(10\.50\.0\.0\/16\)/);
    await expect(makeTestApp({ overrides: { 'dhcp.subnets': [{ cidr: '10.50.0.0/24', pool: '10.51.0.1-10.51.0.9' }] } })).rejects.toThrow(
      /dhcp\.subnets\[0\]\.pool = "10\.51\.0\.1-10\.51\.0\.9": must lie inside 10\.50\.0\.0\/24/,
    );
  });
});

describe('dhcp.backends.kea.template is checked at start', () => {
  it('a missing, unparsable or self-referencing template stops the start naming the key', async () => {
    const dir = fs.mkdtempSync('/tmp/sb-kea-tpl-');
    try {
      const over = (tpl: string, extra: Record<string, unknown> = {}) => ({ 'dhcp.subnets': SUBNETS, 'dhcp.backends.kea.template': tpl, ...extra });
      await expect(makeTestApp({ overrides: over(`${dir}/missing.conf`) })).rejects.toThrow(/dhcp\.backends\.kea\.template = ".*missing\.conf": cannot read it \(ENOENT\)/);
      fs.writeFileSync(`${dir}/bad.conf`, '// no Dhcp4 here\n{ "Dhcp6": {} }');
      await expect(makeTestApp({ overrides: over(`${dir}/bad.conf`) })).rejects.toThrow(/dhcp\.backends\.kea\.template = ".*bad\.conf": has no "Dhcp4" object/);
      fs.writeFileSync(`${dir}/kea.conf`, '{ "Dhcp4": {} }');
      await expect(makeTestApp({ overrides: over(`${dir}/kea.conf`, { 'dhcp.backends.kea.path': `${dir}/kea.conf` }) })).rejects.toThrow(/must not be the file apply writes/);
      const ok = await makeTestApp({ overrides: over(`${dir}/kea.conf`) });
      await ok.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
