// dhcp config section: subnets, backends (paths, checker and reload commands), auto-apply, caller-ID hook.
import type { ConfigSection } from '../config.js';

export interface SubnetConfig { cidr: string; pool?: string; gateway?: string; dns?: string[] }
export interface BackendConfig { enabled: boolean; path: string; check: string[]; reload: string[] }
export interface DhcpConfig {
  subnets: SubnetConfig[];
  autoApply: boolean;
  autoApplyDelayMs: number;
  /** Where `dhcp apply` keeps temp wrappers (default: beside the live files). */
  backends: { isc: BackendConfig; kea: BackendConfig & { template?: string }; keaControl: { enabled: boolean; socket: string; timeoutMs: number }; dnsmasq: BackendConfig; proxy: BackendConfig & { dir: string } };
  callerid: { token?: string; allow: string[]; targets: string[]; matchDigits: number; dedupeSeconds: number };
}

declare module '../config.js' {
  interface ConfigSections { dhcp: DhcpConfig }
}

const backend = (path: string, check: string[], reload: string[], extra: Record<string, unknown> = {}) => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    ...extra,
    enabled: { type: 'boolean', default: false },
    path: { type: 'string', minLength: 1, default: path },
    check: { type: 'array', items: { type: 'string' }, default: check },
    reload: { type: 'array', items: { type: 'string' }, default: reload },
  },
});

export const dhcpConfigSection: ConfigSection = {
  key: 'dhcp',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      subnets: {
        type: 'array',
        default: [],
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['cidr'],
          properties: {
            cidr: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+/\\d+$' },
            pool: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+-\\d+\\.\\d+\\.\\d+\\.\\d+$' },
            gateway: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+$' },
            dns: { type: 'array', items: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+$' } },
          },
        },
      },
      autoApply: { type: 'boolean', default: false },
      autoApplyDelayMs: { type: 'integer', minimum: 0, default: 5000 },
      backends: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          isc: backend('/etc/dhcp/dhcpd.hosts', ['dhcpd', '-t', '-cf', '{wrapper}'], []),
          kea: backend('/etc/kea/kea-dhcp4.conf', ['kea-dhcp4', '-t', '{file}'], [], { template: { type: 'string', minLength: 1 } }),
          keaControl: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              enabled: { type: 'boolean', default: false },
              socket: { type: 'string', minLength: 1, default: '/run/kea/kea4-ctrl-socket' },
              timeoutMs: { type: 'integer', minimum: 100, default: 30000 },
            },
          },
          dnsmasq: backend('/etc/dnsmasq.d/switchboard-hosts.conf', [], []),
          proxy: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              enabled: { type: 'boolean', default: false },
              dir: { type: 'string', minLength: 1, default: '/etc/squid' },
              path: { type: 'string', default: '/etc/squid' },
              check: { type: 'array', items: { type: 'string' }, default: ['squid', '-k', 'parse', '-f', '{wrapper}'] },
              reload: { type: 'array', items: { type: 'string' }, default: [] },
            },
          },
        },
      },
      callerid: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          token: { type: 'string', minLength: 8 },
          allow: { type: 'array', items: { type: 'string' }, default: [] },
          targets: { type: 'array', items: { type: 'string', pattern: '^[a-z]+:.+$' }, default: [] },
          matchDigits: { type: 'integer', minimum: 4, maximum: 15, default: 7 },
          dedupeSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 10 },
        },
      },
    },
  },
  env: { SWITCHBOARD_CALLERID_TOKEN: 'callerid.token' },
  secrets: ['callerid.token'],
};
