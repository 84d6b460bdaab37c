// An in-process SSH server (ssh2's Server) on a loopback address for the unit tests of the connection side:
// records which authentication methods each connection tried, and can present a different host key on
// each connection (a PC "swapped" between two connections of one renewal) through a tiny TCP switch.
import { generateEd25519KeyPair } from '../../src/renew/ssh-keypair.js';
import net from 'node:net';
import ssh2 from 'ssh2';
import { fingerprintOf } from '../../drivers/targets/linux-ssh.js';

export interface FakeSsh {
  host: string;
  port: number;
  /** Per incoming connection (in order): the host key fingerprint it was served with, and the auth methods tried. */
  conns: { fingerprint: string; methods: string[]; passwords: number }[];
  fingerprints: string[];
  close(): Promise<void>;
}

/** One SSH server per host key; connection n is served by key min(n, keys-1). Every authentication is refused unless acceptPassword (or acceptKey: any key). Every command exits 0 silently. */
export async function fakeSsh(host: string, o: { keys: number; acceptPassword?: string; acceptKey?: boolean }): Promise<FakeSsh> {
  const conns: FakeSsh['conns'] = [];
  const backends: { server: ssh2.Server; port: number; fingerprint: string }[] = [];
  for (let k = 0; k < o.keys; k++) {
    const kp = generateEd25519KeyPair(ssh2);
    const parsed = ssh2.utils.parseKey(kp.public);
    if (parsed instanceof Error) throw parsed;
    const fingerprint = fingerprintOf((Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH()).fingerprint;
    const server = new ssh2.Server({ hostKeys: [kp.private] }, (client) => {
      const rec = conns[conns.length - 1]!;
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => {
        rec.methods.push(ctx.method);
        if (ctx.method === 'password') rec.passwords++;
        if (ctx.method === 'password' && o.acceptPassword && ctx.password === o.acceptPassword) return ctx.accept();
        if (ctx.method === 'publickey' && o.acceptKey) return ctx.accept();
        ctx.reject(['publickey', 'password']);
      });
      client.on('ready', () =>
        client.on('session', (accept) =>
          accept().on('exec', (acc) => {
            const ch = acc();
            ch.exit(0);
            ch.end();
          }),
        ),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    backends.push({ server, port: (server.address() as net.AddressInfo).port, fingerprint });
  }
  let n = 0;
  const sw = net.createServer((sock) => {
    const b = backends[Math.min(n++, backends.length - 1)]!;
    conns.push({ fingerprint: b.fingerprint, methods: [], passwords: 0 });
    const up = net.connect(b.port, '127.0.0.1');
    sock.pipe(up).pipe(sock);
    sock.on('error', () => up.destroy());
    up.on('error', () => sock.destroy());
  });
  await new Promise<void>((r) => sw.listen(0, host, r));
  return {
    host,
    port: (sw.address() as net.AddressInfo).port,
    conns,
    fingerprints: backends.map((b) => b.fingerprint),
    async close() {
      await new Promise((r) => sw.close(r));
      await Promise.all(backends.map((b) => new Promise((r) => b.server.close(r))));
    },
  };
}
