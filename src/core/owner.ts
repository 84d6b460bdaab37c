// Who "this process" is in job, lease, claim and schedule-run rows: host, pid and start time. A row naming a
// process on this machine that is gone can be taken over at once; one on another host only once it expires.
import os from 'node:os';

/** This process, as named in job and lease rows: host, pid and start time. */
export const OWNER = `${os.hostname()}:${process.pid}:${Date.now().toString(36)}`;

/** True when `owner` names a process on this machine that is gone (so what it held can be taken over). */
export function ownerIsDeadLocalProcess(owner: string | null): boolean {
  if (!owner) return true;
  const [host, pidStr] = owner.split(':');
  if (host !== os.hostname()) return false;
  const pid = Number(pidStr);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  // This pid: the running process only under its own name (or a part of it named `OWNER/<part>`, e.g. one chat
  // lease holder of several app instances in one test process); another start time is an earlier process
  // that had the same pid (pid 1 in containers).
  if (pid === process.pid) return owner !== OWNER && !owner.startsWith(`${OWNER}/`);
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
