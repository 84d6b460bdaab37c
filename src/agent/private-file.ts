// The agent's state files (sensor list, CDR positions, its config): written atomically, readable by root only.
import fs from 'node:fs';

/**
 * Write a file atomically: a new 0600 file, flushed, renamed over the old one (a crash leaves old or new, never
 * half). Run as root over an existing file, the new one keeps the old one's owner: `sudo switchboard-agent
 * enroll` rewrites /etc/switchboard/agent.yaml and the agent's own user (the .deb's) can still read it.
 */
export function writePrivate(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  let owner: fs.Stats | undefined;
  if (process.getuid?.() === 0) {
    try {
      owner = fs.statSync(file);
    } catch {
      /* a new file: root's */
    }
  }
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
