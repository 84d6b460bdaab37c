// The agent's .deb, built with Debian's own dpkg-deb from the bundle (bundle-agent.ts), the unit in
// docs/systemd/switchboard-agent.service (the one source of it) and the maintainer scripts in packaging/deb/.
// Layout: /usr/lib/switchboard-agent/switchboard-agent.mjs, /usr/bin/switchboard-agent (runs it with Debian's
// /usr/bin/node), /lib/systemd/system/switchboard-agent.service (bookworm still ships units under /lib),
// /usr/share/switchboard-agent/agent.yaml.example (what postinst copies to /etc/switchboard/agent.yaml 0600 when
// that file is missing: not a conffile, as enrolment writes the node's token into it).
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

export const DEB_NAME = 'switchboard-agent';
const MAINTAINER = 'Switchboard maintainers <switchboard@example.org>';

function put(root: string, rel: string, data: string | Buffer, mode: number): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  fs.writeFileSync(file, data);
  fs.chmodSync(file, mode);
}

/** gzip -9n: no name or time stamp in the header (what lintian expects of changelogs and man pages). */
const gz = (text: string) => zlib.gzipSync(text, { level: 9 });

export function debControl(version: string, installedKb: number): string {
  return `Package: ${DEB_NAME}
Version: ${version}
Architecture: all
Maintainer: ${MAINTAINER}
Installed-Size: ${installedKb}
Depends: nodejs (>= 18), adduser
Recommends: ca-certificates
Section: admin
Priority: optional
Description: Switchboard monitoring agent for PBXs
 Runs the checks a Switchboard bot assigns to this node, as far as the agent's
 own config allows, keeps every result in a spool until the bot has it, sends
 heartbeats with host facts and its version, and moves call records (the
 cdr-csv file or FreePBX's CDR database) to the bot. One JavaScript file for
 Node 18 and later; no native modules.
`;
}

/** Build dist/packages/switchboard-agent_<version>_all.deb from the bundle; returns its path. */
export function buildDeb(opts: { root: string; bundle: string; version: string; outDir: string }): string {
  for (const tool of ['dpkg-deb']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is not installed: the agent's .deb is built with Debian's own tools (apt-get install dpkg)`);
    }
  }
  const src = (rel: string) => fs.readFileSync(path.join(opts.root, rel));
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-deb-'));
  try {
    fs.chmodSync(stage, 0o755);
    const bundle = fs.readFileSync(opts.bundle);
    put(stage, 'usr/lib/switchboard-agent/switchboard-agent.mjs', bundle, 0o755);
    put(stage, 'usr/bin/switchboard-agent', '#!/bin/sh\n# Debian\'s Node (nodejs >= 18) runs the agent bundle.\nexec /usr/bin/node /usr/lib/switchboard-agent/switchboard-agent.mjs "$@"\n', 0o755);
    put(stage, 'lib/systemd/system/switchboard-agent.service', src('docs/systemd/switchboard-agent.service'), 0o644);
    put(stage, 'usr/share/switchboard-agent/agent.yaml.example', src('packaging/deb/agent.yaml.example'), 0o644);
    put(stage, 'usr/share/doc/switchboard-agent/copyright', src('packaging/deb/copyright'), 0o644);
    put(stage, 'usr/share/man/man1/switchboard-agent.1.gz', gz(src('packaging/deb/switchboard-agent.1').toString()), 0o644);
    const date = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000)) * 1000).toUTCString().replace(/GMT$/, '+0000');
    put(
      stage,
      'usr/share/doc/switchboard-agent/changelog.gz',
      gz(`${DEB_NAME} (${opts.version}) unstable; urgency=medium\n\n  * Built from Switchboard ${opts.version}; see the project's history.\n\n -- ${MAINTAINER}  ${date}\n`),
      0o644,
    );
    put(stage, 'usr/share/lintian/overrides/switchboard-agent', src('packaging/deb/lintian-overrides'), 0o644);

    // md5sums and the installed size over what is in the package.
    const files: string[] = [];
    let bytes = 0;
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          fs.chmodSync(p, 0o755);
          walk(p);
        } else {
          files.push(path.relative(stage, p));
          bytes += fs.statSync(p).size;
        }
      }
    };
    walk(stage);
    const md5 = files
      .sort()
      .map(
        (f) =>
          `${crypto
            .createHash('md5')
            .update(fs.readFileSync(path.join(stage, f)))
            .digest('hex')}  ${f}\n`,
      )
      .join('');
    put(stage, 'DEBIAN/control', debControl(opts.version, Math.ceil(bytes / 1024)), 0o644);
    put(stage, 'DEBIAN/md5sums', md5, 0o644);
    for (const s of ['postinst', 'prerm', 'postrm']) put(stage, `DEBIAN/${s}`, src(`packaging/deb/${s}`), 0o755);
    fs.chmodSync(path.join(stage, 'DEBIAN'), 0o755);

    fs.mkdirSync(opts.outDir, { recursive: true });
    const out = path.join(opts.outDir, `${DEB_NAME}_${opts.version}_all.deb`);
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, out], { stdio: ['ignore', 'ignore', 'pipe'] });
    return out;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
