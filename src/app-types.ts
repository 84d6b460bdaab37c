// The app contract: what everything that plugs into the app sees (capabilities, chat, HTTP, commands). It sits
// above the core and the store and names nothing above them: App is composed here from the core's ports
// (src/core/ports.ts) and the store's handles, and built by the composition root (src/app.ts). The core's
// command and job shapes are re-exported bound to App, as commands/ and capabilities use them.
import type { Command as CliProgram } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { Config, ConfigSection } from './config.js';
import type { Logger } from './log.js';
import type { Store, DB } from './store/db.js';
import type { Registry } from './core/registry.js';
import type { JobRunner } from './core/jobs.js';
import type { Notifier } from './core/notifier.js';
import type { Dispatcher } from './core/dispatcher.js';
import type { Roles } from './core/roles.js';
import type { AppMode, CoreMetrics } from './core/ports.js';
import type { Command as CoreCommand, CommandContext as CoreCommandContext } from './core/command.js';
import type { JobContext as CoreJobContext, JobKind as CoreJobKind } from './core/job-types.js';
import type { Claims } from './store/claims.js';
import type { Leases } from './core/leases.js';
import type { ChangeFeed } from './store/change-feed.js';
import type { Sealer } from './store/sealer.js';
import type { StoreSecrets } from './store/store-secrets.js';
import type { ButtonStore } from './core/buttons.js';

/** Capability services, merged in by declaration merging: `declare module '…/app-types.js' { interface Services { dhcp: DhcpService } }`. */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface Services {}

export type { AppMode } from './core/ports.js';

export interface App {
  mode: AppMode;
  config: Config;
  /** Where env-only secrets are read (createApp's `env`, default process.env): e.g. the console's SWITCHBOARD_ADMIN_PASSWORD. */
  env: NodeJS.ProcessEnv;
  log: Logger;
  store: Store;
  db: DB;
  registry: Registry<App>;
  roles: Roles;
  jobs: JobRunner<App>;
  notifier: Notifier;
  dispatcher: Dispatcher<App>;
  /** The counters the core writes (Prometheus behind them: src/http/metrics.ts, served by the composition root). */
  metrics: CoreMetrics;
  /** Fastify instance; routes are registered during feature init, before listen. */
  http: FastifyInstance;
  services: Services;
  /** Run fn on a cron expression ('*\/5 * * * *', seconds allowed) or every N ms, in server mode, once per period across the cluster. */
  schedule(name: string, every: string | number, fn: () => Promise<void> | void): void;
  /** Public base URL, from config alone (http.publicUrl, else http://host:port): the same in every process. */
  baseUrl(): string;
  /** This process in job, lease and claim rows (host:pid:start). */
  owner: string;
  /** Named leases in the store (`acquire(name, ttlMs)` takes or renews, `release(name)`): one holder in the cluster. */
  leases: Leases;
  /** "Do this once" decisions shared by every process on the store (de-duplication windows). */
  claims: Claims;
  /** The store's change feed: `changes.on(topic, keys => …)` refreshes in-memory state changed by other processes. */
  changes: ChangeFeed;
  /** The store key (SWITCHBOARD_PROVISION_KEY or <dataDir>/provision.key): seals secrets at rest. */
  sealer: Sealer;
  /** Command buttons: the command behind each button id the bot sent (core/buttons.ts). */
  buttons: ButtonStore;
  /** Secrets every replica shares, sealed in the store with `sealer`. */
  secrets: StoreSecrets;
  /** Hooks run on stop, last registered first. */
  onStop(fn: () => Promise<void> | void): void;
}

/** What a feature's CLI sub-commands get besides the program (the bot's config and logger, on demand). */
export interface CliHelpers {
  loadConfig(opts: { config?: string }): Config;
  createLogger(level?: string): Logger;
}

/**
 * A capability plugged into the app: its config section, its `switchboard` sub-commands, and an init that
 * creates its services, registers HTTP routes and schedules. Listed in src/features.ts, run in the order
 * their `after` lists give (src/feature-order.ts).
 */
export interface Feature {
  name: string;
  /** Features whose init and start must run before this one's (by name); the list's own order means nothing. */
  after?: string[];
  config?: ConfigSection;
  /** Extra `switchboard` sub-commands (e.g. monitoring's `switchboard agent`). */
  cli?(program: CliProgram, helpers: CliHelpers): void;
  init?(app: App): Promise<void> | void;
  /** After the HTTP server listens (server mode only): connect to outside systems. */
  start?(app: App): Promise<void> | void;
}

/** A command as commands/ write it: its handler gets App as `ctx.app`. */
export type Command = CoreCommand<App>;
export type CommandContext = CoreCommandContext<App>;
/** A job kind as commands/ and capabilities write it: its run gets App as `ctx.app`. */
export type JobKind = CoreJobKind<App>;
export type JobContext = CoreJobContext<App>;
