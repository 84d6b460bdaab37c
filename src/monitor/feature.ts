// Monitoring capability: config section, service, agent API routes and schedules.
import type { Feature } from '../app-types.js';
import { MonitorService } from './service.js';
import { registerAgentRoutes } from './routes.js';
import { SensorKinds } from '../wire/sensor-kinds.js';
import { agentCli } from '../agent/cli.js';
import './types.js';

declare module '../app-types.js' {
  interface Services {
    monitor: MonitorService;
  }
}

export const monitorFeature: Feature = {
  name: 'monitor',
  // `switchboard agent` and `switchboard agent enroll`: the PBX agent (imported only when one of them runs).
  cli: agentCli,
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
        maxJsonDepth: { type: 'integer', minimum: 4, maximum: 1000, default: 32 },
        maxFutureSkewMs: { type: 'integer', minimum: 1000, default: 300_000 },
        // Group commit of agent results (src/store/group-commit.ts): how much one transaction takes, how
        // much may wait for one, and how long the oldest may wait before new posts get 503 + Retry-After.
        ingest: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            maxGroupResults: { type: 'integer', minimum: 1, default: 4000 },
            maxQueuedResults: { type: 'integer', minimum: 1, default: 20_000 },
            maxWaitMs: { type: 'integer', minimum: 10, default: 500 },
            maxInFlight: { type: 'integer', minimum: 1, default: 256 },
            maxAnswerMs: { type: 'integer', minimum: 100, default: 1500 },
            concurrency: { type: 'integer', minimum: 1, maximum: 32, default: 4 },
          },
        },
        timezone: { type: 'string', minLength: 1 },
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
            burstPerHour: { type: 'integer', minimum: 1, default: 60 },
            quietMs: { type: 'integer', minimum: 1000, default: 1_800_000 },
            internationalPrefix: { type: 'string', pattern: '^[0-9]{1,4}$', default: '00' },
            homeCountryCode: { type: 'string', pattern: '^[0-9]{0,3}$', default: '' },
            businessHours: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: {
                start: { type: 'string', pattern: '^\\d\\d:\\d\\d$', default: '08:00' },
                end: { type: 'string', pattern: '^\\d\\d:\\d\\d$', default: '18:00' },
                days: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 6 }, default: [1, 2, 3, 4, 5] },
                tz: { type: 'string', minLength: 1 },
              },
            },
            wangiri: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: {
                minCalls: { type: 'integer', minimum: 2, default: 3 },
                maxSeconds: { type: 'integer', minimum: 0, default: 10 },
                windowMs: { type: 'integer', minimum: 1000, default: 3_600_000 },
                prefixDigits: { type: 'integer', minimum: 3, maximum: 16, default: 6 },
                callbackMs: { type: 'integer', minimum: 1000, default: 86_400_000 },
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
  async init(app) {
    // The kinds' names and arguments, read from the agent's sensor files (their checks never run here).
    const svc = new MonitorService(app, app.config.monitor, await SensorKinds.load());
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
