// `provision resync|reboot`: SIP NOTIFY check-sync to the address a phone last fetched from (else its DHCP IP),
// many phones at a time, and one result line per phone.
import type { PhoneRecord, ProvisionService } from './service.js';
import { fmtMac } from '../util/mac.js';
import { sendNotify, type NotifyResult } from './sip-notify.js';

export async function notifyOne(s: ProvisionService, p: PhoneRecord, reboot: boolean): Promise<{ phone: PhoneRecord; address: string | null; r: NotifyResult }> {
  const address = p.lastFetchIp ?? p.ip;
  if (!address) return { phone: p, address: null, r: { status: null, reason: 'address unknown: it never fetched its config and has no ip', ms: 0 } };
  const host = address.replace(/^::ffff:/, '');
  const r = await sendNotify({ host, port: s.cfg.notify.port, user: p.extension, reboot, timeoutMs: s.cfg.notify.timeoutMs });
  return { phone: p, address: host, r };
}

export function notifyLine(x: { phone: PhoneRecord; address: string | null; r: NotifyResult }): string[] {
  const res = x.r.status === null ? `✗ ${x.r.reason}` : x.r.status >= 200 && x.r.status < 300 ? `✓ ${x.r.status} ${x.r.reason}` : `✗ ${x.r.status} ${x.r.reason}`;
  return [fmtMac(x.phone.mac), x.phone.extension, x.address ?? '-', res, x.r.ms ? `${x.r.ms} ms` : ''];
}

/** fn over items, at most n at a time, results in order; each(done) after every one. */
export async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>, each?: (done: number) => void): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
        each?.(++done);
      }
    }),
  );
  return out;
}
