// ISC dhcpd: a hosts file (include it from dhcpd.conf), checked by `dhcpd -t -cf <wrapper>` where the wrapper
// declares the configured subnets (so fixed addresses resolve) and includes the candidate.
import fs from 'node:fs';
import path from 'node:path';
import { renderIsc } from '../../../drivers/dhcp/isc.js';
import type { RenderSubnet } from '../../../drivers/dhcp/types.js';
import { run, runReload, subst, type Backend } from './types.js';

/** dhcpd wrapper: the configured subnets (so fixed addresses resolve) and the include of the hosts file. */
export function iscWrapper(nets: RenderSubnet[], hostsFile: string, leaseFile: string): string {
  const subs = nets.map((s) => {
    const range = s.pool ? `  range ${s.pool.replace('-', ' ')};\n` : '';
    const gw = s.gateway ? `  option routers ${s.gateway};\n` : '';
    return `subnet ${s.network} netmask ${s.netmask} {\n${range}${gw}}`;
  });
  return [`lease-file-name "${leaseFile}";`, ...subs, `include "${hostsFile}";`, ''].join('\n');
}

export const backend: Backend = {
  name: 'isc',
  defaults: { path: '/etc/dhcp/dhcpd.hosts', check: ['dhcpd', '-t', '-cf', '{wrapper}'], reload: [] },
  installHint: 'isc-dhcp-server',
  checker: 'dhcpd',
  targets: ['isc'],
  render: (i) => [{ target: 'isc', text: renderIsc(i.hosts) }],
  liveFiles: (s) => [s.path!],
  async check(c, s) {
    const work = fs.mkdtempSync(path.join(path.dirname(c.files[0]!), '.sb-check-'));
    try {
      const wrapper = path.join(work, 'dhcpd.conf');
      fs.writeFileSync(wrapper, iscWrapper(c.subnets, c.files[0]!, path.join(work, 'dhcpd.leases')));
      fs.writeFileSync(path.join(work, 'dhcpd.leases'), '');
      if (!s.check?.length) return { ok: true, output: '' };
      return await run(subst(s.check, { wrapper, file: c.files[0]!, dir: work }));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
  reload: runReload,
};
