import type { App } from '../app-types.js';

export function registerHealthRoutes(app: App, state: { migrated: boolean }): void {
  app.http.get('/healthz', async (_req, reply) => {
    if (!state.migrated) return reply.code(503).send({ status: 'starting', reason: 'store not migrated yet' });
    try {
      await app.db.selectFrom('kv').select('k').limit(1).execute();
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'store unreachable' });
    }
    return { status: 'ok' };
  });
  app.http.get('/metrics', async (_req, reply) => {
    return reply.header('content-type', app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
  });
}
