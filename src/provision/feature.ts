// Phone provisioning: drivers, sealed SIP passwords, the /provision/ config server, fetch announcements.
import type { Feature } from '../app-types.js';
import { provisionConfigSection } from './config.js';
import { DriverSet } from './drivers.js';
import { ProvisionService } from './service.js';
import { registerProvisionRoutes } from './routes.js';

export const provisionFeature: Feature = {
  name: 'provision',
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
      await app.db.deleteFrom('provision_batches').where('created_at', '<', Date.now() - 86_400_000).execute();
    });
  },
};
