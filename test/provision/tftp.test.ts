// The TFTP server with real Debian clients on loopback high ports: curl's tftp://, tftp-hpa and atftp fetch
// phone files and a 2 MB firmware image (blksize 1468, tsize), a missing file and a path outside the root are
// refused with TFTP errors, and a tiny UDP client that drops one ACK gets the block again. Every request is
// in `provision log`.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { file, PROV } from './helpers.js';
import { mixedSheet, MIXED } from './mixed-office.js';

const run = promisify(execFile);

function tool(name: string): string {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/bin']) if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  if (process.env.CI) throw new Error(`${name} is missing (apt-get install ${name === 'tftp' ? 'tftp-hpa' : name})`);
  return '';
}
const CURL = tool('curl');
const TFTP_HPA = tool('tftp');
const ATFTP = tool('atftp');

describe.skipIf(!CURL || !TFTP_HPA || !ATFTP)('TFTP server (real clients, loopback)', () => {
  let t: TestApp;
  let port: number;
  let dir: string;
  const firmware = crypto.randomBytes(2 * 1024 * 1024 + 777);
  let fwPath = '';

  beforeAll(async () => {
    t = await makeTestApp({ listen: true, overrides: { ...PROV, 'provision.tftp': { enabled: true, address: '127.0.0.1', port: 0, timeoutMs: 300, retries: 5 } } });
    port = t.app.services.provision.tftp!.port();
    expect(port).toBeGreaterThan(1023);
    dir = tmpDir('sb-tftp-');
    const r = await t.run('provision', { files: [mixedSheet()] });
    expect((await t.app.jobs.wait(r.jobIds[0]!)).status).toBe('succeeded');
    const add = (await t.run('provision firmware add yealink 66.86.0.20', { files: [file('T46S-66.86.0.20.rom', firmware)] })).replies.join('\n');
    fwPath = /over TFTP as (fw\/[0-9a-f]{64}\/\S+)\)/.exec(add)![1]!;
  });
  afterAll(async () => {
    await t?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('curl fetches every phone file by the name its model asks for, byte for byte', async () => {
    const svc = t.app.services.provision;
    for (const [, mac] of MIXED) {
      for (const name of svc.get(mac.replace(/:/g, ''))!.files) {
        const out = path.join(dir, `curl-${name}`);
        await run(CURL, ['-sS', '-o', out, `tftp://127.0.0.1:${port}/${name}`]);
        expect(fs.readFileSync(out, 'utf8'), name).toBe(svc.fileByName(name)!.body);
      }
    }
  });

  it('curl fetches the 2 MB firmware image with blksize 1468 (and tsize)', async () => {
    const out = path.join(dir, 'curl-fw.bin');
    await run(CURL, ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://127.0.0.1:${port}/${fwPath}`]);
    expect(fs.readFileSync(out).equals(firmware)).toBe(true);
  });

  it('atftp fetches the firmware with blksize 1468 and tsize; tftp-hpa fetches a phone file in binary mode', async () => {
    const http = await fetch(`${t.app.baseUrl()}/provision/805ec07a0003.cfg`, { headers: { 'user-agent': MIXED[2]![3] } });
    expect(http.status).toBe(200);
    const out = path.join(dir, 'atftp-fw.bin');
    await run(ATFTP, ['--option', 'blksize 1468', '--option', 'tsize 0', '-g', '-r', fwPath, '-l', out, '127.0.0.1', String(port)]);
    expect(fs.readFileSync(out).equals(firmware)).toBe(true);
    const name = t.app.services.provision.get('805ec07a0003')!.files[0]!;
    const hpa = path.join(dir, 'hpa.cfg');
    await run(TFTP_HPA, ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', name, hpa]);
    expect(fs.readFileSync(hpa, 'utf8')).toBe(t.app.services.provision.fileByName(name)!.body);
    // a TFTP fetch carries no user agent: the one the phone sent over HTTP before (its firmware) is kept
    const yealink = t.app.services.provision.get('805ec07a0003')!;
    expect(yealink.lastFetchUa).toBe(MIXED.find(([, mac]) => mac === '80:5e:c0:7a:00:03')![3]);
  });

  it('a missing file and a path outside the root are TFTP errors, logged with why', async () => {
    const missing = await run(CURL, ['-sS', '-o', path.join(dir, 'x'), `tftp://127.0.0.1:${port}/0c383e99aa01.cfg`]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(missing?.code).toBe(68); // curl: TFTP file not found
    const outside = await run(CURL, ['-sS', '--path-as-is', '-o', path.join(dir, 'y'), `tftp://127.0.0.1:${port}/../../etc/passwd`]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(outside?.code).toBe(69); // curl: TFTP permission problem (access violation)
    const hpa = await run(TFTP_HPA, ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', '/etc/passwd', path.join(dir, 'z')]).then(
      (r) => r.stdout + r.stderr,
      (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
    );
    expect(hpa).toMatch(/Error code 2|not a file name/i);
    await t.app.services.provision.log.flush();
    const log = (await t.run('provision log 50')).replies.join('\n');
    expect(log).toMatch(/0c383e99aa01\.cfg\s+404\s+not_found\s+TFTP: no phone with MAC 0c:38:3e:99:aa:01 is provisioned/);
    expect(log).toMatch(/400\s+bad_request\s+TFTP: not a file name in the provisioning root/);
    expect(log).toMatch(/cfg000b827a0004\.xml\s+200\s+served\s+TFTP/);
  });

  it('a lost ACK: the server sends the block again, and the transfer completes', async () => {
    const name = t.app.services.provision.get('000b827a0004')!.files[0]!;
    const want = Buffer.from(t.app.services.provision.fileByName(name)!.body);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const got: Buffer[] = [];
    let dropped = false;
    let repeats = 0;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('transfer did not finish')), 10_000);
      sock.on('message', (msg, from) => {
        expect(from.address).toBe('127.0.0.1');
        const op = msg.readUInt16BE(0);
        if (op === 5) return reject(new Error(`TFTP error ${msg.readUInt16BE(2)}: ${msg.subarray(4).toString()}`));
        const block = msg.readUInt16BE(2);
        if (block === got.length)
          repeats++; // the same block again
        else got.push(msg.subarray(4));
        if (block === 1 && !dropped) {
          dropped = true; // lose this ACK
          return;
        }
        sock.send(Buffer.from([0, 4, block >> 8, block & 0xff]), from.port, from.address);
        if (msg.length - 4 < 512) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    sock.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${name}\0octet\0`)]), port, '127.0.0.1');
    await done;
    sock.close();
    expect(repeats).toBe(1);
    expect(Buffer.concat(got).equals(want)).toBe(true);
  });
});
