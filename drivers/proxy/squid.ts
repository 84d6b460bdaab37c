// Squid source-address lists: proxy1..proxy3 hold the IPs of hosts with access level 1..3. Pure.
import type { RenderHost } from '../dhcp/types.js';

export function renderProxyList(hosts: RenderHost[], level: 1 | 2 | 3): string {
  const ips = hosts.filter((h) => h.access === level).map((h) => h.ip);
  return ips.length ? ips.join('\n') + '\n' : '';
}

/** A minimal squid.conf that loads the three lists, for `squid -k parse`. */
export function squidWrapper(files: [string, string, string], runDir: string): string {
  return [
    `acl level1 src "${files[0]}"`,
    `acl level2 src "${files[1]}"`,
    `acl level3 src "${files[2]}"`,
    'http_access allow level1',
    'http_access allow level2',
    'http_access allow level3',
    'http_access deny all',
    'http_port 127.0.0.1:3128',
    `pid_filename ${runDir}/squid.pid`,
    `cache_log ${runDir}/cache.log`,
    'access_log none',
    `coredump_dir ${runDir}`,
    '',
  ].join('\n');
}
