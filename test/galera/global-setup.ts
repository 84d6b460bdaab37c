// Global setup of the Galera suite (vitest.galera.config.ts): one real 3-node cluster for every test file,
// described to the workers through SWITCHBOARD_TEST_GALERA; SWITCHBOARD_TEST_MYSQL_URL points at node 1 so the
// test helpers create their scratch databases on the cluster. A missing tool fails the suite, never skips it.
import { GALERA_ENV, GaleraCluster, galeraUnavailable } from './galera-cluster.js';

export default async function setup(): Promise<() => Promise<void>> {
  const why = galeraUnavailable();
  if (why) throw new Error(`the Galera suite cannot run: ${why}`);
  const cluster = await GaleraCluster.create(3);
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  process.env[GALERA_ENV] = JSON.stringify(cluster.describe());
  process.env.SWITCHBOARD_TEST_MYSQL_URL = cluster.url(0, 'test');
  await cluster.query(0, 'CREATE DATABASE IF NOT EXISTS test');
  return () => cluster.stop();
}
