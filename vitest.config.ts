import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Galera suite needs its own cluster: `npm run test:galera` (vitest.galera.config.ts).
    exclude: ['test/galera/**', 'node_modules/**'],
    // Many tests start real processes (bot, exec, sshd, daemons); on a loaded 2-core runner one start can take
    // seconds, so the per-test bound is generous. Tests that wait for something give their own bound to until().
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
