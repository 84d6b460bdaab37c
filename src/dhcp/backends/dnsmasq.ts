// dnsmasq: `dhcp-host=` lines in a file of /etc/dnsmasq.d; an optional checker (`dnsmasq --test --conf-file={file}`).
import { renderDnsmasq } from '../../../drivers/dhcp/dnsmasq.js';
import { run, runReload, subst, type Backend } from './types.js';

export const backend: Backend = {
  name: 'dnsmasq',
  defaults: { path: '/etc/dnsmasq.d/switchboard-hosts.conf', check: [], reload: [] },
  installHint: 'dnsmasq',
  checker: 'dnsmasq',
  targets: ['dnsmasq'],
  render: (i) => [{ target: 'dnsmasq', text: renderDnsmasq(i.hosts) }],
  liveFiles: (s) => [s.path!],
  async check(c, s) {
    if (!s.check?.length) return { ok: true, output: '' };
    return run(subst(s.check, { file: c.files[0]! }));
  },
  reload: runReload,
};
