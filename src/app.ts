// Composition root: builds the store, core, adapters, HTTP server, features and schedules.
import cron from 'node-cron';
import type { App, AppMode, Services } from './app-types.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { openStore } from './store/db.js';
import { migrateToLatest } from './store/migrate.js';
import { Registry } from './core/registry.js';
import { Roles } from './core/roles.js';
import { Notifier } from './core/notifier.js';
import { JobRunner, OWNER as JOB_OWNER } from './core/jobs.js';
import { Leases } from './core/leases.js';
import { Dispatcher } from './core/dispatcher.js';
import { ConsoleHub } from './chat/console-hub.js';
import { ConsoleAdapter } from './chat/console-adapter.js';
import { ConsoleAuth, randomPassword } from './chat/console-auth.js';
import { Metrics } from './http/metrics.js';
import { createHttp } from './http/server.js';
import { registerHealthRoutes } from './http/health.js';
import { registerConsoleRoutes } from './http/console-routes.js';
import { features } from './features.js';
import { registerSecret } from './secrets.js';
import type { ChatAdapter } from './core/types.js';

export interface CreateAppOptions {
  mode: AppMode;
  config: Config;
  log: Logger;
  /** Extra adapters (the CLI's, test fakes). */
  adapters?: ChatAdapter[];
}

export interface RunningApp extends App {
  /** Server mode: listen, start adapters, schedules and background work. Returns the bound URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
  consoleAuth: ConsoleAuth;
  /** Set when the first start created the console admin with a generated password. */
  generatedAdminPassword?: string;
}

export async function createApp(opts: CreateAppOptions): Promise<RunningApp> {
  const { config, log, mode } = opts;
  registerSecret(process.env.SWITCHBOARD_ADMIN_PASSWORD);
  const store = openStore({ databaseUrl: config.databaseUrl, sqlitePath: `${config.dataDir}/switchboard.sqlite` });
  const health = { migrated: false };
  const stopHooks: (() => Promise<void> | void)[] = [];
  const tasks: { stop(): void }[] = [];
  const http = await createHttp({ log, uploadLimit: config.uploads.maxBytes, trustProxy: config.http.trustProxy });
  const registry = new Registry();
  const consoleHub = new ConsoleHub(store.db);
  const metrics = new Metrics(store.db);
  const notifier = new Notifier(log.child({ mod: 'notify' }), {
    defaultTargets: config.notify.default,
    fallback: { platform: 'console', channel: config.console.defaultRoom },
  });
  let boundUrl = '';
  const leases = new Leases(store.db, JOB_OWNER);

  const app = {
    mode,
    config,
    log,
    store,
    db: store.db,
    registry,
    roles: new Roles(store.db, { admins: config.auth.admins, defaultRole: config.auth.defaultRole }),
    notifier,
    consoleHub,
    metrics,
    http,
    services: {} as Services,
    consoleAuth: new ConsoleAuth(store.db, { lockoutFailures: config.console.lockoutFailures, lockoutMinutes: config.console.lockoutMinutes, sessionHours: config.console.sessionHours }),
    schedule(name: string, every: string | number, fn: () => Promise<void> | void) {
      if (mode !== 'server') return;
      // Replicas on one store run each schedule once: the holder of its lease renews it on every run; an
      // interval task's lease outlives three missed runs, a cron task's ten minutes (the others' firing).
      const ttlMs = typeof every === 'number' ? Math.max(3 * every, 30_000) : 10 * 60_000;
      const run = async () => {
        try {
          if (!(await leases.acquire(name, ttlMs))) return;
          await fn();
        } catch (err) {
          log.error({ err, schedule: name }, 'scheduled task failed');
        }
      };
      if (typeof every === 'number') {
        const t = setInterval(() => void run(), every);
        t.unref();
        tasks.push({ stop: () => clearInterval(t) });
      } else {
        const task = cron.schedule(every, () => void run(), { name, noOverlap: true });
        tasks.push({ stop: () => void task.stop() });
      }
    },
    baseUrl() {
      return (config.http.publicUrl ?? boundUrl ?? `http://${config.http.host}:${config.http.port}`).replace(/\/$/, '');
    },
    onStop(fn: () => Promise<void> | void) {
      stopHooks.push(fn);
    },
  } as unknown as RunningApp;
  app.jobs = new JobRunner(app);
  app.dispatcher = new Dispatcher(app);

  const consoleAdapter = new ConsoleAdapter(consoleHub);
  notifier.register(consoleAdapter);
  for (const a of opts.adapters ?? []) notifier.register(a);

  const migration = await migrateToLatest(store);
  health.migrated = true;
  if (migration.applied.length) log.info({ applied: migration.applied, store: store.describe }, 'store migrated');
  await registry.loadDir();
  registerHealthRoutes(app, health);
  registerConsoleRoutes(app, http, app.consoleAuth, consoleAdapter);
  for (const f of features) await f.init?.(app);

  app.listen = async () => {
    if ((await app.consoleAuth.count()) === 0) {
      const pw = process.env.SWITCHBOARD_ADMIN_PASSWORD || randomPassword();
      await app.consoleAuth.setUser('admin', pw);
      await app.roles.grant('console', 'admin', 'admin', 'first start');
      if (!process.env.SWITCHBOARD_ADMIN_PASSWORD) app.generatedAdminPassword = pw;
    }
    boundUrl = await http.listen({ host: config.http.host, port: config.http.port });
    const addr = http.server.address();
    if (addr && typeof addr === 'object') boundUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    await consoleHub.startPolling();
    await app.jobs.startBackground();
    const sink = async (inc: Parameters<typeof app.dispatcher.handle>[0]) => {
      await app.dispatcher.handle(inc);
    };
    for (const a of [consoleAdapter, ...(opts.adapters ?? [])]) await a.start(sink);
    for (const f of features) await f.start?.(app);
    return boundUrl;
  };

  app.close = async () => {
    for (const t of tasks) t.stop();
    if (tasks.length) await leases.releaseAll().catch((err) => log.warn({ err }, 'could not release schedule leases'));
    for (const fn of stopHooks.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, 'stop hook failed');
      }
    }
    for (const p of notifier.platforms()) await notifier.adapter(p)?.stop().catch(() => undefined);
    consoleHub.stop();
    await app.jobs.stop();
    await http.close();
    await store.close();
  };

  if (mode === 'exec') await app.jobs.recover().catch(() => undefined);
  return app;
}
