// The `renew` config section.
import type { PasswordPolicy } from './passwords.js';

export interface RenewConfig {
  allow: string[];
  ssh: { user: string; port: number };
  bootstrap: { passwordFile?: string };
  concurrency: number;
  timeoutMs: number;
  scan: { concurrency: number; timeoutMs: number };
  accountPattern: string;
  site: string;
  shell: string;
  passwordPolicy: PasswordPolicy;
  managedPattern?: string;
}

declare module '../config.js' {
  interface ConfigSections {
    renew: RenewConfig;
  }
}

export const renewSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    allow: { type: 'array', items: { type: 'string', pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$' }, default: [] },
    ssh: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        user: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,32}$', default: 'root' },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 22 },
      },
    },
    bootstrap: { type: 'object', additionalProperties: false, default: {}, properties: { passwordFile: { type: 'string', minLength: 1 } } },
    concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 8 },
    timeoutMs: { type: 'integer', minimum: 1000, default: 60000 },
    scan: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { concurrency: { type: 'integer', minimum: 1, maximum: 1024, default: 256 }, timeoutMs: { type: 'integer', minimum: 50, default: 1000 } },
    },
    accountPattern: { type: 'string', pattern: '^[A-Za-z0-9_{}.-]+$', default: 'USER{site}{nnn}-{dddd}' },
    site: { type: 'string', pattern: '^[A-Za-z0-9]{0,8}$', default: 'SS' },
    shell: { type: 'string', pattern: '^/[A-Za-z0-9/_.-]+$', default: '/bin/bash' },
    passwordPolicy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        length: { type: 'integer', minimum: 8, maximum: 128, default: 16 },
        minClasses: { type: 'integer', minimum: 1, maximum: 4, default: 3 },
        classes: { type: 'array', items: { enum: ['lower', 'upper', 'digit', 'symbol'] }, minItems: 1, default: ['lower', 'upper', 'digit', 'symbol'] },
        noLookAlike: { type: 'boolean', default: true },
      },
    },
    managedPattern: { type: 'string', minLength: 1 },
  },
};

/** Account name from the pattern: {site}, {nnn} (last IPv4 octet, 3 digits), {dddd} (4 random digits). */
export function accountName(pattern: string, site: string, hostNumber: number, rand4: number): string {
  return pattern
    .replace(/\{site\}/g, site)
    .replace(/\{nnn\}/g, String(hostNumber % 1000).padStart(3, '0'))
    .replace(/\{dddd\}/g, String(rand4 % 10000).padStart(4, '0'));
}

/** The ERE that matches managed accounts: managedPattern when set, else the account pattern's shape. */
export function managedRegex(cfg: Pick<RenewConfig, 'accountPattern' | 'site' | 'managedPattern'>): string {
  if (cfg.managedPattern) return cfg.managedPattern;
  const lit = (s: string) => s.replace(/[.*+?^$()|[\]\\-]/g, (c) => (c === '-' ? '-' : `\\${c}`));
  const parts = cfg.accountPattern.split(/(\{site\}|\{nnn\}|\{dddd\})/).map((p) => (p === '{site}' ? lit(cfg.site) : p === '{nnn}' ? '[0-9]{3}' : p === '{dddd}' ? '[0-9]{4}' : lit(p)));
  return `^${parts.join('')}$`;
}
