// Read-only TFTP server (RFC 1350, with the blksize, tsize and timeout options of RFC 2347-2349) serving what
// /provision/ serves: phone files by name (t/<token>/<file> when token URLs are on), model-wide common files,
// firmware images as fw/<sha256>/<name>. Off by default; every request goes to the same request log as HTTP.
// Each transfer gets its own UDP socket (its own TID, as RFC 1350 asks); a block is sent again when its ACK
// does not come within the timeout, and a transfer gives up after `retries` silent timeouts.
import dgram from 'node:dgram';
import type { App } from '../app-types.js';
import type { TftpConfig } from './config.js';
import type { Decision } from './request-log.js';
import type { ProvisionService } from './service.js';
import { macInName } from './routes.js';
import { fmtMac } from '../util/mac.js';

const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
const ERR = { UNDEFINED: 0, NOT_FOUND: 1, ACCESS: 2, ILLEGAL: 4, UNKNOWN_TID: 5, OPTION: 8 } as const;
const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TOKEN_RE = /^[0-9a-f]{32}$/;
const SHA_RE = /^[0-9a-f]{64}$/;

interface Request {
  file: string;
  mode: string;
  options: Map<string, string>;
}

/** RRQ/WRQ body: filename\0mode\0[option\0value\0]…; null when malformed. */
export function parseRequest(msg: Buffer): Request | null {
  const parts: string[] = [];
  let start = 2;
  for (let i = 2; i < msg.length; i++) {
    if (msg[i] === 0) {
      parts.push(msg.subarray(start, i).toString('latin1'));
      start = i + 1;
    }
  }
  if (start !== msg.length || parts.length < 2 || parts.length % 2 !== 0) return null;
  const options = new Map<string, string>();
  for (let i = 2; i < parts.length; i += 2) options.set(parts[i]!.toLowerCase(), parts[i + 1]!);
  return { file: parts[0]!, mode: parts[1]!.toLowerCase(), options };
}

const errorPacket = (code: number, message: string) => Buffer.concat([Buffer.from([0, OP.ERROR, 0, code]), Buffer.from(message, 'latin1'), Buffer.from([0])]);

/** LF → CR LF and a lone CR → CR NUL, for the netascii mode. */
function netascii(data: Buffer): Buffer {
  const out: number[] = [];
  for (const b of data) {
    if (b === 0x0a) out.push(0x0d, 0x0a);
    else if (b === 0x0d) out.push(0x0d, 0x00);
    else out.push(b);
  }
  return Buffer.from(out);
}

type Resolved =
  | { ok: true; data: Buffer; mac: string | null; decision: Decision; reason: string | null }
  | { ok: false; code: number; status: number; decision: Decision; reason: string; mac: string | null };

/** Start the TFTP server for the service (the provision feature, after the service started); a clear error when it cannot bind. */
export async function startTftp(app: App, svc: ProvisionService, cfg: TftpConfig): Promise<TftpServer> {
  const server = new TftpServer(app, svc, cfg);
  try {
    await server.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'EACCES' ? ' (a port below 1024 needs CAP_NET_BIND_SERVICE: see the README)' : '';
    throw new Error(`cannot start the TFTP server on ${cfg.address}:${cfg.port}: ${e.code ?? e.message}${hint}`);
  }
  return server;
}

export class TftpServer {
  private socket: dgram.Socket | null = null;
  /** Transfers in flight, by their socket, each with the function that ends it (timer included). */
  private transfers = new Map<dgram.Socket, () => void>();

  constructor(
    private app: App,
    private svc: ProvisionService,
    private cfg: TftpConfig,
  ) {}

  async start(): Promise<void> {
    const sock = dgram.createSocket({ type: this.cfg.address.includes(':') ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.cfg.port, this.cfg.address, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.on('error', (err) => this.app.log.error({ err: String(err) }, 'TFTP socket error'));
    sock.on('message', (msg, rinfo) => void this.request(msg, rinfo).catch((err) => this.app.log.error({ err: String(err) }, 'TFTP request failed')));
    this.socket = sock;
    this.app.log.info({ address: this.cfg.address, port: this.port() }, 'TFTP server listening');
  }

  port(): number {
    return this.socket?.address().port ?? 0;
  }

  async stop(): Promise<void> {
    for (const end of [...this.transfers.values()]) end();
    this.transfers.clear();
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private log(ip: string, path: string, file: string | null, mac: string | null, status: number, decision: Decision, reason: string | null): void {
    // The reason says TFTP, so `provision log` tells the two transports apart.
    this.svc.log.add({ at: Date.now(), ip, userAgent: null, path: `tftp:${path.slice(0, 500)}`, file, mac, status, decision, reason: `TFTP${reason ? `: ${reason}` : ''}` });
  }

  private async request(msg: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    if (!this.socket || msg.length < 4) return;
    const op = msg.readUInt16BE(0);
    const reply = (buf: Buffer) => this.socket?.send(buf, rinfo.port, rinfo.address);
    if (op !== OP.RRQ && op !== OP.WRQ) return void reply(errorPacket(ERR.ILLEGAL, 'only read requests are served here'));
    const req = parseRequest(msg);
    if (!req) {
      this.log(rinfo.address, '', null, null, 400, 'bad_request', 'malformed TFTP request');
      return void reply(errorPacket(ERR.ILLEGAL, 'malformed request'));
    }
    if (op === OP.WRQ) {
      this.log(rinfo.address, req.file, null, null, 405, 'bad_request', 'TFTP write request: this server is read-only');
      return void reply(errorPacket(ERR.ACCESS, 'read-only server'));
    }
    if (req.mode !== 'octet' && req.mode !== 'netascii') {
      this.log(rinfo.address, req.file, null, null, 400, 'bad_request', `TFTP mode ${req.mode.slice(0, 16)} is not served`);
      return void reply(errorPacket(ERR.ILLEGAL, 'only octet and netascii modes are served'));
    }
    const r = await this.resolve(req.file, rinfo.address);
    const file = req.file.replace(/^\/+/, '').split('/').pop()?.slice(0, 255) || null;
    if (!r.ok) {
      this.log(rinfo.address, req.file, file, r.mac, r.status, r.decision, r.reason);
      return void reply(errorPacket(r.code, r.reason));
    }
    this.log(rinfo.address, req.file, file, r.mac, 200, r.decision, r.reason);
    this.send(req.mode === 'netascii' ? netascii(r.data) : r.data, req, rinfo);
  }

  /** The file a path names, as /provision/ would answer it (no user agent over TFTP). */
  private async resolve(raw: string, ip: string): Promise<Resolved> {
    const svc = this.svc;
    const path = raw.replace(/^\/+/, '');
    const parts = path.split('/');
    const bad = (reason: string): Resolved => ({ ok: false, code: ERR.ACCESS, status: 400, decision: 'bad_request', reason, mac: null });
    if (/[\\\0]/.test(raw) || parts.some((p) => p === '..' || p === '.' || p === '')) return bad('not a file name in the provisioning root');
    if (parts[0] === 'fw' && parts.length === 3 && SHA_RE.test(parts[1]!) && FILE_RE.test(parts[2]!)) {
      const data = await svc.firmware.read(parts[1]!, parts[2]!);
      return data
        ? { ok: true, data, mac: null, decision: 'served', reason: 'firmware image' }
        : { ok: false, code: ERR.NOT_FOUND, status: 404, decision: 'not_found', reason: 'no such firmware image', mac: null };
    }
    let token: string | null = null;
    let name = parts[0]!;
    if (parts[0] === 't' && parts.length === 3) {
      token = parts[1]!;
      name = parts[2]!;
    } else if (parts.length !== 1) return bad('not a file name in the provisioning root');
    if (!FILE_RE.test(name)) return bad('not a file name in the provisioning root');
    let mac = macInName(name);
    if (svc.cfg.auth) return { ok: false, code: ERR.ACCESS, status: 401, decision: 'unauthorized', reason: 'basic auth is required, which TFTP cannot carry', mac };
    let tokenMac: string | undefined;
    if (token !== null) {
      tokenMac = TOKEN_RE.test(token) ? svc.macOfToken(token) : undefined;
      if (!tokenMac) return { ok: false, code: ERR.NOT_FOUND, status: 404, decision: 'not_found', reason: 'unknown token in the path', mac };
    }
    const served = svc.fileByName(name);
    if (served && (!tokenMac || served.mac === tokenMac)) {
      mac = served.mac;
      if (svc.cfg.tokenUrls && !tokenMac) return { ok: false, code: ERR.ACCESS, status: 403, decision: 'refused', reason: `this phone's files are served only under its token path`, mac };
      svc.recordFetch(served.mac, ip, null);
      return { ok: true, data: Buffer.from(served.body, 'utf8'), mac, decision: 'served', reason: null };
    }
    for (const d of svc.drivers.list) {
      const common = d.commonFile?.(name, { ...svc.settings(d, '', 0), configUrl: svc.rootUrl() });
      if (common) return { ok: true, data: Buffer.from(common.body, 'utf8'), mac: null, decision: 'common', reason: `${d.label} common file` };
    }
    const unreadable = mac ? svc.unreadableReason(mac) : undefined;
    if (mac && unreadable) return { ok: false, code: ERR.NOT_FOUND, status: 404, decision: 'not_found', reason: `phone ${fmtMac(mac)} is provisioned but ${unreadable.replace(/;.*$/, '')}`, mac };
    if (mac) {
      svc.unknownFetch(mac, name, ip, null);
      return { ok: false, code: ERR.NOT_FOUND, status: 404, decision: 'not_found', reason: `no phone with MAC ${fmtMac(mac)} is provisioned`, mac };
    }
    return { ok: false, code: ERR.NOT_FOUND, status: 404, decision: 'not_found', reason: 'no such file', mac: null };
  }

  /** One transfer from its own socket: OACK first when options were granted, then DATA blocks, each resent until ACKed. */
  private send(data: Buffer, req: Request, peer: dgram.RemoteInfo): void {
    const granted: [string, string][] = [];
    let blksize = 512;
    let timeoutMs = this.cfg.timeoutMs;
    const b = req.options.get('blksize');
    if (b !== undefined && /^\d+$/.test(b) && Number(b) >= 8) {
      blksize = Math.min(Number(b), this.cfg.maxBlksize, 65464);
      granted.push(['blksize', String(blksize)]);
    }
    const t = req.options.get('timeout');
    if (t !== undefined && /^\d+$/.test(t) && Number(t) >= 1 && Number(t) <= 255) {
      timeoutMs = Number(t) * 1000;
      granted.push(['timeout', t]);
    }
    if (req.options.get('tsize') !== undefined) granted.push(['tsize', String(data.length)]);

    const sock = dgram.createSocket({ type: peer.family === 'IPv6' ? 'udp6' : 'udp4' });
    const blocks = Math.floor(data.length / blksize) + 1; // the last one is shorter than blksize, maybe empty
    let current = granted.length ? 0 : 1; // block 0 stands for the OACK
    let packet: Buffer = Buffer.alloc(0);
    let tries = 0;
    let timer: NodeJS.Timeout | null = null;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      this.transfers.delete(sock);
      sock.close();
    };
    this.transfers.set(sock, close);
    const build = (n: number): Buffer => {
      if (n === 0) return Buffer.concat([Buffer.from([0, OP.OACK]), ...granted.map(([k, v]) => Buffer.from(`${k}\0${v}\0`, 'latin1'))]);
      const head = Buffer.alloc(4);
      head.writeUInt16BE(OP.DATA, 0);
      head.writeUInt16BE(n & 0xffff, 2);
      return Buffer.concat([head, data.subarray((n - 1) * blksize, Math.min(n * blksize, data.length))]);
    };
    const transmit = () => {
      if (closed) return;
      try {
        sock.send(packet, peer.port, peer.address);
      } catch (err) {
        this.app.log.warn({ err: String(err) }, 'TFTP send failed; transfer ended');
        return close();
      }
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > this.cfg.retries) {
          this.app.log.warn({ ip: peer.address, file: req.file.slice(0, 128), block: current }, 'TFTP transfer given up: no ACK');
          return close();
        }
        transmit();
      }, timeoutMs);
    };
    const next = () => {
      packet = build(current);
      tries = 0;
      transmit();
    };
    sock.on('error', (err) => {
      this.app.log.warn({ err: String(err) }, 'TFTP transfer socket error');
      close();
    });
    sock.on('message', (msg, from) => {
      if (from.port !== peer.port || from.address !== peer.address) {
        sock.send(errorPacket(ERR.UNKNOWN_TID, 'unknown transfer ID'), from.port, from.address);
        return;
      }
      if (msg.length < 4) return;
      const op = msg.readUInt16BE(0);
      if (op === OP.ERROR) return close();
      if (op !== OP.ACK) return;
      // Only the ACK of the block in flight moves on; a late duplicate of an earlier ACK is ignored (no resend,
      // so no "Sorcerer's Apprentice" doubling).
      if (msg.readUInt16BE(2) !== (current & 0xffff)) return;
      if (current >= blocks) return close();
      current++;
      next();
    });
    sock.bind(0, this.cfg.address.includes(':') ? '::' : this.cfg.address === '0.0.0.0' ? undefined : this.cfg.address, () => {
      if (!closed) next();
    });
  }
}
