// Squid source-address lists proxy1..proxy3 (access levels 1..3) in one directory, checked together by
// `squid -k parse -f <wrapper>` where the wrapper loads the three candidates.
import fs from 'node:fs';
import path from 'node:path';
import { renderProxyList, squidWrapper } from '../../../drivers/proxy/squid.js';
import { run, runReload, subst, type Backend } from './types.js';

export const backend: Backend = {
  name: 'proxy',
  defaults: { dir: '/etc/squid', check: ['squid', '-k', 'parse', '-f', '{wrapper}'], reload: [] },
  installHint: 'squid',
  checker: 'squid',
  targets: ['proxy1', 'proxy2', 'proxy3'],
  render: (i) => ([1, 2, 3] as const).map((l) => ({ target: `proxy${l}` as const, text: renderProxyList(i.hosts, l) })),
  liveFiles: (s) => [1, 2, 3].map((l) => path.join(s.dir!, `proxy${l}`)),
  async check(c, s) {
    const work = fs.mkdtempSync(path.join(path.dirname(c.files[0]!), '.sb-check-'));
    try {
      const wrapper = path.join(work, 'squid.conf');
      fs.writeFileSync(wrapper, squidWrapper(c.files as [string, string, string], work));
      if (!s.check?.length) return { ok: true, output: '' };
      return await run(subst(s.check, { wrapper, file: c.files[0]!, dir: work }));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
  reload: runReload,
};
