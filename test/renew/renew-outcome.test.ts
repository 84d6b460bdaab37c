// A renewal's final line and status say what happened: every host refused or failed → the job fails (❌, exit
// 1 from `switchboard exec`) and says no password was sent; some renewed → a warning naming how many were not.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/env.js';
import { fakeSsh, type FakeSsh } from './fake-ssh.js';
import { renewHeadline } from '../../commands/renew.js';

/** A loopback port nothing listens on. */
async function closedPort(host: string): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('renewHeadline', () => {
  const st = (...s: string[]) => s.map((status) => ({ status }) as { status: 'ok' });
  it('fails when nothing was renewed, warns when some hosts were not, and counts the DMs', () => {
    expect(renewHeadline(st('refused'), { sent: 0, kept: 0 })).toEqual({
      failed: true,
      text: "No host renewed (1 refused, of 1); no account was replaced. `renew log <request>` shows each host's steps.",
    });
    expect(renewHeadline(st('refused', 'failed', 'failed'), { sent: 0, kept: 0 }).text).toMatch(/^No host renewed \(1 refused, 2 failed, of 3\)/);
    const some = renewHeadline(st('ok', 'refused', 'warning'), { sent: 2, kept: 0 });
    expect(some).toEqual({
      failed: false,
      text: "⚠️ 2/3 host(s) renewed, 1 not (1 refused: see the table), 1 with warnings; passwords and user sheets were sent to you by direct message for the renewed host(s). `renew log <request>` shows each host's steps.",
    });
    expect(renewHeadline(st('ok', 'ok'), { sent: 2, kept: 0 }).text).toBe(
      "2/2 host(s) renewed; passwords and user sheets were sent to you by direct message. `renew log <request>` shows each host's steps.",
    );
    expect(renewHeadline(st('ok', 'ok'), { sent: 1, kept: 1 }).text).toMatch(
      /^2\/2 host\(s\) renewed; 1 password\(s\) and user sheet\(s\) were sent to you by direct message; 1 could not be sent and wait for `renew resend <request>`\./,
    );
  });
});

describe('renew run where no host is renewed', () => {
  let t: TestApp;
  let pc: FakeSsh;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { 'renew.allow': ['127.0.9.0/24'], 'renew.timeoutMs': 5000 } });
    pc = await fakeSsh('127.0.9.60', { keys: 1, acceptKey: true });
    // A pin that does not match the key the PC presents: the host is refused before anything is sent.
    await t.app.services.renew.inventory.pin(pc.host, pc.port, 'ssh-ed25519', 'SHA256:pinned-earlier-for-another-key');
  });
  afterAll(async () => {
    await pc?.close();
    await t?.close();
  });

  it('a refused host and an unreachable one: the job fails and says no password was sent', async () => {
    // One port for both: the fake PC listens on its own address only, so 127.0.9.61 refuses the connection.
    const r = await t.run(`renew run ${pc.host} 127.0.9.61 port=${pc.port}`, { confirmed: true });
    expect(r.exitCode).toBe(0);
    const job = await t.app.jobs.wait(r.jobIds[0]!);
    expect(job.status).toBe('failed');
    expect(job.result).toBeNull();
    expect(job.error).toMatch(/^No host renewed \(1 refused, 1 failed, of 2\); no account was replaced\./);
    expect(job.error).toMatch(new RegExp(`${pc.host.replace(/\./g, '\\.')}\\s+#\\d+\\s+refused\\s+.*host key of`));
    expect(job.error).toMatch(/127\.0\.9\.61\s+#\d+\s+failed\s+.*ECONNREFUSED/);
    expect(job.error).not.toMatch(/were sent to you/);
    const shown = t.chat.messages.filter((m) => m.text.includes(`Job #${job.id}`)).at(-1)!.text;
    expect(shown).toMatch(new RegExp(`^❌ Job #${job.id} renew 2 hosts: failed — No host renewed`));
    expect(shown).not.toMatch(/✅|passwords .* were sent/);
  });

  it('`switchboard exec renew run` exits 1 when the only host failed', async () => {
    const dir = tmpDir('sb-renew-exec-');
    const port = await closedPort('127.0.9.62');
    const config = path.join(dir, 'switchboard.yaml');
    fs.writeFileSync(config, `dataDir: ${dir}\nrenew:\n  allow: ["127.0.9.0/24"]\n`);
    const r = await runCli(['exec', '--config', config, '--yes', `renew run 127.0.9.62 port=${port}`]);
    expect(r.stdout).toMatch(/❌ Job #\d+ renew 1 host: failed — No host renewed \(1 failed, of 1\)/);
    expect(r.stdout).not.toMatch(/were sent to you/);
    expect(r.code).toBe(1);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
