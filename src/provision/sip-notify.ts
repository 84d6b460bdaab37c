// SIP NOTIFY over UDP asking a phone to re-fetch its config (Event: check-sync), optionally rebooting
// (check-sync;reboot=true). Retransmits on the RFC 3261 timer T1 schedule until a final answer or the timeout.
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';

export interface NotifyResult {
  /** Final SIP status, or null on timeout. */
  status: number | null;
  reason: string;
  ms: number;
}

export interface NotifyOptions {
  host: string;
  port: number;
  /** User part of the request URI (the phone's extension). */
  user: string;
  reboot?: boolean;
  timeoutMs: number;
}

const rand = (n: number) => crypto.randomBytes(n).toString('hex');

export function buildNotify(o: NotifyOptions, local: { address: string; port: number }, ids: { branch: string; tag: string; callId: string }): string {
  const hostPart = net.isIPv6(o.host) ? `[${o.host}]` : o.host;
  const localHost = net.isIPv6(local.address) ? `[${local.address}]` : local.address;
  const uri = `sip:${o.user}@${hostPart}:${o.port}`;
  return [
    `NOTIFY ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${localHost}:${local.port};branch=${ids.branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:switchboard@${localHost}:${local.port}>;tag=${ids.tag}`,
    `To: <${uri}>`,
    `Call-ID: ${ids.callId}`,
    'CSeq: 1 NOTIFY',
    `Contact: <sip:switchboard@${localHost}:${local.port}>`,
    `Event: check-sync${o.reboot ? ';reboot=true' : ''}`,
    'Subscription-State: terminated;reason=timeout',
    'User-Agent: Switchboard',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export function sendNotify(o: NotifyOptions): Promise<NotifyResult> {
  const started = Date.now();
  const family = net.isIPv6(o.host) ? 'udp6' : 'udp4';
  const sock = dgram.createSocket(family);
  const ids = { branch: `z9hG4bK${rand(8)}`, tag: rand(6), callId: `${rand(12)}@switchboard` };
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    let deadline: NodeJS.Timeout | null = null;
    let finished = false;
    const finish = (r: Omit<NotifyResult, 'ms'>) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      if (deadline) clearTimeout(deadline);
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      resolve({ ...r, ms: Date.now() - started });
    };
    sock.on('error', (err) => finish({ status: null, reason: `cannot send: ${err.message}` }));
    sock.on('message', (buf) => {
      const text = buf.toString('utf8');
      const m = /^SIP\/2\.0 (\d{3}) ?([^\r\n]*)/.exec(text);
      if (!m || !text.includes(ids.callId)) return;
      const status = Number(m[1]);
      if (status < 200) return; // provisional: keep waiting
      finish({ status, reason: m[2]!.trim() || String(status) });
    });
    sock.connect(o.port, o.host, () => {
      const local = sock.address();
      const msg = Buffer.from(buildNotify(o, local, ids));
      let interval = 500;
      const send = () => {
        sock.send(msg, (err) => err && finish({ status: null, reason: `cannot send: ${err.message}` }));
        interval = Math.min(interval * 2, 4000);
        timer = setTimeout(send, interval);
      };
      send();
      deadline = setTimeout(() => finish({ status: null, reason: `no answer within ${o.timeoutMs} ms` }), o.timeoutMs);
    });
  });
}
