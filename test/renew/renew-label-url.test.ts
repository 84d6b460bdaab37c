// The renewal label's QR link with the default config (no http.publicUrl): `switchboard exec renew run`, which
// binds no socket, prints an absolute link to the bot (http.host and http.port), never a relative one, and the
// running `switchboard start` on the same store answers it. The PC is a real sshd (fake-pc.ts; root needed).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import jsQRModule from 'jsqr';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/env.js';
import { startProcess, type StartedProcess } from '../helpers/start-process.js';
import { freePort } from '../replicas/harness.js';
import { FakePc } from './fake-pc.js';
import { pdfRects, rasteriseModules } from './pdf-text.js';

// jsqr ships CommonJS with a default export; under NodeNext its type is the module namespace.
const jsQR = ((jsQRModule as unknown as { default?: typeof jsQRModule.default }).default ?? jsQRModule) as unknown as typeof jsQRModule.default;

const SSH_PORT = 20000 + Math.floor(Math.random() * 20000);
const NET = `127.0.${205 + Math.floor(Math.random() * 45)}`;
const BOOT = 'Boot-strap-pw-5519';

function decodePng(png: Buffer): string {
  const img = PNG.sync.read(png);
  const r = jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height);
  if (!r) throw new Error('no QR code found in the label');
  return r.data;
}

describe('renewal label QR link with no http.publicUrl', () => {
  const dir = tmpDir('sb-renew-url-');
  const out = path.join(dir, 'out');
  let pc: FakePc;
  let bot: StartedProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let httpPort = 0;

  beforeAll(async () => {
    const bootFile = path.join(dir, 'bootstrap');
    fs.writeFileSync(bootFile, `${BOOT}\n`, { mode: 0o600 });
    pc = new FakePc({ ip: `${NET}.2`, port: SSH_PORT, hostname: 'pc-label', mac: '02:5b:00:00:07:02', serial: 'SN-L-0702', rootPassword: BOOT });
    await pc.start();
    httpPort = await freePort();
    // Only what a new install sets: no http.publicUrl, http.host left at its default (127.0.0.1).
    const config = path.join(dir, 'switchboard.yaml');
    fs.writeFileSync(config, `dataDir: ${path.join(dir, 'data')}\nhttp:\n  port: ${httpPort}\nrenew:\n  allow: ["${NET}.0/24"]\n  bootstrap:\n    passwordFile: ${bootFile}\n  timeoutMs: 30000\n`);
    env = { SWITCHBOARD_CONFIG: config, SWITCHBOARD_ADMIN_PASSWORD: 'Console!pw-1234', SWITCHBOARD_LOG_LEVEL: 'warn' };
    bot = startProcess(env);
    await bot.url;
  }, 90_000);

  afterAll(async () => {
    if (bot) {
      bot.child.kill('SIGTERM');
      await bot.exited;
    }
    await pc?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exec renew run: the PNG and PDF labels link to http://127.0.0.1:<http.port>/inventory/pc/<mac>, which the running bot answers', async () => {
    const r = await runCli(['exec', '--yes', '--out', out, `renew run ${pc.o.ip} port=${SSH_PORT}`], env, { timeoutMs: 90_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/🏷️ Label for pc-label \(02:5b:00:00:07:02, S\/N SN-L-0702\)/);
    const png = fs.readFileSync(path.join(out, 'label-pc-label.png'));
    const pdf = fs.readFileSync(path.join(out, 'label-pc-label.pdf'));
    const link = `http://127.0.0.1:${httpPort}/inventory/pc/02:5b:00:00:07:02`;
    const qr = JSON.parse(decodePng(png)) as { url: string };
    expect(qr).toEqual({ mac: '02:5b:00:00:07:02', hostname: 'pc-label', serial: 'SN-L-0702', url: link });
    const img = rasteriseModules(pdfRects(pdf));
    expect(JSON.parse(jsQR(img.data, img.width, img.height)!.data)).toEqual(qr);
    // The link is the bot's own address: the running process (same store) answers it with the PC's record.
    expect(await bot!.url).toBe(`http://127.0.0.1:${httpPort}`);
    const res = await fetch(qr.url);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ mac: '02:5b:00:00:07:02', hostname: 'pc-label', serial: 'SN-L-0702' });
  }, 120_000);
});
