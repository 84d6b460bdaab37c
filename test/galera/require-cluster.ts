// The 3-replica suite run by vitest.galera.config.ts must run against the Galera cluster, never fall back to
// the single MariaDB of SWITCHBOARD_TEST_MYSQL_URL without saying so.
import { GALERA_ENV } from './galera-cluster.js';

if (!process.env[GALERA_ENV]) throw new Error('the replica suite of npm run test:galera needs the Galera cluster of test/galera/global-setup.ts (run the whole config, not one of its projects alone)');
