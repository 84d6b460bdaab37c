// The Galera suite (`npm run test:galera`): a real 3-node MariaDB Galera cluster on loopback (global setup),
// shared by every file. First the Galera tests, alone (ten simultaneous starts fill the machine's cores, and the
// node-loss test kills a node every file would feel); then the 3-replica suite against the cluster, two files at
// a time as in the main suite (its files mostly wait on timers and on each other's replicas).
import { defineConfig } from 'vitest/config';

const common = { testTimeout: 120_000, hookTimeout: 180_000, pool: 'forks' as const };

export default defineConfig({
  test: {
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        test: {
          ...common,
          name: 'galera',
          include: ['test/galera/**/*.test.ts'],
          // The cluster for both projects: its global setup sets SWITCHBOARD_TEST_GALERA before any worker starts.
          globalSetup: ['test/galera/global-setup.ts'],
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...common,
          name: 'replicas on galera',
          include: ['test/replicas/**/*.test.ts'],
          setupFiles: ['test/galera/require-cluster.ts'],
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
