// A forwarding HTTP proxy with one port per replica in front of a chat fake: every request is recorded with
// the number of the port it came in on, so a test knows which replica made it without the fake telling
// its clients apart.
import http from 'node:http';
import type net from 'node:net';

export interface ProxiedRequest {
  tag: number;
  method: string;
  path: string;
  at: number;
  status?: number;
}

export class TaggingProxy {
  readonly requests: ProxiedRequest[] = [];
  urls: string[] = [];
  private servers: http.Server[] = [];
  private sockets = new Set<net.Socket>();
  private target: URL;

  constructor(target: string) {
    this.target = new URL(target);
  }

  /** Opens n ports; urls[i] leads to the target, tagged i. */
  async start(n: number): Promise<this> {
    for (let tag = 0; tag < n; tag++) {
      const server = http.createServer((req, res) => this.forward(tag, req, res));
      server.on('connection', (s) => this.track(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      this.servers.push(server);
      this.urls.push(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    }
    return this;
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private forward(tag: number, req: http.IncomingMessage, res: http.ServerResponse): void {
    const rec: ProxiedRequest = { tag, method: req.method ?? 'GET', path: req.url ?? '/', at: Date.now() };
    this.requests.push(rec);
    const up = http.request({ host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      rec.status = ur.statusCode;
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    // A client that goes away (a killed replica) takes its upstream request with it.
    res.on('close', () => up.destroy());
    req.pipe(up);
  }

  /** Tags that made a request whose path matches re at or after `since`. */
  tagsSince(re: RegExp, since: number): Set<number> {
    return new Set(this.requests.filter((r) => r.at >= since && re.test(r.path)).map((r) => r.tag));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
  }
}
