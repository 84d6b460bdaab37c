// The `console` feature: the web console as a chat platform of its own. Its init builds the message log (hub.ts),
// the console adapter (adapter.ts) and the logins (auth.ts), registers the adapter with the notifier and the
// HTTP routes of the console (routes.ts) and the status board (board.ts); its start creates the first admin on
// an empty store, tails the store's console events for the live views and takes inbound console commands.
// It adds `switchboard console-user` (cli.ts). Reached as `app.services.console`.
import crypto from 'node:crypto';
import type { App, Feature } from '../app-types.js';
import { ConsoleHub } from './hub.js';
import { ConsoleAdapter } from './adapter.js';
import { ConsoleAuth, randomPassword } from './auth.js';
import { COOKIE, registerConsoleRoutes } from './routes.js';
import { registerBoardRoutes } from './board.js';
import { consoleCli } from './cli.js';

export interface ConsoleService {
  /** The console's rooms: messages and live events in the store. */
  hub: ConsoleHub;
  /** The console as a chat platform (`console:<room>` targets). */
  adapter: ConsoleAdapter;
  /** Web-console logins: users, sessions, the record of login attempts (`audit logins` reads them). */
  auth: ConsoleAuth;
  /** Set when this process's first start created the console admin with a generated password (`switchboard start` prints it). */
  generatedAdminPassword?: string;
}

declare module '../app-types.js' {
  interface Services {
    console: ConsoleService;
  }
}

export const consoleFeature: Feature = {
  name: 'console',
  cli: consoleCli,
  init(app: App) {
    const c = app.config.console;
    const hub = new ConsoleHub(app.db);
    const adapter = new ConsoleAdapter(hub);
    const auth = new ConsoleAuth(app.db, {
      lockoutFailures: c.lockoutFailures,
      lockoutMinutes: c.lockoutMinutes,
      sessionHours: c.sessionHours,
      // Read when first needed (after the store's secrets are open); the same key on every replica.
      nameKey: () => app.secrets.getOrCreate('login-name-key', () => crypto.randomBytes(32).toString('base64')),
    });
    app.services.console = { hub, adapter, auth };
    app.notifier.register(adapter);
    registerConsoleRoutes(app, app.http, auth, adapter, hub);
    registerBoardRoutes(app, app.http, auth, COOKIE);
    app.onStop(() => hub.stop());
  },
  async start(app: App) {
    const svc = app.services.console;
    await bootstrapAdmin(app, svc);
    await svc.hub.startPolling();
    await svc.adapter.start(async (inc) => {
      await app.dispatcher.handle(inc);
    });
  },
};

/**
 * First start: an empty store gets the console user `admin` (SWITCHBOARD_ADMIN_PASSWORD or a generated password).
 * An insert-if-absent, never a reset, so of several replicas starting at once exactly one creates it, and only
 * that one reports a generated password; the others leave it alone.
 */
async function bootstrapAdmin(app: App, svc: ConsoleService): Promise<void> {
  if ((await svc.auth.count()) > 0) return;
  const fromEnv = app.env.SWITCHBOARD_ADMIN_PASSWORD;
  const pw = fromEnv || randomPassword();
  if (!(await svc.auth.createIfAbsent('admin', pw))) return;
  await app.roles.grant('console', 'admin', 'admin', 'first start');
  if (!fromEnv) svc.generatedAdminPassword = pw;
}
