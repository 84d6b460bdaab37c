// Composition root: builds the store, core, adapters, HTTP server, features and schedules.
import type { App, AppMode, Feature, Services } from './app-types.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { openStore } from './store/db.js';
import { migrateToLatest } from './store/migrate.js';
import { Registry } from './core/registry.js';
import { Roles } from './core/roles.js';
import { Notifier } from './core/notifier.js';
import { JobRunner } from './core/jobs.js';
import { OWNER } from './core/owner.js';
import { Leases } from './core/leases.js';
import { Scheduler } from './core/scheduler.js';
import { Dispatcher } from './core/dispatcher.js';
import { ButtonStore } from './core/buttons.js';
import { Metrics } from './http/metrics.js';
import { createHttp } from './http/server.js';
import { registerHealthRoutes } from './http/health.js';
import { features as shippedFeatures } from './features.js';
import { registerSecret } from './secrets.js';
import { Sealer } from './store/sealer.js';
import { Claims } from './store/claims.js';
import { ChangeFeed, pruneChangeFeed } from './store/change-feed.js';
import { StoreSecrets } from './store/store-secrets.js';
import { configuredBaseUrl, loopbackWarning } from './http/base-url.js';
import type { ChatAdapter } from './core/types.js';

export interface CreateAppOptions {
  mode: AppMode;
  config: Config;
  log: Logger;
  /** Extra adapters (the CLI's, test fakes). */
  adapters?: ChatAdapter[];
  /** Where env-only secrets (SWITCHBOARD_PROVISION_KEY, SWITCHBOARD_ADMIN_PASSWORD) are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** This process's name in job, lease and claim rows (default: host:pid:start). Tests give two in-process "replicas" their own. */
  owner?: string;
  /** The capabilities, in the order to run them (default: the shipped ones, src/features.ts). Tests swap one for a variant. */
  features?: Feature[];
}

/** The app as built here: App, plus what the composition root keeps for itself and for tests. */
export interface RunningApp extends App {
  /** Server mode: listen, start adapters, schedules and background work. Returns the bound URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
  /** Prometheus metrics behind App's core counters, served at /metrics. */
  metrics: Metrics;
}

export async function createApp(opts: CreateAppOptions): Promise<RunningApp> {
  const { config, log, mode } = opts;
  const env = opts.env ?? process.env;
  const features = opts.features ?? shippedFeatures;
  registerSecret(env.SWITCHBOARD_ADMIN_PASSWORD);
  const store = openStore({
    databaseUrl: config.databaseUrl,
    sqlitePath: `${config.dataDir}/switchboard.sqlite`,
    writeTo: config.database.writeTo,
    onHostChange: (host, up, reason) => (up ? log.info({ host }, 'store host is back') : log.warn({ host, reason }, 'store host down; using the next one')),
  });
  const health = { migrated: false };
  const stopHooks: (() => Promise<void> | void)[] = [];
  const http = await createHttp({ log, uploadLimit: config.uploads.maxBytes, trustProxy: config.http.trustProxy });
  const registry = new Registry();
  const metrics = new Metrics(store.db);
  const sealer = Sealer.fromEnvOrFile(env, config.dataDir);
  const buttons = new ButtonStore(store.db, sealer);
  const notifier = new Notifier(log.child({ mod: 'notify' }), {
    defaultTargets: config.notify.default,
    fallback: { platform: 'console', channel: config.console.defaultRoom },
    buttons,
  });
  let boundPort: number | undefined;
  const owner = opts.owner ?? OWNER;
  const leases = new Leases(store.db, owner);
  const scheduler = new Scheduler(store.db, leases, log.child({ mod: 'schedule' }), config.schedules);
  const changes = new ChangeFeed(store.db, { onError: (err) => log.warn({ err: String(err) }, 'change feed read failed') });

  const app = {
    mode,
    config,
    log,
    store,
    db: store.db,
    registry,
    roles: new Roles(store.db, { admins: config.auth.admins, defaultRole: config.auth.defaultRole }),
    notifier,
    env,
    metrics,
    http,
    services: {} as Services,
    schedule(name: string, every: string | number, fn: () => Promise<void> | void) {
      // Replicas on one store run each schedule once per period (src/core/scheduler.ts).
      if (mode === 'server') scheduler.add(name, every, fn);
    },
    baseUrl() {
      return configuredBaseUrl(config.http, boundPort);
    },
    owner,
    leases,
    claims: new Claims(store.db, owner),
    changes,
    sealer,
    buttons,
    onStop(fn: () => Promise<void> | void) {
      stopHooks.push(fn);
    },
  } as unknown as RunningApp;
  app.jobs = new JobRunner<App>(app, owner);
  app.dispatcher = new Dispatcher<App>(app);

  for (const a of opts.adapters ?? []) notifier.register(a);

  const migration = await migrateToLatest(store, { log: (m) => log.warn(m) });
  health.migrated = true;
  if (migration.applied.length) log.info({ applied: migration.applied, store: store.describe }, 'store migrated');
  // Refuses to go on (with which key and how to fix it) when this process's key is not the store's.
  app.secrets = await StoreSecrets.open(store.db, app.sealer);
  await registry.loadDir();
  registerHealthRoutes(app, health);
  for (const f of features) await f.init?.(app);

  app.listen = async () => {
    let boundUrl = await http.listen({ host: config.http.host, port: config.http.port, backlog: config.http.backlog });
    const addr = http.server.address();
    if (addr && typeof addr === 'object') {
      boundPort = addr.port;
      boundUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    }
    const warning = loopbackWarning(app.baseUrl());
    if (warning) log.warn({ baseUrl: app.baseUrl() }, warning);
    await changes.start();
    app.schedule('change-feed-prune', '41 * * * *', () => pruneChangeFeed(store.db));
    await app.jobs.startBackground();
    const sink = async (inc: Parameters<typeof app.dispatcher.handle>[0]) => {
      await app.dispatcher.handle(inc);
    };
    for (const a of opts.adapters ?? []) await a.start(sink);
    for (const f of features) await f.start?.(app);
    return boundUrl;
  };

  app.close = async () => {
    await scheduler.stop();
    for (const fn of stopHooks.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, 'stop hook failed');
      }
    }
    for (const p of notifier.platforms())
      await notifier
        .adapter(p)
        ?.stop()
        .catch(() => undefined);
    changes.stop();
    await app.jobs.stop();
    await http.close();
    await store.close();
  };

  if (mode === 'exec') await app.jobs.recover().catch(() => undefined);
  return app;
}
