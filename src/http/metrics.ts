// Prometheus metrics: commands by outcome, jobs by status (live from the store at scrape time), process metrics.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DB } from '../store/db.js';

export class Metrics {
  readonly registry = new Registry();
  readonly commands = new Counter({ name: 'switchboard_commands_total', help: 'Commands handled, by command and outcome', labelNames: ['command', 'outcome'] as const, registers: [this.registry] });
  readonly jobs = new Counter({
    name: 'switchboard_job_transitions_total',
    help: 'Job state transitions in this process, by kind and status',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
  });
  readonly http = new Counter({ name: 'switchboard_http_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'code'] as const, registers: [this.registry] });

  constructor(db: DB) {
    collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
    new Gauge({
      name: 'switchboard_jobs',
      help: 'Jobs in the store by status',
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await db
          .selectFrom('jobs')
          .select(['status', db.fn.countAll<number>().as('n')])
          .groupBy('status')
          .execute();
        this.reset();
        for (const s of ['queued', 'running', 'succeeded', 'failed', 'cancelled']) this.set({ status: s }, 0);
        for (const r of rows) this.set({ status: r.status }, Number(r.n));
      },
    });
  }
}
