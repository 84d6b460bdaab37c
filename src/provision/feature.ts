// Phone provisioning: drivers, sealed SIP passwords, the /provision/ config server (following the store's
// change feed), fetch announcements.
import type { Feature } from '../app-types.js';
import { provisionConfigSection } from './config.js';
import { DriverSet } from './drivers.js';
import { ProvisionService } from './service.js';
import { registerProvisionRoutes } from './routes.js';
import { startTftp } from './tftp.js';

export const provisionFeature: Feature = {
  name: 'provision',
  // Rows with an address become DHCP reservations through app.services.dhcp.
  after: ['dhcp'],
  config: provisionConfigSection,
  async init(app) {
    const svc = new ProvisionService(app, await DriverSet.load());
    await svc.init();
    app.services.provision = svc;
    app.onStop(() => svc.stop());
    registerProvisionRoutes(app, svc);
    app.schedule('provision-log-prune', '17 3 * * *', async () => {
      await svc.log.prune(svc.cfg.logRetentionDays * 86_400_000);
      // Rows handed to a job that never ran to its end (a crash): the job is failed as interrupted by then.
      await svc.pending.prune(86_400_000);
    });
  },
  async start(app) {
    // Phones provisioned, regenerated or removed by any process (exec, another replica) are served here too.
    const svc = app.services.provision;
    await svc.start();
    if (svc.cfg.tftp.enabled) svc.tftp = await startTftp(app, svc, svc.cfg.tftp);
  },
};
