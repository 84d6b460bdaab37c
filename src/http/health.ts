import type { App } from '../app-types.js';
import type { Metrics } from './metrics.js';
import { RETRY_AFTER_SECONDS, storeErrorReason } from '../store/store-errors.js';

/** `app.metrics` is the Prometheus set (the composition root's), not only the core's counters. */
export function registerHealthRoutes(app: App & { metrics: Metrics }, state: { migrated: boolean }): void {
  app.http.get('/healthz', async (_req, reply) => {
    if (!state.migrated)
      return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send({ status: 'starting', code: 'SB_STARTING', message: 'store not migrated yet', reason: 'store not migrated yet' });
    // Each store host and whether it is usable (a cluster's node that died shows here while another serves).
    const hosts = app.store.hosts?.();
    try {
      await app.db.selectFrom('kv').select('k').limit(1).execute();
    } catch (err) {
      return reply
        .code(503)
        .header('retry-after', String(RETRY_AFTER_SECONDS))
        .send({
          status: 'unavailable',
          code: 'SB_STORE_UNAVAILABLE',
          message: `store unreachable: ${storeErrorReason(err)}`,
          reason: `store unreachable: ${storeErrorReason(err)}`,
          ...(hosts ? { hosts: app.store.hosts?.() } : {}),
        });
    }
    return { status: 'ok', ...(hosts && hosts.length > 1 ? { hosts } : {}) };
  });
  app.http.get('/metrics', async (_req, reply) => {
    return reply.header('content-type', app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
  });
}
