// A "PC" for the renewal tests: Debian's real OpenSSH sshd on a loopback address, inside its own mount, UTS
// and PID namespaces (unshare, as root) where /etc, /home and /root are bind-mounted private COPIES — so
// useradd/userdel/chpasswd and authorized_keys only ever touch the copies, never this machine's accounts.
// The network namespace is shared (sshd listens on 127.0.5.x), so each PC gets its identity (MAC, serial)
// from /etc/switchboard/facts.env inside its /etc copy, which the deploy script honours; the hostname is
// real (own UTS namespace). /run and /var/log are private tmpfs, so login records (utmp, wtmp) of sessions
// opened on a PC stay inside it. Killing `unshare --kill-child` kills the namespace's init and with it every
// process inside.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface FakePcOptions {
  ip: string;
  port: number;
  hostname: string;
  mac: string;
  serial: string;
  rootPassword: string;
}

function need(tool: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' });
  } catch {
    throw new Error(`${tool} is required for the renewal tests (apt-get install openssh-server util-linux)`);
  }
}

function readCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

export class FakePc {
  readonly dir: string;
  private child?: ChildProcess;
  private stderr = '';
  initPid = 0;

  constructor(readonly o: FakePcOptions) {
    need('/usr/sbin/sshd');
    need('unshare');
    need('nsenter');
    if (process.getuid?.() !== 0) throw new Error('the renewal tests need root (unshare --mount)');
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-pc-'));
    execFileSync('cp', ['-a', '/etc', path.join(this.dir, 'etc')]);
    for (const d of ['home', 'root']) fs.mkdirSync(path.join(this.dir, d), { mode: 0o700 });
    fs.chmodSync(path.join(this.dir, 'home'), 0o755);
    this.rekey();
    fs.mkdirSync(path.join(this.dir, 'etc/switchboard'), { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'etc/switchboard/facts.env'), `MAC=${o.mac}\nSERIAL=${o.serial}\nIP=${o.ip}\n`);
    fs.writeFileSync(
      path.join(this.dir, 'etc/ssh/sshd_sb_test.conf'),
      [
        `ListenAddress ${o.ip}:${o.port}`,
        'PermitRootLogin yes',
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'UsePAM yes',
        'PidFile /run/sshd.pid',
        'HostKey /etc/ssh/ssh_host_ed25519_key',
        'Subsystem sftp internal-sftp',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
  }

  /** New host keys (a "reinstalled" PC); takes effect at the next start. */
  rekey(): void {
    const ssh = path.join(this.dir, 'etc/ssh');
    for (const f of fs.readdirSync(ssh)) if (f.startsWith('ssh_host_')) fs.rmSync(path.join(ssh, f));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(ssh, 'ssh_host_ed25519_key')]);
  }

  async start(): Promise<void> {
    const d = this.dir;
    const script = [
      'set -e',
      'mount --make-rprivate /',
      `mount --bind ${d}/etc /etc`,
      `mount --bind ${d}/home /home`,
      `mount --bind ${d}/root /root`,
      'mount -t tmpfs tmpfs /run',
      // Login records (utmp for `who`, wtmp/lastlog of pty sessions) stay inside the PC too.
      ': > /run/utmp && chmod 664 /run/utmp',
      'mount -t tmpfs tmpfs /var/log',
      'mkdir -p /run/sshd && chmod 755 /run/sshd',
      `hostname ${this.o.hostname}`,
      'exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_sb_test.conf',
    ].join('\n');
    this.stderr = '';
    this.child = spawn('unshare', ['--mount', '--uts', '--pid', '--fork', '--kill-child', '--mount-proc', '--', '/bin/sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    const deadline = Date.now() + 10_000;
    while (!/Server listening on/.test(this.stderr)) {
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd for ${this.o.hostname} did not start: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const kids = fs.readFileSync(`/proc/${this.child.pid}/task/${this.child.pid}/children`, 'utf8').trim().split(/\s+/);
    this.initPid = Number(kids[0]);
    if (this.initPid === 0) throw new Error('no namespace init found');
    // Root's password (the bootstrap credential), through stdin.
    this.sh('chpasswd', `root:${this.o.rootPassword}\n`);
  }

  /** Run a shell command inside the PC's namespaces. */
  sh(cmd: string, input?: string): string {
    return execFileSync('nsenter', ['-t', String(this.initPid), '-m', '-u', '-p', '--', '/bin/sh', '-c', cmd], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Start a detached process as `user` inside the PC (a "session" of that account). */
  startSession(user: string): void {
    this.sh(`setsid su -s /bin/sh ${user} -c 'exec sleep 600' </dev/null >/dev/null 2>&1 &`);
  }

  passwd(): { name: string; uid: number; home: string; shell: string }[] {
    return fs
      .readFileSync(path.join(this.dir, 'etc/passwd'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(':'))
      .map((f) => ({ name: f[0]!, uid: Number(f[2]), home: f[5]!, shell: f[6]! }));
  }

  homeExists(name: string): boolean {
    return fs.existsSync(path.join(this.dir, 'home', name));
  }

  log(): string {
    return this.stderr;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const closed = new Promise((r) => c.once('close', r));
    c.kill('SIGTERM');
    await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    // Only if that pid is still our sshd (pids are reused).
    if (this.initPid && readCmdline(this.initPid).includes('sshd_sb_test.conf')) process.kill(this.initPid, 'SIGKILL');
  }

  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
