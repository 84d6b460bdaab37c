// The bot's public base URL, computed from config alone so that `start`, `exec` and every replica write the
// same URL into phone files, enrolment commands and QR labels. Never from a bound socket: `exec` binds none.
import os from 'node:os';
import ipaddr from 'ipaddr.js';

export interface HttpUrlConfig {
  host: string;
  port: number;
  publicUrl?: string;
}

/** The first non-internal IPv4 address of this machine, for a wildcard listener with no publicUrl. */
function machineAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/**
 * `http.publicUrl` when set; else `http://<host>:<port>`, where a wildcard host (0.0.0.0, ::) stands for this
 * machine's first outside IPv4 address. Port 0 (an ephemeral port, tests only) takes the bound port.
 */
export function configuredBaseUrl(http: HttpUrlConfig, boundPort?: number): string {
  if (http.publicUrl) return http.publicUrl.replace(/\/+$/, '');
  let host = http.host;
  if (host === '0.0.0.0' || host === '::' || host === '') host = machineAddress() ?? '127.0.0.1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  const port = http.port === 0 && boundPort ? boundPort : http.port;
  return `http://${host}:${port}`;
}

/** True when a URL's host is a loopback address or name (phones and PBXs elsewhere cannot reach it). */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (!ipaddr.isValid(host)) return false;
  const a = ipaddr.process(host);
  return a.range() === 'loopback';
}

/** The warning shown at start and in replies that hand the URL to a phone or PBX, or null. */
export function loopbackWarning(url: string, what = 'the bot'): string | null {
  if (!isLoopbackUrl(url)) return null;
  return `⚠ ${what} is reached at ${url}, a loopback address: phones, PBX agents and QR labels elsewhere cannot use it. Set http.publicUrl (SWITCHBOARD_PUBLIC_URL) to an address they reach.`;
}
