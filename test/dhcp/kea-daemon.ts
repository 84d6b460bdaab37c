// A real kea-dhcp4 for tests: config, control socket, pid and lock files in a temp dir; no interface is
// configured ("interfaces": []), so it opens no DHCP socket and no packet can leave the machine; the subnet is
// on no interface; leases are kept in memory.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpDir } from '../helpers/env.js';
import { until } from '../helpers/wait.js';

export const KEA_TEST_SUBNET = { cidr: '10.99.0.0/24', pool: '10.99.0.100-10.99.0.200', gateway: '10.99.0.1' };

/** A template apply builds on: no interfaces, in-memory leases (what the daemon runs with too). */
export const KEA_SAFE_TEMPLATE = {
  Dhcp4: {
    'interfaces-config': { interfaces: [] },
    'lease-database': { type: 'memfile', persist: false },
    subnet4: [{ id: 1, subnet: KEA_TEST_SUBNET.cidr, pools: [{ pool: '10.99.0.100 - 10.99.0.200' }] }],
  },
};

export interface KeaDaemon {
  dir: string;
  socket: string;
  config: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startKea(): Promise<KeaDaemon> {
  const dir = tmpDir('sb-kea-');
  const socket = path.join(dir, 'kea4-ctrl.sock');
  const config = path.join(dir, 'kea-dhcp4.conf');
  const doc = structuredClone(KEA_SAFE_TEMPLATE) as { Dhcp4: Record<string, unknown> };
  doc.Dhcp4['control-socket'] = { 'socket-type': 'unix', 'socket-name': socket };
  doc.Dhcp4.loggers = [{ name: 'kea-dhcp4', output_options: [{ output: path.join(dir, 'kea.log') }], severity: 'WARN' }];
  fs.writeFileSync(config, JSON.stringify(doc, null, 2));
  const child = spawn('kea-dhcp4', ['-c', config], { env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir, KEA_LOGGER_DESTINATION: path.join(dir, 'kea.log') }, stdio: 'ignore' });
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  await until(
    'kea-dhcp4 to open its control socket',
    () => {
      if (exited !== null) throw new Error(`kea-dhcp4 exited with ${exited}: ${fs.existsSync(path.join(dir, 'kea.log')) ? fs.readFileSync(path.join(dir, 'kea.log'), 'utf8') : ''}`);
      return fs.existsSync(socket);
    },
    20_000,
  );
  return {
    dir,
    socket,
    config,
    child,
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM');
        await until('kea-dhcp4 to stop', () => exited !== null, 10_000).catch(() => child.kill('SIGKILL'));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
