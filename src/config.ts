// Configuration: an optional YAML/JSON file (--config or SWITCHBOARD_CONFIG) plus environment overrides,
// validated with ajv. Capabilities add their own section (schema + env names) in src/features.ts, so the
// core stays ignorant of them while a bad value anywhere stops start-up with key, value and expectation.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import type YamlModule from 'yaml';
import { configValidator } from './config-validator.js';

export interface CoreConfig {
  dataDir: string;
  databaseUrl?: string;
  /** With several store hosts in DATABASE_URL: where writes go (see host-pool.ts). */
  database: { writeTo: 'first' | 'any' };
  http: { host: string; port: number; publicUrl?: string; trustProxy: boolean; backlog: number };
  log: { level: string };
  console: { defaultRoom: string; rooms: string[]; sessionHours: number; lockoutFailures: number; lockoutMinutes: number };
  auth: { defaultRole: 'none' | 'viewer' | 'operator' | 'admin'; admins: string[] };
  notify: { default: string[] };
  jobs: { editIntervalMs: number; heartbeatMs: number; staleAfterMs: number };
  schedules: { leaseTtlMs: number; renewMs: number; keepRunsDays: number };
  uploads: { maxBytes: number };
}

/** Capability sections, merged in by declaration merging from each capability's config module. */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface ConfigSections {}

export type Config = CoreConfig & ConfigSections;

export interface ConfigSection {
  /** Top-level key, e.g. 'dhcp'. */
  key: string;
  /** JSON schema of the section; give defaults in the schema (ajv useDefaults fills them). */
  schema: Record<string, unknown>;
  /** Environment variables that override a path inside the section, e.g. { SWITCHBOARD_CALLERID_TOKEN: 'callerid.token' }. */
  env?: Record<string, string>;
  /** Key paths under this section that hold secrets (redacted in `config show`). */
  secrets?: string[];
}

const coreSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dataDir: { type: 'string', minLength: 1, default: './data' },
    databaseUrl: { type: 'string', pattern: '^(mysql|mariadb|sqlite):' },
    database: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { writeTo: { enum: ['first', 'any'], default: 'first' } },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        publicUrl: { type: 'string', pattern: '^https?://' },
        trustProxy: { type: 'boolean', default: false },
        // Connections the kernel may hold before the bot accepts them (capped by net.core.somaxconn): a
        // thousand agents reconnecting at once after a restart must not overflow it into SYN retries.
        backlog: { type: 'integer', minimum: 1, maximum: 65535, default: 4096 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' } },
    },
    console: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        defaultRoom: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', default: 'general' },
        rooms: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }, default: ['general', 'support', 'alerts'] },
        sessionHours: { type: 'number', exclusiveMinimum: 0, default: 12 },
        lockoutFailures: { type: 'integer', minimum: 1, default: 5 },
        lockoutMinutes: { type: 'number', exclusiveMinimum: 0, default: 15 },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        defaultRole: { enum: ['none', 'viewer', 'operator', 'admin'], default: 'none' },
        admins: { type: 'array', items: { type: 'string', pattern: '^[a-z]+:.+$' }, default: [] },
      },
    },
    notify: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { default: { type: 'array', items: { type: 'string', pattern: '^[a-z]+:.+$' }, default: [] } },
    },
    jobs: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        editIntervalMs: { type: 'integer', minimum: 0, default: 1000 },
        heartbeatMs: { type: 'integer', minimum: 100, default: 5000 },
        staleAfterMs: { type: 'integer', minimum: 1000, default: 30000 },
      },
    },
    schedules: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        leaseTtlMs: { type: 'integer', minimum: 1000, maximum: 40_000, default: 30000 },
        renewMs: { type: 'integer', minimum: 100, maximum: 20_000, default: 5000 },
        keepRunsDays: { type: 'number', exclusiveMinimum: 0, default: 3 },
      },
    },
    uploads: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { maxBytes: { type: 'integer', minimum: 1024, default: 20 * 1024 * 1024 } },
    },
  },
} as const;

const coreEnv: Record<string, string> = {
  SWITCHBOARD_DATA_DIR: 'dataDir',
  DATABASE_URL: 'databaseUrl',
  SWITCHBOARD_DB_WRITE_TO: 'database.writeTo',
  SWITCHBOARD_HTTP_HOST: 'http.host',
  SWITCHBOARD_HTTP_PORT: 'http.port',
  SWITCHBOARD_PUBLIC_URL: 'http.publicUrl',
  SWITCHBOARD_LOG_LEVEL: 'log.level',
  SWITCHBOARD_DEFAULT_ROLE: 'auth.defaultRole',
  SWITCHBOARD_ADMINS: 'auth.admins',
  SWITCHBOARD_NOTIFY: 'notify.default',
};

export class ConfigError extends Error {}

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur: Record<string, unknown> = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function getPath(obj: unknown, pointer: string): unknown {
  let cur: unknown = obj;
  for (const p of pointer.split('/').filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/** Env values: JSON when they parse as an array/object/number/boolean, a comma list for array keys, else a string. */
function envValue(raw: string): unknown {
  const t = raw.trim();
  if (/^[[{]/.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return raw;
    }
  }
  return raw;
}

export function describeAjvError(e: ErrorObject, root: unknown, secretPaths: Set<string>): string {
  const key = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)';
  let where = key;
  let expected = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    where = key === '(root)' ? extra : `${key}.${extra}`;
    return `config key "${where}" is not known`;
  }
  if (e.keyword === 'enum') expected = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return `config key "${key === '(root)' ? missing : `${key}.${missing}`}" is required`;
  }
  const value = getPath(root, e.instancePath);
  const shown = secretPaths.has(key) ? '"***"' : JSON.stringify(value)?.slice(0, 120);
  return `config key "${where}" has value ${shown}: ${expected}`;
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  sections?: ConfigSection[];
  /** Values that override everything (tests). */
  overrides?: Record<string, unknown>;
}

/** The sub-schema at a dotted key path (through `properties`), if any. */
function schemaAt(schema: unknown, dotted: string): unknown {
  let cur = schema as { properties?: Record<string, unknown> } | undefined;
  for (const part of dotted.split('.')) cur = cur?.properties?.[part] as typeof cur;
  return cur;
}

export function buildSchema(sections: ConfigSection[]): Record<string, unknown> {
  const props: Record<string, unknown> = { ...coreSchema.properties };
  for (const s of sections) props[s.key] = { default: {}, ...s.schema };
  return { ...coreSchema, properties: props };
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const sections = opts.sections ?? [];
  const file = opts.file ?? env.SWITCHBOARD_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    try {
      const parsed = /\.json$/i.test(file) ? JSON.parse(text) : (createRequire(import.meta.url)('yaml') as typeof YamlModule).parse(text); // yaml: only for a YAML file
      raw = parsed ?? {};
    } catch (e) {
      throw new ConfigError(`config file ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config file ${file} must hold a mapping of keys at the top level`);
  }
  const envMap: Record<string, string> = { ...coreEnv };
  const secretPaths = new Set<string>(['databaseUrl']);
  for (const s of sections) {
    for (const [k, p] of Object.entries(s.env ?? {})) envMap[k] = `${s.key}.${p}`;
    for (const p of s.secrets ?? []) secretPaths.add(`${s.key}.${p}`);
  }
  const schema = buildSchema(sections);
  for (const [name, dotted] of Object.entries(envMap)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const value = envValue(v);
    // A comma list for keys whose schema is an array (SWITCHBOARD_RENEW_ALLOW=10.0.1.0/24,10.0.2.0/24).
    const isArray = (schemaAt(schema, dotted) as { type?: string } | undefined)?.type === 'array';
    setPath(
      raw,
      dotted,
      isArray && typeof value === 'string'
        ? value
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : value,
    );
  }
  // Generic override: SWITCHBOARD__http__port=9000 sets http.port.
  for (const [name, v] of Object.entries(env)) {
    if (name.startsWith('SWITCHBOARD__') && v !== undefined) setPath(raw, name.slice('SWITCHBOARD__'.length).split('__').join('.'), envValue(v));
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) setPath(raw, k, v);

  const { validate } = configValidator(schema);
  if (!validate(raw)) {
    const msgs = (validate.errors ?? []).map((e) => describeAjvError(e, raw, secretPaths));
    throw new ConfigError(`invalid configuration:\n  - ${[...new Set(msgs)].join('\n  - ')}`);
  }
  const cfg = raw as unknown as Config;
  cfg.dataDir = path.resolve(cfg.dataDir);
  return cfg;
}
