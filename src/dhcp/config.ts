// dhcp config section: subnets, backends (paths, checker and reload commands), auto-apply, caller-ID hook.
import type { ConfigSection } from '../config.js';
import type { BackendConfig } from './backends/index.js';

export interface SubnetConfig {
  cidr: string;
  pool?: string;
  gateway?: string;
  dns?: string[];
}

export interface DhcpConfig {
  subnets: SubnetConfig[];
  autoApply: boolean;
  autoApplyDelayMs: number;
  /** Each loaded backend's settings by its name (every loaded backend present once the dhcp feature started). */
  backends: Record<string, BackendConfig>;
  backendDirs: string[];
  callerid: { token?: string; allow: string[]; targets: string[]; matchDigits: number; dedupeSeconds: number };
}

declare module '../config.js' {
  interface ConfigSections {
    dhcp: DhcpConfig;
  }
}

/**
 * One backend's settings. The names under dhcp.backends are not listed here: they are the loaded backends' (see
 * src/dhcp/backends/index.ts), checked and filled with each backend's defaults when the dhcp feature starts.
 */
const backendSettings = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean', default: false },
    path: { type: 'string', minLength: 1 },
    dir: { type: 'string', minLength: 1 },
    check: { type: 'array', items: { type: 'string' } },
    reload: { type: 'array', items: { type: 'string' } },
    socket: { type: 'string', minLength: 1 },
    timeoutMs: { type: 'integer', minimum: 100 },
    template: { type: 'string', minLength: 1 },
  },
};

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
      backends: { type: 'object', default: {}, additionalProperties: backendSettings },
      /** More folders of backend modules (site-local backends), loaded after the built-in ones. */
      backendDirs: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
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
