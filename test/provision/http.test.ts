// The config server as phones see it: their user agents and file names, exact golden bytes, one
// announcement per config version, path traversal refused, basic auth and token URLs, the request log,
// and SIP NOTIFY re-sync received on a loopback UDP socket standing in for the phone.
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { fixture, golden, PROV } from './helpers.js';

const FANVIL_UA = 'Fanvil X1SG 2.12.1 0c383e4d210a';
const AUDC_UA = 'AUDC-IPPhone/2.2.12.126 (405HD; 00908F6F4301)';

/** A raw GET: the path is sent exactly as given (no client-side normalisation of ../). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: Buffer; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function provisionSheet(t: TestApp, line: string, name: string) {
  const r = await t.run(line, { files: [fixture(name)] });
  const job = await t.app.jobs.wait(r.jobIds[0]!);
  expect(job.status, job.error ?? '').toBe('succeeded');
}

const port = (t: TestApp) => (t.app.http.server.address() as AddressInfo).port;
const announcements = (t: TestApp) => t.chat.messages.filter((m) => /fetched its config/.test(m.text));

describe('provisioning HTTP server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ listen: true, overrides: { ...PROV, 'provision.announce.unknown': true, 'provision.announce.targets': ['test:support'] } });
    await provisionSheet(t, 'provision fanvil-x1sg', 'phones-fanvil-en.csv');
    await provisionSheet(t, 'provision audiocodes-405hd', 'phones-audiocodes-pt.csv');
  });
  afterAll(() => t.close());

  it('a Fanvil fetching its own file by its name gets exactly the golden bytes, announced once in the channel', async () => {
    const r = await get(port(t), '/provision/0c383e4d210a.cfg', { 'user-agent': FANVIL_UA });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(golden('fanvil-x1sg', '0c383e4d210a.cfg'));
    const again = await get(port(t), '/provision/0C383E4D210A.cfg', { 'user-agent': FANVIL_UA });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(r.body);
    await new Promise((res) => setTimeout(res, 200));
    const a = announcements(t);
    expect(a.map((m) => m.text)).toEqual(['☎️ Fanvil X1SG 0c:38:3e:4d:21:0a (ext 2301, Atrium) fetched its config from 127.0.0.1']);
    expect(a[0]!.channel).toBe('C1'); // the channel that started the provisioning
    const p = t.app.services.provision.get('0c383e4d210a')!;
    expect(p.lastFetchIp).toBe('127.0.0.1');
    expect(p.lastFetchUa).toBe(FANVIL_UA);
  });

  it('an AudioCodes phone gets its file (any case of the name) and the room in the announcement', async () => {
    const ac = t.app.services.provision.get('00908f6f4301')!;
    const name = ac.files[0]!;
    const r = await get(port(t), `/provision/${name.toUpperCase() === name ? name.toLowerCase() : name.toUpperCase()}`, { 'user-agent': AUDC_UA });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(golden('audiocodes-405hd', name));
    await new Promise((res) => setTimeout(res, 200));
    expect(announcements(t).map((m) => m.text)).toContain('☎️ AudioCodes 405HD 00:90:8f:6f:43:01 (ext 2521, Expedição) fetched its config from 127.0.0.1');
  });

  it('a re-provisioned phone is announced again for its new version', async () => {
    const before = announcements(t).length;
    const r = await t.run('provision fanvil mac=0c:38:3e:4d:21:0c ext=2303 name="Help Desk 2" password=Qm3$zr8Fy6 room=Helpdesk');
    expect(r.replies.join('\n')).toMatch(/1 updated/);
    await get(port(t), '/provision/0c383e4d210c.cfg', { 'user-agent': 'Fanvil X1SG 2.12.1 0c383e4d210c' });
    await get(port(t), '/provision/0c383e4d210c.cfg', { 'user-agent': 'Fanvil X1SG 2.12.1 0c383e4d210c' });
    await new Promise((res) => setTimeout(res, 200));
    expect(announcements(t).length).toBe(before + 1);
  });

  it('served files carry their content type: Fanvil text and AudioCodes key=value as UTF-8 plain text', async () => {
    const f = await get(port(t), '/provision/0c383e4d210b.cfg', { 'user-agent': 'Fanvil X1SG 2.12.1 0c383e4d210b' });
    expect(f.status).toBe(200);
    expect(f.type).toBe('text/plain; charset=utf-8');
    const ac = t.app.services.provision.get('00908f6f4302')!;
    const a = await get(port(t), `/provision/${ac.files[0]}`, { 'user-agent': 'AUDC-IPPhone/2.2.12.126 (405HD; 00908F6F4302)' });
    expect(a.status).toBe(200);
    expect(a.type).toBe('text/plain; charset=utf-8');
  });

  it('model-wide common files get a minimal valid file, never an HTML page', async () => {
    const drivers = t.app.services.provision.drivers;
    const fanvil = drivers.get('fanvil-x1sg')!;
    const probe = ['f0X1SGhw1.100.cfg', 'x1sg.cfg', 'fanvil.cfg', 'F0X1SG.cfg'].find((n) => fanvil.commonFile?.(n, { ...t.app.services.provision.settings(fanvil, '', 1) }));
    expect(probe, 'the Fanvil driver answers at least one common file name').toBeTruthy();
    const r = await get(port(t), `/provision/${probe}`, { 'user-agent': FANVIL_UA });
    expect(r.status).toBe(200);
    expect(r.type).not.toMatch(/html/);
    expect(r.body.toString()).not.toMatch(/<html/i);
  });

  it('path traversal and encoded variants get 400 or 404, never a file outside the root', async () => {
    for (const p of [
      '/provision/../../etc/passwd',
      '/provision/..%2f..%2fetc%2fpasswd',
      '/provision/%2e%2e/%2e%2e/etc/passwd',
      '/provision/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/provision/..%252f..%252fetc%252fpasswd',
      '/provision/....//....//etc/passwd',
      '/provision/..\\..\\etc\\passwd',
      '/provision/%00.cfg',
      '/provision/t/../../etc/passwd',
      '/provision/.provision.key',
      '/provision/',
    ]) {
      const r = await get(port(t), p);
      expect([400, 404], p).toContain(r.status);
      expect(r.body.toString(), p).not.toMatch(/root:/);
    }
    expect((await get(port(t), '/provision/../../etc/passwd')).status).toBe(400);
    expect((await get(port(t), '/provision/%2e%2e/%2e%2e/etc/passwd')).status).toBe(400);
  });

  it('an unknown file is 404 with the reason kept in the request log; an unknown MAC is announced once', async () => {
    const r = await get(port(t), '/provision/0c383e999999.cfg', { 'user-agent': 'Fanvil X1SG 2.12.1 0c383e999999' });
    expect(r.status).toBe(404);
    // The refusal's text leads with its catalogue code (phones ignore the body; people reading it do not).
    expect(r.body.toString()).toBe('SB_PROVISION_NO_SUCH_FILE: no phone with MAC 0c:38:3e:99:99:99 is provisioned\n');
    expect((await get(port(t), '/provision/0c383e999999.cfg')).status).toBe(404);
    const none = await get(port(t), '/provision/nothing-here.txt');
    expect([none.status, none.body.toString()]).toEqual([404, 'SB_PROVISION_NO_SUCH_FILE: no such file\n']);
    const bad = await get(port(t), '/provision/../../etc/passwd');
    expect([bad.status, bad.body.toString()]).toEqual([400, 'SB_PROVISION_BAD_PATH: not a file name in the provisioning root\n']);
    const post = await get(port(t), '/provision/nothing-here.txt', {}, 'POST');
    expect([post.status, post.body.toString()]).toEqual([405, 'SB_HTTP_METHOD_NOT_ALLOWED: method POST is not allowed\n']);
    await new Promise((res) => setTimeout(res, 200));
    const unknown = t.chat.messages.filter((m) => /Unknown phone 0c:38:3e:99:99:99/.test(m.text));
    expect(unknown.length).toBe(1);
    expect(unknown[0]!.channel).toBe('support');
    expect(unknown[0]!.text).toMatch(/\(Fanvil X1SG, firmware 2\.12\.1\) asked for 0c383e999999\.cfg from 127\.0\.0\.1 and was refused/);
    const log = (await t.run('provision log 0c:38:3e:99:99:99')).replies.join('\n');
    expect(log).toMatch(/404\s+not_found\s+no phone with MAC 0c:38:3e:99:99:99 is provisioned/);
    const all = (await t.run('provision log 50')).replies.join('\n');
    expect(all).toMatch(/400\s+bad_request\s+not a file name in the provisioning root/);
    expect(all).toMatch(/200\s+served/);
  });

  it('provision list and show report the last fetch', async () => {
    expect((await t.run('provision list atrium')).replies.join('\n')).toMatch(/0c:38:3e:4d:21:0a .*2301.*Front Office.*from 127\.0\.0\.1/);
    expect((await t.run('provision show 0c-38-3e-4d-21-0a')).replies.join('\n')).toMatch(/last fetch: .* from 127\.0\.0\.1 \(Fanvil X1SG 2\.12\.1 0c383e4d210a\)/);
  });

  it('provision rm deletes the files; the phone then gets 404', async () => {
    const r = await t.run('provision rm 0c:38:3e:4d:21:0d', { confirmed: true });
    expect(r.replies.join('\n')).toMatch(/Removed Fanvil X1SG 0c:38:3e:4d:21:0d \(ext 2304\); deleted 0c383e4d210d\.cfg/);
    expect((await get(port(t), '/provision/0c383e4d210d.cfg')).status).toBe(404);
  });

  describe('SIP NOTIFY re-sync to a loopback socket standing in for the phone', () => {
    let phone: dgram.Socket;
    const got: string[] = [];
    let answer: 'ok' | 'silent' = 'ok';
    beforeAll(async () => {
      phone = dgram.createSocket('udp4');
      phone.on('message', (buf, rinfo) => {
        const text = buf.toString();
        got.push(text);
        if (answer === 'silent') return;
        const hdr = (n: string) => new RegExp(`^${n}: .*$`, 'mi').exec(text)![0];
        phone.send(['SIP/2.0 200 OK', hdr('Via'), hdr('From'), `${hdr('To')};tag=phone1`, hdr('Call-ID'), hdr('CSeq'), 'Content-Length: 0', '', ''].join('\r\n'), rinfo.port, rinfo.address);
      });
      await new Promise<void>((res) => phone.bind(0, '127.0.0.1', res));
      t.app.config.provision.notify.port = (phone.address() as AddressInfo).port;
      t.app.config.provision.notify.timeoutMs = 1500;
    });
    afterAll(() => phone.close());

    it('resync sends NOTIFY with Event: check-sync to the address the phone fetched from and shows the 200', async () => {
      const p = (phone.address() as AddressInfo).port;
      const r = await t.run('provision resync 2301');
      expect(r.exitCode, r.replies.join('\n')).toBe(0);
      expect(r.replies.join('\n')).toMatch(/0c:38:3e:4d:21:0a\s+2301\s+127\.0\.0\.1\s+✓ 200 OK/);
      const msg = got.at(-1)!;
      expect(msg.split('\r\n')[0]).toBe(`NOTIFY sip:2301@127.0.0.1:${p} SIP/2.0`);
      expect(msg).toMatch(/\r\nEvent: check-sync\r\n/);
      expect(msg).toMatch(/\r\nCSeq: 1 NOTIFY\r\n/);
      expect(msg).toMatch(/\r\nVia: SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK[0-9a-f]+;rport\r\n/);
      expect(msg.endsWith('Content-Length: 0\r\n\r\n')).toBe(true);
    });

    it('reboot sends check-sync;reboot=true after confirmation', async () => {
      const ask = await t.run('provision reboot 0c383e4d210a');
      expect(ask.replies.join('\n')).toMatch(/reboot 1 phone \(2301\)/);
      const r = await t.run('provision reboot 0c383e4d210a', { confirmed: true });
      expect(r.exitCode).toBe(0);
      expect(got.at(-1)).toMatch(/\r\nEvent: check-sync;reboot=true\r\n/);
    });

    it('resync all and reboot all ask for confirmation first, and send nothing until confirmed', async () => {
      const n = got.length;
      const all = t.app.services.provision.all().length;
      for (const [line, what] of [
        ['provision resync all', 're-sync'],
        ['provision reboot all', 'reboot'],
      ] as const) {
        const ask = await t.run(line);
        expect(ask.outcome).toBe('confirm');
        expect(ask.replies.join('\n')).toMatch(new RegExp(`^❓ ${what} all ${all} phones? \\(2301.*\\)[^\\n]*\\nTo go ahead, send \`confirm [A-Z0-9]{6}\``));
        expect(ask.jobIds).toEqual([]);
      }
      expect(got.length).toBe(n);
      // A re-sync of one phone goes at once, as before.
      expect((await t.run('provision resync 2301')).outcome).toBe('ok');
      expect(got.length).toBe(n + 1);
      const code = /confirm ([A-Z0-9]{6})/.exec((await t.run('provision resync all')).replies.join('\n'))![1]!;
      const go = await t.run(`confirm ${code}`);
      expect(go.outcome, go.replies.join('\n')).toBe('ok');
      await expect.poll(() => got.length, { timeout: 15_000 }).toBeGreaterThan(n + 1);
      const jobs = await t.app.db.selectFrom('jobs').select('id').where('kind', '=', 'provision-notify').execute();
      for (const j of jobs) await t.app.jobs.wait(j.id);
    });

    it('a phone that does not answer shows a timeout after the retransmissions', async () => {
      answer = 'silent';
      const n = got.length;
      const r = await t.run('provision resync 0c:38:3e:4d:21:0a');
      answer = 'ok';
      expect(r.exitCode).toBe(1);
      expect(r.replies.join('\n')).toMatch(/✗ no answer within 1500 ms/);
      expect(got.length - n).toBeGreaterThanOrEqual(2); // retransmitted
    });

    it('a phone with no known address is reported as such, and nothing is sent', async () => {
      await t.run('provision fanvil mac=0c383e880001 ext=8801 password=Nev3r!fetched');
      const n = got.length;
      const r = await t.run('provision resync 8801');
      expect(r.exitCode).toBe(1);
      expect(r.replies.join('\n')).toMatch(/0c:38:3e:88:00:01\s+8801\s+-\s+✗ address unknown: it never fetched its config and has no ip/);
      expect(got.length).toBe(n);
    });
  });
});

describe('provisioning HTTP server with basic auth and per-phone token URLs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ listen: true, overrides: { ...PROV, 'provision.auth': { user: 'phones', password: 'Pr0v!sion-pw' }, 'provision.tokenUrls': true } });
    await provisionSheet(t, 'provision fanvil-x1sg', 'phones-provisionador.csv');
  });
  afterAll(() => t.close());

  it('401 without or with wrong credentials, 403 without the token, 200 under the token URL', async () => {
    const ok = { authorization: `Basic ${Buffer.from('phones:Pr0v!sion-pw').toString('base64')}`, 'user-agent': 'Fanvil X1SG 2.12.1 0c383e816501' };
    const p = t.app.services.provision.get('0c383e816501')!;
    expect((await get(port(t), '/provision/0c383e816501.cfg')).status).toBe(401);
    expect((await get(port(t), '/provision/0c383e816501.cfg', { authorization: `Basic ${Buffer.from('phones:nope').toString('base64')}` })).status).toBe(401);
    expect((await get(port(t), '/provision/0c383e816501.cfg', ok)).status).toBe(403);
    const r = await get(port(t), `/provision/t/${p.token}/0c383e816501.cfg`, ok);
    expect(r.status).toBe(200);
    const body = r.body.toString();
    expect(body).toContain(`http://10.20.0.5:8080/provision/t/${p.token}/`);
    expect(body).toContain('Pr0v!sion-pw'); // the phone needs the credentials for its re-syncs
    const other = t.app.services.provision.get('0c383e816502')!;
    expect((await get(port(t), `/provision/t/${other.token}/0c383e816501.cfg`, ok)).status).toBe(404);
    expect((await get(port(t), `/provision/t/${'0'.repeat(32)}/0c383e816501.cfg`, ok)).status).toBe(404);
    const log = (await t.run('provision log 20')).replies.join('\n');
    expect(log).toMatch(/401\s+unauthorized\s+no credentials/);
    expect(log).toMatch(/403\s+refused/);
    expect(log).not.toContain('Pr0v!sion-pw');
    expect(t.logs.join('\n')).not.toContain('Pr0v!sion-pw');
  });

  it('refused requests (401, 405) are logged with the file and MAC they asked for; bad paths are still 400', async () => {
    const ua = { 'user-agent': 'Fanvil X1SG 2.12.1 0c383e816502' };
    expect((await get(port(t), '/provision/0c383e816502.cfg', ua)).status).toBe(401);
    expect((await get(port(t), '/provision/0C383E816502.cfg', ua, 'POST')).status).toBe(405);
    expect((await get(port(t), '/provision/../../etc/passwd', ua)).status).toBe(400);
    expect((await get(port(t), '/provision/%2e%2e/0c383e816502.cfg', ua, 'DELETE')).status).toBe(400);
    await t.app.services.provision.log.flush();
    const rows = await t.app.services.provision.log.recent({ mac: '0c383e816502', limit: 10 });
    expect(rows.map((r) => [r.status, r.file, r.mac])).toEqual(
      expect.arrayContaining([
        [401, '0c383e816502.cfg', '0c383e816502'],
        [405, '0C383E816502.cfg', '0c383e816502'],
      ]),
    );
    const log = (await t.run('provision log 0c:38:3e:81:65:02')).replies.join('\n');
    expect(log).toMatch(/0c:38:3e:81:65:02\s+0c383e816502\.cfg\s+401\s+unauthorized\s+no credentials/);
    expect(log).toMatch(/0c:38:3e:81:65:02\s+0C383E816502\.cfg\s+405\s+bad_request\s+method POST is not allowed/);
  });

  it('provision log 101 is the log of extension 101 when such a phone exists; n=… is always the count', async () => {
    const r = await t.run('provision fanvil mac=0c383e550101 ext=101 password=Pw!101abcdef');
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    expect((await get(port(t), '/provision/0c383e550101.cfg')).status).toBe(401);
    const log = (await t.run('provision log 101')).replies.join('\n');
    expect(log).toMatch(/0c:38:3e:55:01:01\s+0c383e550101\.cfg\s+401/);
    expect(log).not.toMatch(/0c:38:3e:81:65:0[12]/);
    const one = (await t.run('provision log n=1')).replies.join('\n');
    expect(
      one
        .trim()
        .split('\n')
        .filter((l) => /\d{3}\s+(served|unauthorized|refused|not_found|bad_request|common)/.test(l)),
    ).toHaveLength(1);
    const both = await t.run('provision log 101 n=2');
    expect(both.replies.join('\n')).toMatch(/0c:38:3e:55:01:01/);
    expect((await t.run('provision log 7 n=2')).replies.join('\n')).toMatch(/"7" is not a MAC address or a provisioned extension/);
  });
});
