// A TCP forwarder on loopback to a MariaDB server, standing for one store host: shut() makes it refuse new
// connections and resets the ones it carries (a node that died), open() brings it back on the same port.
import net from 'node:net';

export /** A forwarder to the test server that can be shut (refusing, its connections reset) and opened again. */
class Forwarder {
  connections = 0;
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private target: { host: string; port: number },
  ) {}
  async open(): Promise<this> {
    if (this.server) return this;
    const server = net.createServer((client) => {
      this.connections++;
      const up = net.connect(this.target.port, this.target.host);
      for (const s of [client, up]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(up).pipe(client);
      client.once('close', () => up.destroy());
      up.once('close', () => client.destroy());
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.server = server;
    return this;
  }
  async shut(): Promise<void> {
    for (const s of this.sockets) s.resetAndDestroy();
    const server = this.server;
    if (server) await new Promise((r) => server.close(r));
    this.server = undefined;
  }
}
