// The backends, by name. A new backend is one file in this directory plus its entry here (and its test).
import type { Backend, BackendName } from './types.js';
import { iscBackend } from './isc.js';
import { keaBackend } from './kea.js';
import { keaControlBackend } from './kea-control.js';
import { dnsmasqBackend } from './dnsmasq.js';
import { proxyBackend } from './proxy.js';

export const BACKENDS: Record<BackendName, Backend> = {
  isc: iscBackend,
  kea: keaBackend,
  keaControl: keaControlBackend,
  dnsmasq: dnsmasqBackend,
  proxy: proxyBackend,
};

export const BACKEND_NAMES = Object.keys(BACKENDS) as BackendName[];

export function isBackendName(n: string): n is BackendName {
  return Object.hasOwn(BACKENDS, n);
}

export * from './types.js';
