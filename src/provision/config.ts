// provision config section: where phones fetch from, what every phone gets (NTP, zone, admin password),
// optional basic auth or per-phone URL tokens, announcements, SIP NOTIFY and driver options.
import type { ConfigSection } from '../config.js';

/** The read-only TFTP server (src/provision/tftp.ts). */
export interface TftpConfig {
  enabled: boolean;
  address: string;
  port: number;
  /** Resend a block after this long without its ACK (a client's timeout option overrides it). */
  timeoutMs: number;
  retries: number;
  /** Largest block size granted to a client's blksize option (1468 fills an Ethernet frame). */
  maxBlksize: number;
}

export interface ProvisionConfig {
  /** URL of the provisioning root as phones reach it (default: <http.publicUrl or host:port>/provision/). */
  url?: string;
  /** Directory the generated files are written to (default: <dataDir>/provision). */
  dir?: string;
  /** Registrar used when a row has no server. */
  defaultServer?: string;
  sipPort: number;
  ntpServer: string;
  /** IANA zone (default: this machine's). */
  timezone?: string;
  /** Admin/web password set on every phone (default: generated once and kept in the store, shared by every replica). */
  adminPassword?: string;
  /** HTTP basic auth phones must present. */
  auth?: { user: string; password: string };
  /** Put a per-phone token in each phone's URL (…/provision/t/<token>/) and refuse its files without it. */
  tokenUrls: boolean;
  /** Per-driver options, e.g. { "fanvil-x1sg": { format: "xml" } }. */
  drivers: Record<string, Record<string, unknown>>;
  announce: { fetches: boolean; unknown: boolean; targets: string[] };
  notify: { port: number; timeoutMs: number };
  /** Optional read-only TFTP server for the same files (off by default). */
  tftp: TftpConfig;
  firmware: { maxBytes: number };
  maxSheetBytes: number;
  maxRows: number;
  logRetentionDays: number;
}

declare module '../config.js' {
  interface ConfigSections {
    provision: ProvisionConfig;
  }
}

export const provisionConfigSection: ConfigSection = {
  key: 'provision',
  schema: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      url: { type: 'string', pattern: '^https?://[^\\s"\',]+/$' },
      dir: { type: 'string', minLength: 1 },
      defaultServer: { type: 'string', pattern: '^[A-Za-z0-9.-]{1,253}$' },
      sipPort: { type: 'integer', minimum: 1, maximum: 65535, default: 5060 },
      ntpServer: { type: 'string', pattern: '^[A-Za-z0-9.-]{1,253}$', default: 'pool.ntp.org' },
      timezone: { type: 'string', minLength: 1 },
      adminPassword: { type: 'string', minLength: 6, maxLength: 32, pattern: '^[\\x21-\\x7e]+$' },
      auth: {
        type: 'object',
        additionalProperties: false,
        required: ['user', 'password'],
        properties: { user: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,32}$' }, password: { type: 'string', minLength: 8, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' } },
      },
      tokenUrls: { type: 'boolean', default: false },
      drivers: { type: 'object', default: {}, additionalProperties: { type: 'object' } },
      announce: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          fetches: { type: 'boolean', default: true },
          unknown: { type: 'boolean', default: true },
          targets: { type: 'array', items: { type: 'string', pattern: '^[a-z]+:.+$' }, default: [] },
        },
      },
      notify: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: { port: { type: 'integer', minimum: 1, maximum: 65535, default: 5060 }, timeoutMs: { type: 'integer', minimum: 100, default: 4000 } },
      },
      tftp: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          enabled: { type: 'boolean', default: false },
          address: { type: 'string', pattern: '^[0-9a-fA-F.:]{2,45}$', default: '0.0.0.0' },
          port: { type: 'integer', minimum: 0, maximum: 65535, default: 69 },
          timeoutMs: { type: 'integer', minimum: 50, maximum: 255000, default: 1000 },
          retries: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
          maxBlksize: { type: 'integer', minimum: 512, maximum: 65464, default: 1468 },
        },
      },
      firmware: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: { maxBytes: { type: 'integer', minimum: 1024, maximum: 512 * 1024 * 1024, default: 64 * 1024 * 1024 } },
      },
      maxSheetBytes: { type: 'integer', minimum: 1024, default: 5 * 1024 * 1024 },
      maxRows: { type: 'integer', minimum: 1, default: 20000 },
      logRetentionDays: { type: 'integer', minimum: 1, default: 30 },
    },
  },
  env: {
    SWITCHBOARD_PROVISION_URL: 'url',
    SWITCHBOARD_PHONE_ADMIN_PASSWORD: 'adminPassword',
    SWITCHBOARD_PROVISION_AUTH_USER: 'auth.user',
    SWITCHBOARD_PROVISION_AUTH_PASSWORD: 'auth.password',
    SWITCHBOARD_PROVISION_TFTP: 'tftp.enabled',
  },
  secrets: ['adminPassword', 'auth.password'],
};
