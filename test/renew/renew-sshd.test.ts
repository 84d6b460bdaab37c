// Integration: two "PCs" (real sshd in private mount/UTS/PID namespaces) renewed by `renew run`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { Client } from 'ssh2';
import { PNG } from 'pngjs';
import jsQRModule from 'jsqr';

// jsqr ships CommonJS with a default export; under NodeNext its type is the module namespace.
const jsQR = ((jsQRModule as unknown as { default?: typeof jsQRModule.default }).default ?? jsQRModule) as unknown as typeof jsQRModule.default;
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { FakePc } from './fake-pc.js';
import { connect, deploy, installPublicKey } from '../../drivers/targets/linux-ssh.js';
import { scrub } from '../../src/secrets.js';
import { generatePassword } from '../../src/renew/passwords.js';
import { pdfRects, pdfText, rasteriseModules } from './pdf-text.js';

const PORT = 20000 + Math.floor(Math.random() * 20000);
const BOOT = 'Boot-strap-pw-7731';
const NET = `127.0.${5 + Math.floor(Math.random() * 200)}`;

function passwordLogin(host: string, port: number, username: string, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('ready', () => {
      c.exec('id -un; getent passwd "$(id -un)" | cut -d: -f7', (err, ch) => {
        if (err) return reject(err);
        let out = '';
        ch.on('data', (d: Buffer) => (out += d.toString()));
        ch.on('close', () => {
          c.end();
          resolve(out);
        });
      });
    });
    c.once('error', reject);
    c.connect({ host, port, username, password, readyTimeout: 10_000, tryKeyboard: false, hostVerifier: () => true });
  });
}

/** An interactive login with a pty (sshd records it in the PC's utmp, so `who` lists the user). */
function ptySession(host: string, port: number, username: string, password: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('ready', () => c.shell({ term: 'vt100' }, (err, ch) => (err ? reject(err) : (ch.on('data', () => undefined), resolve(c)))));
    c.once('error', reject);
    c.connect({ host, port, username, password, readyTimeout: 10_000, tryKeyboard: false, hostVerifier: () => true });
  });
}

function sampleProcesses(into: string[]): () => void {
  let stop = false;
  const tick = () => {
    if (stop) return;
    execFile('ps', ['-eo', 'args'], { maxBuffer: 16 << 20 }, (_e, out) => {
      if (out) into.push(out);
      setTimeout(tick, 40);
    });
  };
  tick();
  return () => {
    stop = true;
  };
}

function decodeQr(png: Buffer): string {
  const img = PNG.sync.read(png);
  const r = jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height);
  if (!r) throw new Error('no QR code found in the label');
  return r.data;
}

describe('renew run against two real sshd PCs', () => {
  let t: TestApp;
  let a: FakePc;
  let b: FakePc;
  let dir: string;
  const psSamples: string[] = [];
  const passwords: string[] = [];

  beforeAll(async () => {
    dir = tmpDir('sb-renew-');
    const bootFile = path.join(dir, 'bootstrap');
    fs.writeFileSync(bootFile, `${BOOT}\n`, { mode: 0o600 });
    a = new FakePc({ ip: `${NET}.2`, port: PORT, hostname: 'pc-a', mac: '02:5b:00:00:00:02', serial: 'SN-A-0002', rootPassword: BOOT });
    b = new FakePc({ ip: `${NET}.3`, port: PORT, hostname: 'pc-b', mac: '02:5b:00:00:00:03', serial: 'SN-B-0003', rootPassword: BOOT });
    await a.start();
    await b.start();
    // Previously managed accounts (with a running session and files), and an unmanaged one that must stay.
    for (const [pc, old] of [
      [a, 'USERSS002-0001'],
      [b, 'USERSS003-0007'],
    ] as const) {
      pc.sh(`useradd --badname -m -s /bin/bash ${old} && echo hello > /home/${old}/notes.txt && useradd -m -s /bin/sh alice`);
      pc.startSession(old);
      pc.sh('chpasswd', 'alice:Alice-pw-30571\n');
    }
    t = await makeTestApp({
      overrides: {
        'renew.allow': [`${NET}.0/24`],
        'renew.ssh.port': PORT,
        'renew.bootstrap.passwordFile': bootFile,
        'renew.timeoutMs': 30_000,
        'http.publicUrl': 'https://sb.example.test',
      },
    });
  });

  afterAll(async () => {
    await t?.close();
    await a?.destroy();
    await b?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sweeps the allowed network and refuses others', async () => {
    const r = await t.run(`renew scan ${NET} range=1,6 port=${PORT}`);
    expect(r.exitCode).toBe(0);
    expect(r.replies[0]).toMatch(new RegExp(`2 of 6 host\\(s\\) in ${NET.replace(/\./g, '\\.')}\\.0/24 answer on port ${PORT}`));
    expect(r.replies[0]).toContain(`${NET}.2\n${NET}.3`);
    const bad = await t.run('renew scan 10.20.30 range=1,2');
    expect(bad.exitCode).toBe(1);
    expect(bad.replies[0]).toMatch(/not on the renew allow list .* 10\.20\.30\.1, 10\.20\.30\.2 refused/);
    const badRun = await t.run('renew run 10.20.30.4', { confirmed: true });
    expect(badRun.exitCode).toBe(1);
    expect(badRun.replies[0]).toMatch(/not on the renew allow list/);
  });

  it('asks for confirmation before changing live machines', async () => {
    const r = await t.run(`renew run ${NET} range=2,3`);
    expect(r.jobIds).toEqual([]);
    expect(r.replies.join('\n')).toMatch(/renew the local account on 127\.0\.\d+\.2, 127\.0\.\d+\.3/);
  });

  it('renews both PCs: old account gone, new one with bash and a working password, facts, sheet and label', async () => {
    // alice is logged in on pc-a (a pty session, recorded in its utmp): the logged-in users fact must say so.
    const alice = await ptySession(a.o.ip, PORT, 'alice', 'Alice-pw-30571');
    const stop = sampleProcesses(psSamples);
    const r = await t.run(`renew run ${NET} range=2,3`, { confirmed: true });
    expect(r.exitCode).toBe(0);
    const job = await t.app.jobs.wait(r.jobIds[0]!);
    stop();
    alice.end();
    expect(job.status, job.error ?? '').toBe('succeeded');
    expect(psSamples.length).toBeGreaterThan(3);
    // The sampler did see the deploy script running (so the "no password in ps" check below means something).
    expect(psSamples.join('\n')).toMatch(/\/bin\/sh \/tmp\/sb-renew\.\w+\/deploy\.sh USERSS00[23]-\d{4} \^USERSS/);

    const dms = t.chat.messages.filter((m) => m.dmTo === 'admin');
    expect(dms).toHaveLength(2);
    for (const [pc, old] of [
      [a, 'USERSS002-0001'],
      [b, 'USERSS003-0007'],
    ] as const) {
      const dm = dms.find((m) => m.text.includes(`(${pc.o.ip},`))!;
      expect(dm.secret).toBe(true);
      const m = /: (USERSS\d{3}-\d{4}) \/ password: (\S+)$/.exec(dm.text)!;
      const [, account, password] = m;
      passwords.push(password!);
      expect(account).toMatch(new RegExp(`^USERSS00${pc === a ? 2 : 3}-\\d{4}$`));
      expect(password).toHaveLength(16);
      const users = pc.passwd();
      expect(users.find((u) => u.name === old)).toBeUndefined();
      expect(pc.homeExists(old)).toBe(false);
      expect(users.find((u) => u.name === 'alice')).toBeDefined();
      expect(users.find((u) => u.name === account)?.shell).toBe('/bin/bash');
      expect(pc.homeExists(account!)).toBe(true);
      expect(users.filter((u) => /^USERSS\d{3}-\d{4}$/.test(u.name))).toHaveLength(1);
      // The old session was ended.
      expect(pc.sh("ps -eo user:32,args | grep 'sleep 600' | grep -v grep || true")).toBe('');
      // Password login with the generated password.
      const out = await passwordLogin(pc.o.ip, PORT, account!, password!);
      expect(out).toBe(`${account}\n/bin/bash\n`);
      // User sheet PDF in the DM.
      expect(dm.files).toHaveLength(1);
      expect(dm.files[0]!.name).toMatch(/\.pdf$/);
      expect(dm.files[0]!.data.subarray(0, 5).toString()).toBe('%PDF-');
      const request = Number(/request #(\d+)/.exec(dm.text)![1]);
      const sheet = pdfText(dm.files[0]!.data);
      expect(sheet).toContain(`Account: \n${account}`);
      expect(sheet).toContain(`Password: \n${password}`);
      expect(sheet).toContain(`PC: \n${pc.o.hostname} (${pc.o.ip}, ${pc.o.mac})`);
      expect(sheet).toContain(`Date: \n${new Date().toISOString().slice(0, 10)}`);
      expect(sheet).toContain(`Request: \n#${request}`);
      // The password is registered with the scrubber only while the job runs: released now.
      expect(scrub(`x ${password} y`)).toBe(`x ${password} y`);
      // Facts in the inventory.
      const inv = await t.run(`inventory pc ${pc.o.mac}`);
      expect(inv.replies[0]).toContain(`PC ${pc.o.hostname} — ${pc.o.mac}`);
      expect(inv.replies[0]).toContain(`serial ${pc.o.serial}`);
      const osName = pc.sh('. /etc/os-release; printf %s "$PRETTY_NAME"');
      expect(osName).toMatch(/^Debian GNU\/Linux/);
      expect(inv.replies[0]).toContain(`OS ${osName}, kernel Linux `);
      expect(inv.replies[0]).toContain(`logged in at renewal: ${pc === a ? 'alice' : 'nobody'}`);
      expect(inv.replies[0]).toContain(`account ${account}`);
      const row = await t.app.db.selectFrom('pcs').selectAll().where('mac', '=', pc.o.mac).executeTakeFirstOrThrow();
      const facts = JSON.parse(row.facts!);
      expect(facts).toMatchObject({ hostname: pc.o.hostname, mac: pc.o.mac, ip: pc.o.ip, serial: pc.o.serial, os: osName, users: pc === a ? 'alice' : '' });
      expect(facts.kernel).toMatch(/^Linux /);
      expect(facts.ramKb).toBeGreaterThan(0);
      expect(facts.diskKb).toBeGreaterThan(0);
      expect(facts.cpu).not.toBe('');
      // Label: PNG + PDF posted to the channel; the QR decodes to the PC's record.
      const label = t.chat.messages.find((m) => m.channel === 'C1' && m.text.includes(`Label for ${pc.o.hostname}`))!;
      expect(label.files.map((f) => f.name)).toEqual([`label-${pc.o.hostname}.png`, `label-${pc.o.hostname}.pdf`]);
      expect(label.files[1]!.data.subarray(0, 5).toString()).toBe('%PDF-');
      const qr = JSON.parse(decodeQr(label.files[0]!.data));
      expect(qr).toEqual({ mac: pc.o.mac, hostname: pc.o.hostname, serial: pc.o.serial, url: `https://sb.example.test/inventory/pc/${pc.o.mac}` });
      // The label PDF's QR (its filled squares, rasterised) decodes to the same record.
      const img = rasteriseModules(pdfRects(label.files[1]!.data));
      expect(JSON.parse(jsQR(img.data, img.width, img.height)!.data)).toEqual(qr);
    }
    // Both PCs were renewed at the same time (renew.concurrency, default 8).
    expect(t.app.config.renew.concurrency).toBe(8);
    const reqs = await t.app.db.selectFrom('renew_requests').selectAll().where('job_id', '=', job.id).execute();
    expect(reqs).toHaveLength(2);
    expect(reqs[0]!.created_at).toBeLessThan(reqs[1]!.finished_at!);
    expect(reqs[1]!.created_at).toBeLessThan(reqs[0]!.finished_at!);
    const firstDeploy = await Promise.all(reqs.map(async (q) => (await t.app.services.renew.inventory.logLines(q.id)).find((l) => l.message.startsWith('renewing: new account'))!.at));
    for (const q of reqs) for (const at of firstDeploy) expect(at).toBeLessThan(q.finished_at!);
    // The uploaded script is gone from both PCs.
    for (const pc of [a, b]) expect(pc.sh('ls -d /tmp/sb-renew.* 2>/dev/null || true')).toBe('');
    // Step log with levels.
    const req = (await t.app.db.selectFrom('renew_requests').selectAll().where('host', '=', a.o.ip).executeTakeFirstOrThrow()).id;
    const log = await t.run(`renew log ${req}`);
    expect(log.replies[0]).toMatch(/INFO\s+host key pinned on first contact \(TOFU\): ssh-ed25519 SHA256:/);
    expect(log.replies[0]).toMatch(/WARNING\s+the bot's key is not accepted/);
    // The pin was taken (stored) on the first connection, before the bootstrap password was used.
    expect(log.replies[0].indexOf('host key pinned on first contact')).toBeLessThan(log.replies[0].indexOf("the bot's key is not accepted"));
    expect(log.replies[0]).toMatch(/INFO\s+\[pc\] deleted account USERSS002-0001/);
    expect(log.replies[0]).toMatch(/DEBUG\s+\[pc\] deploy script running in \/tmp\/sb-renew\./);
    expect((await t.run(`renew log ${req} WARNING`)).replies[0]).not.toMatch(/INFO/);
    // The bot's private key is in the store, sealed (every replica uses the same one), never on disk or in clear.
    expect(fs.existsSync(path.join(t.dataDir, 'renew/id_ed25519'))).toBe(false);
    const sealed = await t.app.db.selectFrom('store_secrets').select('sealed').where('name', '=', 'renew-ssh-key').executeTakeFirstOrThrow();
    expect(sealed.sealed).toMatch(/^v1:/);
    expect(sealed.sealed).not.toContain('PRIVATE KEY');
  });

  it('a re-run on the same PC skips the key step and leaves exactly one managed account', async () => {
    const stop = sampleProcesses(psSamples);
    const r = await t.run(`renew run ${a.o.ip}`, { confirmed: true });
    const job = await t.app.jobs.wait(r.jobIds[0]!);
    stop();
    expect(job.status).toBe('succeeded');
    const dm = t.chat.messages.filter((m) => m.dmTo === 'admin').pop()!;
    const [, account, password] = /: (USERSS\d{3}-\d{4}) \/ password: (\S+)$/.exec(dm.text)!;
    passwords.push(password!);
    expect(
      a
        .passwd()
        .filter((u) => /^USERSS\d{3}-\d{4}$/.test(u.name))
        .map((u) => u.name),
    ).toEqual([account]);
    expect(await passwordLogin(a.o.ip, PORT, account!, password!)).toBe(`${account}\n/bin/bash\n`);
    const data = JSON.parse(job.result!).data.results[0];
    const log = await t.run(`renew log ${data.request}`);
    expect(log.replies[0]).toMatch(/PC 02:5b:00:00:00:02 is inventoried and the bot's key works: key step skipped/);
    const hist = await t.run('inventory accounts pc-a');
    expect(hist.replies[0].split('\n').filter((l) => /USERSS002/.test(l))).toHaveLength(2);
    expect(hist.replies[0]).toMatch(/current/);
    const csv = await t.run('inventory export');
    const file = t.chat.last()!.files[0]!;
    expect(csv.exitCode).toBe(0);
    expect(file.name).toBe('inventory.csv');
    expect(file.data.toString()).toMatch(/^mac,hostname,ip,account/);
    expect(file.data.toString()).toContain(`02:5b:00:00:00:03,pc-b,${b.o.ip},USERSS003-`);
  });

  it('refuses a host whose key changed, with both fingerprints, while the other proceeds', async () => {
    const pinned = (await t.app.db.selectFrom('known_hosts').selectAll().where('host', '=', b.o.ip).executeTakeFirstOrThrow()).fingerprint;
    await b.stop();
    b.rekey();
    await b.start();
    const before = b
      .passwd()
      .filter((u) => /^USERSS/.test(u.name))
      .map((u) => u.name);
    // Plus an address with no PC at all: its failure must not stop the others either.
    const r = await t.run(`renew run ${b.o.ip} ${NET}.9 ${a.o.ip}`, { confirmed: true });
    const job = await t.app.jobs.wait(r.jobIds[0]!);
    expect(job.status).toBe('succeeded');
    const results = JSON.parse(job.result!).data.results as { host: string; status: string; error: string | null }[];
    expect(results.map((x) => x.host)).toEqual([b.o.ip, `${NET}.9`, a.o.ip]);
    expect(results[1]).toMatchObject({ status: 'failed', error: expect.stringMatching(/ECONNREFUSED/) });
    expect(results.find((x) => x.host === a.o.ip)!.status).toBe('ok');
    expect(t.chat.messages.filter((m) => m.text.includes(`Job #${job.id}`)).at(-1)!.text).toMatch(
      /^✅ Job #\d+ .*\n⚠️ 1\/3 host\(s\) renewed, 2 not \(1 refused, 1 failed: see the table\); passwords and user sheets were sent to you by direct message for the renewed host\(s\)\./,
    );
    expect(results.find((x) => x.host === b.o.ip)!.status).toBe('refused');
    const warn = t.chat.messages.find((m) => m.channel === 'C1' && m.text.startsWith(`⛔ ${b.o.ip}`))!;
    expect(warn.text).toContain(`host key of ${b.o.ip}:${PORT} CHANGED — pinned ${pinned}, presented SHA256:`);
    expect(warn.text).not.toContain(`presented ${pinned}`);
    expect(
      b
        .passwd()
        .filter((u) => /^USERSS/.test(u.name))
        .map((u) => u.name),
    ).toEqual(before);
    const dm = t.chat.messages.filter((m) => m.dmTo === 'admin').pop()!;
    passwords.push(/password: (\S+)$/.exec(dm.text)![1]!);
  });

  it('never lets a generated password out: logs, audit, channel, job rows, step logs, process lists', async () => {
    expect(passwords.length).toBe(4);
    const audit = JSON.stringify(await t.app.db.selectFrom('audit_log').selectAll().execute());
    const jobs = JSON.stringify(await t.app.db.selectFrom('jobs').selectAll().execute());
    const steps = JSON.stringify(await t.app.db.selectFrom('renew_log').selectAll().execute());
    const reqs = JSON.stringify(await t.app.db.selectFrom('renew_requests').selectAll().execute());
    const pcs = JSON.stringify(await t.app.db.selectFrom('pcs').selectAll().execute());
    const channel = t.chat.messages.filter((m) => !m.dmTo).flatMap((m) => [m.text, ...m.edits, ...m.files.map((f) => f.data.toString('latin1'))]);
    const logs = t.logs.join('');
    expect(logs.length).toBeGreaterThan(0);
    expect(psSamples.join('').length).toBeGreaterThan(0);
    for (const pw of [...passwords, BOOT]) {
      for (const [what, text] of [
        ['log', logs],
        ['audit', audit],
        ['jobs', jobs],
        ['step log', steps],
        ['requests', reqs],
        ['pcs', pcs],
        ['channel', channel.join('\n')],
        ['ps', psSamples.join('\n')],
        ['sshd log', a.log() + b.log()],
      ] as const) {
        expect(text.includes(pw), `password found in ${what}`).toBe(false);
      }
    }
    // They did reach the requester (secret DMs only).
    const dmText = t.chat.messages
      .filter((m) => m.dmTo)
      .map((m) => m.text)
      .join('\n');
    for (const pw of passwords) expect(dmText).toContain(pw);
  });
});

describe('renew run with a non-root ssh.user through sudo -n', () => {
  let t: TestApp;
  let c: FakePc;
  let dir: string;

  beforeAll(async () => {
    dir = tmpDir('sb-renew-sudo-');
    const bootFile = path.join(dir, 'bootstrap');
    fs.writeFileSync(bootFile, 'Sudo-boot-pw-4410\n', { mode: 0o600 });
    c = new FakePc({ ip: `${NET}.4`, port: PORT, hostname: 'pc-c', mac: '02:5b:00:00:00:04', serial: 'SN-C-0004', rootPassword: 'Root-unused-pw-99' });
    await c.start();
    c.sh('useradd -m -s /bin/sh sbadmin && echo "sbadmin ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/sbadmin && chmod 440 /etc/sudoers.d/sbadmin && useradd --badname -m USERSS004-1111', undefined);
    c.sh('chpasswd', 'sbadmin:Sudo-boot-pw-4410\n');
    t = await makeTestApp({
      overrides: { 'renew.allow': [`${NET}.4/32`], 'renew.ssh.port': PORT, 'renew.ssh.user': 'sbadmin', 'renew.bootstrap.passwordFile': bootFile, 'renew.timeoutMs': 30_000 },
    });
  });

  afterAll(async () => {
    await t?.close();
    await c?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("deploys the key into the user's own authorized_keys and renews via sudo", async () => {
    const r = await t.run(`renew run ${c.o.ip}`, { confirmed: true });
    const job = await t.app.jobs.wait(r.jobIds[0]!);
    expect(job.status).toBe('succeeded');
    const res = JSON.parse(job.result!).data.results[0];
    expect(res.status, res.error ?? '').toBe('ok');
    expect(fs.readFileSync(path.join(c.dir, 'home/sbadmin/.ssh/authorized_keys'), 'utf8')).toContain('switchboard-renew');
    expect(fs.existsSync(path.join(c.dir, 'root/.ssh/authorized_keys'))).toBe(false);
    const users = c.passwd();
    expect(users.find((u) => u.name === 'USERSS004-1111')).toBeUndefined();
    expect(users.find((u) => u.name === res.account)?.shell).toBe('/bin/bash');
    const dm = t.chat.messages.find((m) => m.dmTo === 'admin')!;
    const pw = /password: (\S+)$/.exec(dm.text)![1]!;
    expect(await passwordLogin(c.o.ip, PORT, res.account, pw)).toBe(`${res.account}\n/bin/bash\n`);
    // Deploying the key again is idempotent (like ssh-copy-id): still one line.
    const boot = await connect({ host: c.o.ip, port: PORT, username: 'sbadmin', password: 'Sudo-boot-pw-4410', timeoutMs: 10_000, verifyHostKey: () => null });
    try {
      expect(await installPublicKey(boot.client, (await t.app.services.renew.keyPair()).publicKey)).toBe('present');
    } finally {
      boot.client.end();
    }
    const again = await t.app.jobs.wait((await t.run(`renew run ${c.o.ip}`, { confirmed: true })).jobIds[0]!);
    expect(again.status).toBe('succeeded');
    expect(fs.readFileSync(path.join(c.dir, 'home/sbadmin/.ssh/authorized_keys'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(c.passwd().filter((u) => /^USERSS/.test(u.name))).toHaveLength(1);
  });

  it('never deletes root, the SSH user or system accounts, even with a managed pattern of .*', async () => {
    c.sh('useradd -m -s /bin/sh bob');
    const before = c.passwd();
    const shadow = fs.readFileSync(path.join(c.dir, 'etc/shadow'), 'utf8');
    const shadowOf = (u: string) => shadow.split('\n').find((l) => l.startsWith(`${u}:`))!;
    const { client } = await connect({ host: c.o.ip, port: PORT, username: 'sbadmin', privateKey: (await t.app.services.renew.keyPair()).privateKey, timeoutMs: 10_000, verifyHostKey: () => null });
    let res: Awaited<ReturnType<typeof deploy>>;
    try {
      res = await deploy(client, { account: 'USERSS004-9999', password: generatePassword(), managedRe: '.*', shell: '/bin/bash', sshUser: 'sbadmin', sudo: true, timeoutMs: 30_000 });
    } finally {
      client.end();
    }
    expect(res.code).toBe(0);
    expect(res.facts).toBeDefined();
    expect(res.passwordSet).toBe('yes');
    const after = c.passwd().map((u) => u.name);
    for (const kept of ['root', 'sbadmin', 'daemon', 'nobody', 'sshd']) if (before.some((u) => u.name === kept)) expect(after).toContain(kept);
    expect(after).toContain('root');
    expect(after).toContain('sbadmin');
    expect(after).toContain('nobody');
    // Every system account survived; what the pattern did remove is ordinary accounts only (uid ≥ 1000).
    for (const u of before) if (u.uid < 1000 || u.uid > 60000) expect(after).toContain(u.name);
    expect(after).not.toContain('bob');
    expect(after).toContain('USERSS004-9999');
    const protectedLines = res.steps.filter((s) => /matches the managed pattern but is protected/.test(s.message)).map((s) => s.message);
    expect(protectedLines).toContain('account root (uid 0) matches the managed pattern but is protected (root, the SSH user or a system account): kept');
    expect(protectedLines.some((l) => l.startsWith('account sbadmin '))).toBe(true);
    // Nor does it ever set the password of root or the SSH user as "the new account".
    const again = await connect({ host: c.o.ip, port: PORT, username: 'sbadmin', privateKey: (await t.app.services.renew.keyPair()).privateKey, timeoutMs: 10_000, verifyHostKey: () => null });
    try {
      const r = await deploy(again.client, { account: 'sbadmin', password: generatePassword(), managedRe: '^USERSS', shell: '/bin/bash', sshUser: 'sbadmin', sudo: true, timeoutMs: 30_000 });
      expect(r.passwordSet).toBe('no');
      expect(r.steps).toContainEqual({ level: 'CRITICAL', message: 'refusing to use sbadmin as the new account: it is root, the SSH user or a system account' });
    } finally {
      again.client.end();
    }
    expect(fs.readFileSync(path.join(c.dir, 'etc/shadow'), 'utf8')).toContain(shadowOf('sbadmin'));
  });
  it("removes only a deleted account's own home: never the SSH user's, /home, nor a home owned by someone else", async () => {
    c.sh(
      'useradd -M -d /home/sbadmin -s /bin/sh USERSS004-2222 && useradd -m -s /bin/sh USERSS004-3333 && useradd -M -d /home -s /bin/sh USERSS004-4444 && useradd -M -d /home/shared5 -s /bin/sh USERSS004-5555 && mkdir /home/shared5 && touch /home/shared5/keep',
    );
    const keys = fs.readFileSync(path.join(c.dir, 'home/sbadmin/.ssh/authorized_keys'), 'utf8');
    const { client } = await connect({ host: c.o.ip, port: PORT, username: 'sbadmin', privateKey: (await t.app.services.renew.keyPair()).privateKey, timeoutMs: 10_000, verifyHostKey: () => null });
    let res: Awaited<ReturnType<typeof deploy>>;
    try {
      res = await deploy(client, { account: 'USERSS004-8888', password: generatePassword(), managedRe: '^USERSS004-[0-9]{4}$', shell: '/bin/bash', sshUser: 'sbadmin', sudo: true, timeoutMs: 30_000 });
    } finally {
      client.end();
    }
    expect(res.code).toBe(0);
    const names = c.passwd().map((u) => u.name);
    for (const gone of ['USERSS004-2222', 'USERSS004-3333', 'USERSS004-4444', 'USERSS004-5555']) expect(names).not.toContain(gone);
    expect(names).toContain('USERSS004-8888');
    // The SSH user's home (and its authorized_keys) survived the account that pointed at it.
    expect(fs.readFileSync(path.join(c.dir, 'home/sbadmin/.ssh/authorized_keys'), 'utf8')).toBe(keys);
    expect(c.homeExists('USERSS004-3333')).toBe(false);
    expect(c.homeExists('USERSS004-8888')).toBe(true);
    expect(fs.existsSync(path.join(c.dir, 'home/shared5/keep'))).toBe(true);
    const msgs = res.steps.map((s) => `${s.level} ${s.message}`);
    expect(msgs).toContain('WARNING deleted account USERSS004-2222; its home /home/sbadmin was kept (the home of another account)');
    expect(msgs).toContain('INFO deleted account USERSS004-3333 and its home /home/USERSS004-3333');
    expect(msgs).toContain('WARNING deleted account USERSS004-4444; its home /home was kept (not below /home)');
    expect(msgs.some((m) => /^WARNING deleted account USERSS004-5555; its home \/home\/shared5 was kept \(not owned by uid \d+\)$/.test(m))).toBe(true);
  });

  it('a managed pattern grep -E rejects fails the host before anything changes', async () => {
    const before = c.passwd();
    const { client } = await connect({ host: c.o.ip, port: PORT, username: 'sbadmin', privateKey: (await t.app.services.renew.keyPair()).privateKey, timeoutMs: 10_000, verifyHostKey: () => null });
    let res: Awaited<ReturnType<typeof deploy>>;
    try {
      res = await deploy(client, { account: 'USERSS004-7777', password: generatePassword(), managedRe: '^USERSS(', shell: '/bin/bash', sshUser: 'sbadmin', sudo: true, timeoutMs: 30_000 });
    } finally {
      client.end();
    }
    expect(res.passwordSet).toBe('no');
    expect(res.code).toBe(3);
    const crit = res.steps.filter((s) => s.level === 'CRITICAL').map((s) => s.message);
    expect(crit).toHaveLength(1);
    expect(crit[0]).toMatch(/^the managed pattern \^USERSS\( is not a valid POSIX ERE for grep -E: grep: Unmatched \( or \\\($/);
    expect(c.passwd()).toEqual(before);
  });
});

describe('renew run when a step fails after the password was set', () => {
  let t: TestApp;
  let d: FakePc;
  let dir: string;
  const facts = () => path.join(d.dir, 'etc/switchboard/facts.env');
  const base = () => `MAC=${d.o.mac}\nSERIAL=${d.o.serial}\nIP=${d.o.ip}\n`;

  beforeAll(async () => {
    dir = tmpDir('sb-renew-fail-');
    const bootFile = path.join(dir, 'bootstrap');
    fs.writeFileSync(bootFile, 'Fail-boot-pw-8842\n', { mode: 0o600 });
    d = new FakePc({ ip: `${NET}.5`, port: PORT, hostname: 'pc-d', mac: '02:5b:00:00:00:05', serial: 'SN-D-0005', rootPassword: 'Fail-boot-pw-8842' });
    await d.start();
    d.sh('useradd --badname -m USERSS005-4444');
    t = await makeTestApp({ overrides: { 'renew.allow': [`${NET}.5/32`], 'renew.ssh.port': PORT, 'renew.bootstrap.passwordFile': bootFile, 'renew.timeoutMs': 4000 } });
  });

  afterAll(async () => {
    await t?.close();
    await d?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function renew(): Promise<{
    job: { status: string; result: string | null; error: string | null };
    res: { status: string; account: string; warnings: string[]; request: number; mac: string | null };
    password: string;
  }> {
    const before = t.chat.messages.filter((m) => m.dmTo === 'admin').length;
    const r = await t.run(`renew run ${d.o.ip}`, { confirmed: true });
    const job = await t.app.jobs.wait(r.jobIds[0]!);
    const res = JSON.parse(job.result!).data.results[0];
    const dms = t.chat.messages.filter((m) => m.dmTo === 'admin');
    expect(dms).toHaveLength(before + 1);
    const dm = dms.at(-1)!;
    expect(dm.secret).toBe(true);
    const [, account, password] = /: (USERSS\d{3}-\d{4}) \/ password: (\S+)$/.exec(dm.text)!;
    expect(account).toBe(res.account);
    // The job reports the warning, never the password.
    expect(job.result).not.toContain(password!);
    expect(JSON.stringify(await t.app.db.selectFrom('renew_requests').selectAll().execute())).not.toContain(password!);
    expect(JSON.stringify(await t.app.db.selectFrom('renew_log').selectAll().execute())).not.toContain(password!);
    expect(
      t.chat.messages
        .filter((m) => !m.dmTo)
        .map((m) => m.text)
        .join('\n'),
    ).not.toContain(password!);
    expect(scrub(password!)).toBe(password); // released after delivery
    return { job, res, password: password! };
  }

  it('the facts step fails (exit 7): the password still reaches the requester and works; the job reports the warning', async () => {
    fs.writeFileSync(facts(), `${base()}exit 7\n`);
    const { job, res, password } = await renew();
    expect(job.status).toBe('succeeded');
    expect(res.status).toBe('warning');
    expect(res.mac).toBeNull();
    expect(res.warnings).toEqual(['the deploy script failed after the password was set (exit 7)', 'no facts from the PC (the script printed no facts): the inventory was not updated']);
    expect(JSON.parse(job.result!).text).toMatch(/^1\/1 host\(s\) renewed \(1 with warnings/);
    expect(JSON.parse(job.result!).text).toMatch(/warning\s+USERSS005-\d{4}\s+the deploy script failed after the password was set \(exit 7/);
    expect(await passwordLogin(d.o.ip, PORT, res.account, password)).toBe(`${res.account}\n/bin/bash\n`);
    expect(
      d
        .passwd()
        .filter((u) => /^USERSS/.test(u.name))
        .map((u) => u.name),
    ).toEqual([res.account]);
    const dm = t.chat.messages.filter((m) => m.dmTo === 'admin').at(-1)!;
    expect(dm.text).toMatch(new RegExp(`^⚠️ renewed with warnings, see \`renew log ${res.request}\``));
    expect(pdfText(dm.files[0]!.data)).toContain(`Password: \n${password}`);
    const req = await t.app.services.renew.inventory.request(res.request);
    expect(req).toMatchObject({ status: 'warning', account: res.account });
    expect((await t.run(`renew log ${res.request} WARNING`)).replies[0]).toMatch(/WARNING\s+renewed with warnings: USERSS005-/);
  });

  it('the script outlives renew.timeoutMs: it is killed on the PC, and the password is still delivered', async () => {
    fs.writeFileSync(facts(), `${base()}sleep 300\n`);
    const t0 = Date.now();
    const { res, password } = await renew();
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(res.status).toBe('warning');
    expect(res.warnings[0]).toBe('the deploy script failed after the password was set (exit 124): the deploy script ran out of time (4 s) and was killed on the PC');
    // Nothing of the script is left running on the PC.
    expect(d.sh("ps -eo args | grep -E 'sleep 300|deploy\\.sh' | grep -v grep || true")).toBe('');
    expect(await passwordLogin(d.o.ip, PORT, res.account, password)).toBe(`${res.account}\n/bin/bash\n`);
  });

  it('a label that cannot be posted is a warning on that host, not a failed job nor a lost password', async () => {
    fs.writeFileSync(facts(), base());
    const send = t.chat.send.bind(t.chat);
    t.chat.send = async (target, msg) => {
      if (msg.text.startsWith('🏷️ Label for')) throw new Error('upload refused by the platform');
      return send(target, msg);
    };
    try {
      const { job, res, password } = await renew();
      expect(job.status).toBe('succeeded');
      expect(res.status).toBe('warning');
      expect(res.mac).toBe(d.o.mac);
      expect(res.warnings).toEqual(['the PC label could not be posted: upload refused by the platform']);
      expect(await passwordLogin(d.o.ip, PORT, res.account, password)).toBe(`${res.account}\n/bin/bash\n`);
    } finally {
      t.chat.send = send;
    }
  });

  it('a PC with no usable MAC (no interface has one) is renewed with a warning and no inventory record', async () => {
    fs.writeFileSync(facts(), `SERIAL=${d.o.serial}\n`);
    d.sh('mount -t tmpfs tmpfs /sys/class/net'); // inside the PC's mount namespace only
    try {
      const labels = t.chat.messages.filter((m) => m.text.startsWith('🏷️')).length;
      const { job, res, password } = await renew();
      expect(job.status).toBe('succeeded');
      expect(res.status).toBe('warning');
      expect(res.mac).toBeNull();
      expect(res.warnings).toEqual(['the PC reported no usable MAC address (""): not recorded in the inventory and no label (set MAC= in /etc/switchboard/facts.env on the PC)']);
      expect(t.chat.messages.filter((m) => m.text.startsWith('🏷️')).length).toBe(labels);
      expect(await passwordLogin(d.o.ip, PORT, res.account, password)).toBe(`${res.account}\n/bin/bash\n`);
      expect((await t.app.services.renew.inventory.request(res.request))!.account).toBe(res.account);
      expect((await t.run(`renew log ${res.request} WARNING`)).replies[0]).toMatch(/WARNING\s+\[pc\] no MAC address found for the primary interface/);
    } finally {
      d.sh('umount /sys/class/net');
      fs.writeFileSync(facts(), base());
    }
  });

  it('a direct message that refuses the attachment is retried without it: the password still arrives', async () => {
    const dm = t.chat.dm.bind(t.chat);
    t.chat.dm = async (user, msg, o) => {
      if (msg.files?.length) throw new Error('file too large');
      return dm(user, msg, o);
    };
    try {
      const { job, res, password } = await renew();
      expect(job.status).toBe('succeeded');
      expect(res.status).toBe('warning');
      expect(res.warnings).toEqual(['the user sheet could not be attached to the direct message (sent without it)']);
      expect(t.chat.messages.filter((m) => m.dmTo === 'admin').at(-1)!.files).toEqual([]);
      expect(await passwordLogin(d.o.ip, PORT, res.account, password)).toBe(`${res.account}\n/bin/bash\n`);
    } finally {
      t.chat.dm = dm;
    }
  });

  it('a direct message that cannot be sent at all keeps the password for `renew resend`, which delivers it', async () => {
    const dm = t.chat.dm.bind(t.chat);
    t.chat.dm = async () => {
      throw new Error('DMs are closed');
    };
    let job;
    try {
      const r = await t.run(`renew run ${d.o.ip}`, { confirmed: true });
      job = await t.app.jobs.wait(r.jobIds[0]!);
    } finally {
      t.chat.dm = dm;
    }
    expect(job.status).toBe('succeeded');
    const res = JSON.parse(job.result!).data.results[0] as { status: string; account: string; warnings: string[]; request: number };
    expect(res.status).toBe('warning');
    expect(res.warnings).toHaveLength(1);
    expect(res.warnings[0]).toMatch(
      /^the direct message with the password of USERSS\d{3}-\d{4} could not be sent \(DMs are closed\): it is kept \(sealed\) until .* UTC; test:admin can have it sent again with `renew resend \d+`$/,
    );
    expect(res.warnings[0]).toContain(`renew resend ${res.request}`);
    const sent = await t.run(`renew resend ${res.request}`);
    expect(sent.exitCode).toBe(0);
    const got = t.chat.messages.filter((m) => m.dmTo === 'admin').at(-1)!;
    expect(got.secret).toBe(true);
    const [, account, password] = /: (USERSS\d{3}-\d{4}) \/ password: (\S+)$/.exec(got.text)!;
    expect(account).toBe(res.account);
    expect(got.files.map((f) => f.name)).toEqual([`account-${res.request}-${res.account}.pdf`]);
    expect(job.result).not.toContain(password!);
    expect(
      t.chat.messages
        .filter((m) => !m.dmTo)
        .map((m) => m.text)
        .join('\n'),
    ).not.toContain(password!);
    expect(scrub(password!)).toBe(password); // delivered at last: released from the scrubber
    expect(await passwordLogin(d.o.ip, PORT, res.account, password!)).toBe(`${res.account}\n/bin/bash\n`);
  });

  it('a default route over an interface without a MAC (wg0) falls back to an interface that has one', async () => {
    fs.writeFileSync(facts(), `IFACE=wg0\nSERIAL=${d.o.serial}\n`);
    d.sh('mount -t tmpfs tmpfs /sys/class/net && mkdir /sys/class/net/wg0 /sys/class/net/eth7 && : > /sys/class/net/wg0/address && echo 02:5b:00:00:07:05 > /sys/class/net/eth7/address');
    try {
      const { res } = await renew();
      expect(res.mac).toBe('02:5b:00:00:07:05');
      // A different MAC than the inventory had for this IP is worth a warning.
      expect(res.warnings).toEqual([`${d.o.ip} was PC ${d.o.mac} in the inventory; it is now 02:5b:00:00:07:05`]);
      expect(res.status).toBe('warning');
      expect((await t.run(`renew log ${res.request} WARNING`)).replies[0]).toMatch(/WARNING\s+\[pc\] interface wg0 has no MAC address; using eth7 \(02:5b:00:00:07:05\) as the PC's identity/);
    } finally {
      d.sh('umount /sys/class/net');
      fs.writeFileSync(facts(), base());
    }
  });
});
