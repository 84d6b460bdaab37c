// `dhcp add`/`edit`/`rm` reply after the change is live, not before: with dhcp.autoApply the reply waits for the
// render, dhcpd's own check and the swap, and says so; a refused candidate is a failed command that says the
// host is in the store but not live, with the live file untouched. Without autoApply the reply says "not live yet".
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { SUBNETS } from './helpers.js';

const DHCPD_CHECK = ['dhcpd', '-t', '-cf', '{wrapper}'];

describe('a host change with dhcp.autoApply replies after the apply', () => {
  let t: TestApp;
  let live: string;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { 'dhcp.subnets': SUBNETS, 'dhcp.autoApply': true } });
    const dir = path.join(t.dataDir, 'etc');
    fs.mkdirSync(dir);
    live = path.join(dir, 'dhcpd.hosts');
    Object.assign(t.app.config.dhcp.backends.isc, { enabled: true, path: live, check: DHCPD_CHECK });
  });
  afterAll(() => t.close());

  it('dhcp add: when the reply comes, dhcpd checked the file and it is live', async () => {
    const r = await t.run('dhcp add mac=00:11:22:33:44:c1 ip=10.20.0.61 name=pc-live-1');
    const text = r.replies.join('\n');
    expect(r.exitCode, text).toBe(0);
    // Read at the moment of the reply: the old order replied "Added" while the file did not exist yet.
    expect(fs.existsSync(live) ? fs.readFileSync(live, 'utf8') : '').toMatch(/# pc-live-1\n[\s\S]*fixed-address 10\.20\.0\.61;/);
    expect(text).toMatch(/^Added:\n[\s\S]*pc-live-1[\s\S]*\nApplied 1 file\(s\) \(1 hosts\): 1 added, 0 changed, 0 removed since the last apply/);
  });

  it('dhcp edit and dhcp rm: the same', async () => {
    const e = await t.run('dhcp edit pc-live-1 ip=10.20.0.62');
    expect(e.exitCode, e.replies.join('\n')).toBe(0);
    expect(fs.readFileSync(live, 'utf8')).toContain('10.20.0.62');
    expect(e.replies.join('\n')).toMatch(/\nApplied 1 file\(s\) \(1 hosts\): 0 added, 1 changed, 0 removed/);
    const r = await t.run('dhcp rm pc-live-1', { confirmed: true });
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    expect(fs.readFileSync(live, 'utf8')).not.toContain('pc-live-1');
    expect(r.replies.join('\n')).toMatch(/Removed pc-live-1[\s\S]*\nApplied 1 file\(s\) \(0 hosts\): 0 added, 0 changed, 1 removed/);
  });

  it('a candidate the checker refuses: the command fails, says the host is not live, and the live file is as before', async () => {
    await t.run('dhcp add mac=00:11:22:33:44:c2 ip=10.20.0.63 name=pc-live-2');
    const before = fs.readFileSync(live, 'utf8');
    t.app.config.dhcp.backends.isc!.check = ['sh', '-c', 'echo "dhcpd: refused for this test" >&2; exit 1'];
    try {
      const r = await t.run('dhcp add mac=00:11:22:33:44:c3 ip=10.20.0.64 name=pc-refused');
      const text = r.replies.join('\n');
      expect(r.exitCode, text).toBe(1);
      expect(text).toMatch(/Added:[\s\S]*pc-refused[\s\S]*in the store but NOT live: the apply failed and the live files are as they were/);
      expect(text).toContain('refused for this test');
      expect(fs.readFileSync(live, 'utf8')).toBe(before);
      expect(await t.app.services.dhcp.getByMac('00:11:22:33:44:c3')).toMatchObject({ hostname: 'pc-refused' });
    } finally {
      t.app.config.dhcp.backends.isc!.check = DHCPD_CHECK;
    }
  });
});

describe('a host change without dhcp.autoApply', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { 'dhcp.subnets': SUBNETS } });
    Object.assign(t.app.config.dhcp.backends.isc, { enabled: true, path: path.join(t.dataDir, 'dhcpd.hosts'), check: DHCPD_CHECK });
  });
  afterAll(() => t.close());

  it('says the host is not live yet and how to make it so; no file is written', async () => {
    const r = await t.run('dhcp add mac=00:11:22:33:44:d1 ip=10.20.0.71 name=pc-later');
    expect(r.exitCode).toBe(0);
    expect(r.replies.join('\n')).toMatch(/^Added:\n[\s\S]*\nNot live yet: `dhcp apply` writes it to the DHCP\/proxy files \(dhcp\.autoApply is off\)\.$/);
    expect(fs.existsSync(path.join(t.dataDir, 'dhcpd.hosts'))).toBe(false);
  });
});
