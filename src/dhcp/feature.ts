// DHCP reservations, proxy access lists and the caller-ID hook.
import type { Feature } from '../app-types.js';
import { dhcpConfigSection } from './config.js';
import { DhcpStore } from './service.js';
import { registerSecret } from '../secrets.js';
import type { ApplyAgents } from './apply-agents.js';
import { DhcpBackends } from './backends/index.js';
import { ConfigError } from '../config.js';

declare module '../app-types.js' {
  interface Services {
    dhcpAgents: ApplyAgents;
    dhcpBackends: DhcpBackends;
  }
}

export const dhcpFeature: Feature = {
  name: 'dhcp',
  config: dhcpConfigSection,
  async init(app) {
    // The backends are files (backends/index.ts); the names under dhcp.backends are checked against those loaded.
    try {
      app.services.dhcpBackends = await DhcpBackends.load(...app.config.dhcp.backendDirs);
      app.services.dhcpBackends.resolveConfig(app.config.dhcp.backends);
    } catch (e) {
      throw new ConfigError(`invalid configuration: ${(e as Error).message}`);
    }
    const svc = new DhcpStore(app);
    app.services.dhcp = svc;
    registerSecret(app.config.dhcp.callerid.token);
    const { checkApplyConfig } = await import('./apply.js');
    checkApplyConfig(app);
    const { ApplyQueue } = await import('./apply-queue.js');
    const queue = new ApplyQueue(app, svc);
    app.services.dhcpApply = queue;
    svc.onChange = () => queue.poke();
    app.onStop(() => queue.stop());
    const { ApplyAgents } = await import('./apply-agents.js');
    app.services.dhcpAgents = new ApplyAgents(app);
    app.services.dhcpAgents.registerRoutes();
    const { registerCallerId } = await import('./callerid.js');
    registerCallerId(app);
  },
  start(app) {
    // A running server holds the apply lease when it is free and runs every replica's applies.
    app.services.dhcpApply.start();
  },
};
