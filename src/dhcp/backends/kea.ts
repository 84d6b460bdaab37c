// Kea Dhcp4 as a file: the whole kea-dhcp4.conf (built on dhcp.backends.kea.template when set), checked by
// `kea-dhcp4 -t <candidate>`, swapped in, then the reload command (e.g. `keactrl reload` or `systemctl reload`).
import { renderKea } from '../../../drivers/dhcp/kea.js';
import { run, runReload, subst, type Backend } from './types.js';

export const backend: Backend = {
  name: 'kea',
  defaults: { path: '/etc/kea/kea-dhcp4.conf', check: ['kea-dhcp4', '-t', '{file}'], reload: [] },
  installHint: 'kea-dhcp4-server',
  checker: 'kea-dhcp4',
  targets: ['kea'],
  render: (i) => [{ target: 'kea', text: renderKea(i.hosts, i.subnets, i.subnetOf, i.keaTemplate) }],
  liveFiles: (s) => [s.path!],
  async check(c, s) {
    if (!s.check?.length) return { ok: true, output: '' };
    return run(subst(s.check, { file: c.files[0]! }));
  },
  reload: runReload,
};
