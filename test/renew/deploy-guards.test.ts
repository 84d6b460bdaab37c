// The deploy script's account guards run under a real sh against test passwd / login.defs files: every doubt
// (no uid, a uid that is no number, a login.defs without usable bounds) keeps the account.
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { tmpDir } from '../helpers/env.js';
import { DEPLOY_GUARDS, DEPLOY_SCRIPT } from '../../drivers/targets/linux-ssh-deploy.js';

const dir = tmpDir('sb-guards-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'sbadmin:x:1000:1000::/home/sbadmin:/bin/sh',
  'USERSS001-0001:x:1001:1001::/home/USERSS001-0001:/bin/bash',
  'USERSS001-0002:x:500:500::/home/USERSS001-0002:/bin/bash',
  'USERSS001-0003:x:12a:1003::/home/USERSS001-0003:/bin/bash',
  'USERSS001-0004:x::1004::/home/USERSS001-0004:/bin/bash',
  'USERSS001-0005:x:99999999999999999999:1005::/home/x:/bin/bash',
  'USERSS001-0006:x:1000:1000::/home/sbadmin:/bin/bash',
  'USERSS001-0007:x:65000:1007::/home/u7:/bin/bash',
].join('\n');

/** Run the guards' `cmd` under sh; returns "0"/"1" per line (the exit status of each check) and stderr. */
function guards(cmd: string, loginDefs: string | null, passwd = PASSWD): { out: string; err: string } {
  const pf = path.join(dir, 'passwd');
  const lf = path.join(dir, 'login.defs');
  fs.writeFileSync(pf, `${passwd}\n`);
  if (loginDefs === null) fs.rmSync(lf, { force: true });
  else fs.writeFileSync(lf, loginDefs);
  const script = `log() { printf '%s %s\\n' "$1" "$2" >&2; }\nPASSWD_FILE=${pf}; LOGIN_DEFS=${lf}; SSH_USER=sbadmin\n${DEPLOY_GUARDS}\nuid_range\n${cmd}`;
  let err = '';
  try {
    const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { out: out.trim(), err };
  } catch (e) {
    err = String((e as { stderr?: string }).stderr ?? '');
    throw new Error(`sh failed: ${err}`);
  }
}

const verdicts = (names: string[]) => names.map((n) => `if protected '${n}'; then echo '${n} kept'; else echo '${n} deletable'; fi`).join('\n');
const ALL = ['root', 'daemon', 'sbadmin', 'USERSS001-0001', 'USERSS001-0002', 'USERSS001-0003', 'USERSS001-0004', 'USERSS001-0005', 'USERSS001-0007', 'nosuchuser'];

describe('deploy script guards', () => {
  it('protect root, the SSH user, system uids, unreadable uids and unknown names; only plain ordinary uids are deletable', () => {
    const { out } = guards(verdicts(ALL), 'UID_MIN 1000\nUID_MAX 60000\n');
    expect(out.split('\n')).toEqual([
      'root kept',
      'daemon kept',
      'sbadmin kept',
      'USERSS001-0001 deletable',
      'USERSS001-0002 kept', // uid 500 < UID_MIN
      'USERSS001-0003 kept', // uid "12a"
      'USERSS001-0004 kept', // no uid at all
      'USERSS001-0005 kept', // too many digits for sh arithmetic
      'USERSS001-0007 kept', // 65000 > UID_MAX
      'nosuchuser kept', // not in the passwd file (getent would have said nothing either)
    ]);
  });

  it('fall back to 1000..60000 when login.defs is missing or its bounds are malformed (uid 500 stays protected)', () => {
    for (const defs of [null, '', 'UID_MIN\nUID_MAX\n', 'UID_MIN abc\nUID_MAX 6e4\n', 'UID_MIN -5\nUID_MAX 10\n']) {
      const { out } = guards(`echo "$UID_MIN..$UID_MAX"\n${verdicts(['USERSS001-0002', 'USERSS001-0001', 'USERSS001-0007'])}`, defs);
      expect(out.split('\n'), String(defs)).toEqual(['1000..60000', 'USERSS001-0002 kept', 'USERSS001-0001 deletable', 'USERSS001-0007 kept']);
    }
    // Valid bounds are honoured.
    expect(guards(`echo "$UID_MIN..$UID_MAX"\n${verdicts(['USERSS001-0002', 'USERSS001-0007'])}`, 'UID_MIN 500\nUID_MAX 65000\n').out.split('\n')).toEqual([
      '500..65000',
      'USERSS001-0002 deletable',
      'USERSS001-0007 deletable',
    ]);
  });

  it("spot a shared uid and refuse to remove a home that is not the account's own", () => {
    const home = path.join(dir, 'h');
    fs.mkdirSync(home, { recursive: true });
    const { out } = guards(
      [
        `shared_uid USERSS001-0006 1000 && echo shared6`,
        `shared_uid USERSS001-0001 1001 || echo alone1`,
        `home_removable /home/sbadmin 1000 || true`, // still sbadmin's home
        `home_removable /home/sbadmin/ 1000 || true`,
        `home_removable /home 1001 || true`,
        `home_removable / 1001 || true`,
        `home_removable /root 1001 || true`,
        `home_removable /home/../etc 1001 || true`,
        `home_removable ${home} 1001 || true`,
      ].join('\n'),
      'UID_MIN 1000\nUID_MAX 60000\n',
    );
    expect(out.split('\n')).toEqual([
      'shared6',
      'alone1',
      'the home of another account',
      'the home of another account',
      'not below /home',
      'not below /home',
      'not below /home',
      'not a plain path',
      'not below /home',
    ]);
  });

  it('are the ones the deploy script runs', () => {
    expect(DEPLOY_SCRIPT).toContain(DEPLOY_GUARDS);
    expect(DEPLOY_SCRIPT).not.toContain('getent passwd "$1" | cut');
    expect(DEPLOY_SCRIPT).not.toMatch(/userdel -r/);
  });
});
