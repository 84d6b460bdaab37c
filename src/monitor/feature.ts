// Monitoring capability: config section, service, agent API routes and schedules.
import type { Feature } from '../app-types.js';
import { MonitorService } from './service.js';
import { registerAgentRoutes } from './routes.js';
import './types.js';

declare module '../app-types.js' {
  interface Services {
    monitor: MonitorService;
  }
}

export const monitorFeature: Feature = {
  name: 'monitor',
  config: {
    key: 'monitor',
    schema: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        alertTargets: { type: 'array', items: { type: 'string', pattern: '^[a-z]+:.+$' }, default: [] },
        staleCheckMs: { type: 'integer', minimum: 100, default: 10_000 },
        freshnessMs: { type: 'integer', minimum: 100 },
        repeatMs: { type: 'integer', minimum: 1000, default: 3_600_000 },
        groupWindowMs: { type: 'integer', minimum: 0, default: 30_000 },
        bodyLimitBytes: { type: 'integer', minimum: 1024, default: 4_194_304 },
        enrollHours: { type: 'number', exclusiveMinimum: 0, default: 24 },
        pruneCron: { type: 'string', default: '17 3 * * *' },
        mail: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            host: { type: 'string' },
            port: { type: 'integer', minimum: 1, maximum: 65535, default: 25 },
            secure: { type: 'boolean', default: false },
            tlsRejectUnauthorized: { type: 'boolean', default: true },
            user: { type: 'string' },
            password: { type: 'string' },
            from: { type: 'string', default: 'switchboard@localhost' },
            to: { type: 'array', items: { type: 'string' }, default: [] },
          },
        },
        fraud: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            burstPerHour: { type: 'integer', minimum: 1, default: 5 },
            businessHours: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: {
                start: { type: 'string', pattern: '^\\d\\d:\\d\\d$', default: '00:00' },
                end: { type: 'string', pattern: '^\\d\\d:\\d\\d$', default: '24:00' },
                days: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 6 }, default: [0, 1, 2, 3, 4, 5, 6] },
              },
            },
          },
        },
      },
    },
    env: {
      SWITCHBOARD_ALERT_TARGETS: 'alertTargets',
      SWITCHBOARD_SMTP_HOST: 'mail.host',
      SWITCHBOARD_SMTP_PORT: 'mail.port',
      SWITCHBOARD_SMTP_USER: 'mail.user',
      SWITCHBOARD_SMTP_PASSWORD: 'mail.password',
      SWITCHBOARD_ALERT_EMAIL: 'mail.to',
    },
    secrets: ['mail.password'],
  },
  init(app) {
    const svc = new MonitorService(app, app.config.monitor);
    app.services.monitor = svc;
    registerAgentRoutes(app, svc);
    app.onStop(() => svc.stop());
    app.schedule('monitor-tick', app.config.monitor.staleCheckMs, () => svc.tick());
    app.schedule('monitor-prune', app.config.monitor.pruneCron, async () => {
      const n = await svc.prune();
      app.log.info({ deleted: n }, 'monitor records pruned');
    });
  },
  async start(app) {
    // Alerts opened by an earlier process that stopped inside the group window were never posted.
    await app.services.monitor.start().catch((err) => app.log.error({ err }, 'posting alerts left unsent failed; the periodic check retries'));
  },
};
