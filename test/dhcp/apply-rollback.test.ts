// One apply is all-or-nothing across its whole file set: when installing one file fails after the checkers
// passed, the files already replaced are put back from their previous bytes, no daemon is reloaded, and the
// reply names the step and the file.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { SUBNETS } from './helpers.js';

describe('apply installs all files or none (SQLite)', () => {
  let t: TestApp;
  let dir: string;
  const reloaded = () => path.join(dir, 'reloaded');
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { 'dhcp.subnets': SUBNETS } });
    dir = path.join(t.dataDir, 'etc');
    fs.mkdirSync(dir);
    const cfg = t.app.config.dhcp.backends;
    Object.assign(cfg.isc, { enabled: true, path: path.join(dir, 'dhcpd.hosts'), reload: ['touch', reloaded()] });
    Object.assign(cfg.kea, { enabled: true, path: path.join(dir, 'kea-dhcp4.conf') });
    Object.assign(cfg.dnsmasq, { enabled: true, path: path.join(dir, 'dnsmasq.hosts') });
    await t.app.services.dhcp.upsertHosts([{ mac: '00:11:22:33:44:01', ip: '10.20.0.11', hostname: 'pc-101' }], 't');
    const first = await t.run('dhcp apply', { confirmed: true });
    expect(first.exitCode, first.replies.join('\n')).toBe(0);
    fs.rmSync(reloaded());
    fs.chmodSync(cfg.isc.path!, 0o640);
  });
  afterAll(() => t.close());

  it("a proxy list that is a directory (the last backend in the folder's order): the files already replaced are byte-identical again, no reload, the step is named", async () => {
    const cfg = t.app.config.dhcp.backends;
    const isc = fs.readFileSync(cfg.isc.path!);
    const kea = fs.readFileSync(cfg.kea.path!);
    const dnsmasq = fs.readFileSync(cfg.dnsmasq.path!);
    const proxyDir = path.join(dir, 'squid');
    fs.mkdirSync(path.join(proxyDir, 'proxy1'), { recursive: true });
    Object.assign(cfg.proxy, { enabled: true, dir: proxyDir, check: [] });
    await t.app.services.dhcp.upsertHosts([{ mac: '00:11:22:33:44:02', ip: '10.20.0.12', hostname: 'pc-102' }], 't');
    try {
      const r = await t.run('dhcp apply', { confirmed: true });
      const text = r.replies.join('\n');
      expect(r.exitCode, text).toBe(1);
      expect(text).not.toMatch(/internal error/);
      expect(text).toContain(`Apply failed at step "keep the previous bytes of the live proxy1 file" for ${path.join(proxyDir, 'proxy1')}: ${path.join(proxyDir, 'proxy1')} is a directory`);
      expect(text).toMatch(/The live files are as before \(3 already replaced file\(s\) put back\); no daemon was reloaded\./);
      expect(fs.readFileSync(cfg.isc.path!).equals(isc)).toBe(true);
      expect(fs.readFileSync(cfg.kea.path!).equals(kea)).toBe(true);
      expect(fs.readFileSync(cfg.dnsmasq.path!).equals(dnsmasq)).toBe(true);
      expect(fs.statSync(cfg.isc.path!).mode & 0o777).toBe(0o640);
      expect(fs.readdirSync(path.join(proxyDir, 'proxy1'))).toEqual([]);
      expect(fs.existsSync(reloaded())).toBe(false);
      expect(fs.readdirSync(dir).filter((f) => f.includes('.sb-'))).toEqual([]);
    } finally {
      cfg.proxy.enabled = false;
    }
    // Nothing was recorded as applied: the next apply still reports the new host.
    const again = await t.run('dhcp apply', { confirmed: true });
    expect(again.replies.join('\n')).toMatch(/1 added, 0 changed, 0 removed since the last apply/);
    expect(fs.readFileSync(cfg.isc.path!, 'utf8')).toContain('pc-102');
    expect(fs.existsSync(reloaded())).toBe(true);
  });

  it('a file that did not exist before the apply is removed again', async () => {
    const cfg = t.app.config.dhcp.backends;
    const fresh = path.join(dir, 'dhcpd-new.hosts');
    const oldIsc = cfg.isc.path!;
    const kea = fs.readFileSync(cfg.kea.path!);
    cfg.isc.path! = fresh;
    const dnsmasqDir = path.join(dir, 'dnsmasq.d-again');
    fs.mkdirSync(dnsmasqDir);
    cfg.dnsmasq.path = dnsmasqDir;
    try {
      const r = await t.run('dhcp apply', { confirmed: true });
      expect(r.exitCode).toBe(1);
      expect(r.replies.join('\n')).toMatch(/The live files are as before/);
      expect(fs.existsSync(fresh)).toBe(false);
      expect(fs.readFileSync(cfg.kea.path!).equals(kea)).toBe(true);
    } finally {
      cfg.isc.path! = oldIsc;
      cfg.dnsmasq.path = path.join(dir, 'dnsmasq.hosts');
    }
  });

  it('a candidate that cannot be written (missing directory) names the step and changes nothing', async () => {
    const cfg = t.app.config.dhcp.backends;
    const kea = fs.readFileSync(cfg.kea.path!);
    cfg.dnsmasq.path = path.join(dir, 'no-such-dir', 'dnsmasq.hosts');
    try {
      const r = await t.run('dhcp apply', { confirmed: true });
      const text = r.replies.join('\n');
      expect(r.exitCode).toBe(1);
      expect(text).toMatch(/^❌ Apply aborted at step "write the new dnsmasq file beside the live one" for \/.*\/no-such-dir\/dnsmasq\.hosts: ENOENT/);
      expect(text).toMatch(/No live file was changed\./);
      expect(fs.readFileSync(cfg.kea.path!).equals(kea)).toBe(true);
    } finally {
      cfg.dnsmasq.path = path.join(dir, 'dnsmasq.hosts');
    }
  });
});
