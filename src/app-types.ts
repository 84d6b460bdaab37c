// The shape of the composition root, shared by everything that plugs into it.
import type { FastifyInstance } from 'fastify';
import type { Config, ConfigSection } from './config.js';
import type { Logger } from './log.js';
import type { Store, DB } from './store/db.js';
import type { Registry } from './core/registry.js';
import type { JobRunner } from './core/jobs.js';
import type { Notifier } from './core/notifier.js';
import type { Dispatcher } from './core/dispatcher.js';
import type { Roles } from './core/roles.js';
import type { Metrics } from './http/metrics.js';
import type { ConsoleHub } from './chat/console-hub.js';

/** Capability services, merged in by declaration merging: `declare module '…/app-types.js' { interface Services { dhcp: DhcpService } }`. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Services {}

export type AppMode = 'server' | 'exec' | 'test';

export interface App {
  mode: AppMode;
  config: Config;
  log: Logger;
  store: Store;
  db: DB;
  registry: Registry;
  roles: Roles;
  jobs: JobRunner;
  notifier: Notifier;
  dispatcher: Dispatcher;
  consoleHub: ConsoleHub;
  metrics: Metrics;
  /** Fastify instance; routes are registered during feature init, before listen. */
  http: FastifyInstance;
  services: Services;
  /** Run fn on a cron expression ('*\/5 * * * *') or every N ms, only in server mode. */
  schedule(name: string, every: string | number, fn: () => Promise<void> | void): void;
  /** Public base URL of the HTTP server (config http.publicUrl, else http://host:port). */
  baseUrl(): string;
  /** Hooks run on stop, last registered first. */
  onStop(fn: () => Promise<void> | void): void;
}

/**
 * A capability plugged into the app: its config section, and an init that creates its services,
 * registers HTTP routes and schedules. Listed in src/features.ts.
 */
export interface Feature {
  name: string;
  config?: ConfigSection;
  init?(app: App): Promise<void> | void;
  /** After the HTTP server listens (server mode only): connect to outside systems. */
  start?(app: App): Promise<void> | void;
}
