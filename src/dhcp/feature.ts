// DHCP reservations, proxy access lists and the caller-ID hook.
import type { Feature } from '../app-types.js';
import { dhcpConfigSection } from './config.js';
import { DhcpStore } from './service.js';
import { registerSecret } from '../secrets.js';

export const dhcpFeature: Feature = {
  name: 'dhcp',
  config: dhcpConfigSection,
  async init(app) {
    const svc = new DhcpStore(app);
    app.services.dhcp = svc;
    app.onStop(() => svc.stop());
    registerSecret(app.config.dhcp.callerid.token);
    const { attachApply } = await import('./apply.js');
    attachApply(app, svc);
    const { registerCallerId } = await import('./callerid.js');
    registerCallerId(app);
  },
};
