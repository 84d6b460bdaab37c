// Real `switchboard start` processes for tests of several replicas on one store. A process can be made to
// believe it runs on another host (os.hostname patched by a preload), so what it holds is taken over only
// by expiry, as for a replica on another machine, and not at once as for a dead process on this one.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, ROOT, tmpDir } from './env.js';

export interface StartedProcess {
  child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** The bound URL, once it printed "Web console: …". */
  url: Promise<string>;
  exited: Promise<number | null>;
}

/** A key every replica of one test shares (the store's secrets are sealed with it). */
export const sharedKey = (): string => crypto.randomBytes(32).toString('hex');

export function startProcess(env: NodeJS.ProcessEnv, opts: { host?: string; timeoutMs?: number } = {}): StartedProcess {
  const nodeArgs: string[] = [];
  if (opts.host) {
    const preload = path.join(tmpDir('sb-host-'), 'host.mjs');
    fs.writeFileSync(preload, `import os from 'node:os';\nos.hostname = () => ${JSON.stringify(opts.host)};\n`);
    nodeArgs.push('--import', pathToFileURL(preload).href);
  }
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'start'], { cwd: ROOT, env: { ...process.env, SWITCHBOARD_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  const url = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no console URL printed within ${opts.timeoutMs ?? 60_000} ms; stderr: ${stderr}`)), opts.timeoutMs ?? 60_000);
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /Web console: (http:\/\/[^\s]+)\/console/.exec(stderr);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`switchboard start exited with ${code}; stderr: ${stderr}`));
    });
  });
  url.catch(() => undefined);
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    url,
    exited,
  };
}
