// The Kea control-channel backend against a real kea-dhcp4 (2.2 on Debian 12) listening on a unix socket in a
// temp dir with no interface bound: config-test, then config-set and config-write; a candidate Kea refuses
// changes neither the running configuration nor the file, and the reply carries Kea's own message.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { keaCommand } from '../../src/dhcp/backends/kea-control.js';
import { KEA_SAFE_TEMPLATE, KEA_TEST_SUBNET, startKea, type KeaDaemon } from './kea-daemon.js';

type Reservation = { 'hw-address': string; 'ip-address': string; hostname: string };
const running = async (kea: KeaDaemon) => {
  const a = await keaCommand(kea.socket, 'config-get');
  expect(a.result).toBe(0);
  return a.arguments as { Dhcp4: { subnet4: { subnet: string; reservations?: Reservation[] }[]; 'control-socket'?: unknown } };
};

describe('Kea over its control channel (real kea-dhcp4, no interfaces)', () => {
  let kea: KeaDaemon;
  let t: TestApp;
  let templateFile: string;
  beforeAll(async () => {
    kea = await startKea();
    templateFile = path.join(kea.dir, 'template.json');
    fs.writeFileSync(templateFile, JSON.stringify(KEA_SAFE_TEMPLATE));
    t = await makeTestApp({ overrides: { 'dhcp.subnets': [KEA_TEST_SUBNET], 'dhcp.backends.kea.template': templateFile, 'dhcp.backends.keaControl': { enabled: true, socket: kea.socket } } });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await kea?.stop();
  });

  it('dhcp apply: config-test, config-set, config-write; the control socket survives and the file holds the reservation', async () => {
    expect((await t.run('dhcp add mac=00:11:22:33:44:55 ip=10.99.0.11 name=pc-kea room=101')).exitCode).toBe(0);
    const r = await t.run('dhcp apply', { confirmed: true });
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    expect(r.replies.join('\n')).toMatch(/Applied 1 file\(s\) \(1 hosts\): 1 added, 0 changed, 0 removed since the last apply/);
    const cfg = await running(kea);
    expect(cfg.Dhcp4.subnet4[0]!.reservations).toEqual([expect.objectContaining({ 'hw-address': '00:11:22:33:44:55', 'ip-address': '10.99.0.11', hostname: 'pc-kea' })]);
    // config-write: Kea wrote the new configuration to the file it was started with.
    const onDisk = JSON.parse(fs.readFileSync(kea.config, 'utf8')) as { Dhcp4: { subnet4: { reservations?: Reservation[] }[] } };
    expect(onDisk.Dhcp4.subnet4[0]!.reservations?.map((x) => x.hostname)).toEqual(['pc-kea']);
    // The channel is still open (the socket was kept in the document sent).
    expect((await keaCommand(kea.socket, 'version-get')).result).toBe(0);
  });

  it("a configuration Kea refuses changes nothing, and the reply names Kea's message", async () => {
    const before = JSON.stringify(await running(kea));
    const file = fs.readFileSync(kea.config);
    fs.writeFileSync(templateFile, JSON.stringify({ Dhcp4: { ...KEA_SAFE_TEMPLATE.Dhcp4, 'valid-lifetime': 'forever' } }));
    await t.run('dhcp add mac=00:11:22:33:44:56 ip=10.99.0.12 name=pc-kea2');
    const r = await t.run('dhcp apply', { confirmed: true });
    expect(r.exitCode).toBe(1);
    const text = r.replies.join('\n');
    expect(text).toMatch(/Apply aborted; no live file was changed\. \(SB_DHCP_RENDER_FAILED\)\nkea \(config-test\) check failed:\n.*valid-lifetime/);
    expect(JSON.stringify(await running(kea))).toBe(before);
    expect(fs.readFileSync(kea.config).equals(file)).toBe(true);
  });

  it('an unreachable socket is a failed check naming the socket, not a crash', async () => {
    const r = await keaCommand(path.join(kea.dir, 'nope.sock'), 'config-get').catch((e: Error) => e.message);
    expect(r).toMatch(/cannot reach Kea's control socket .*nope\.sock: ENOENT/);
  });
});
