// The contract every DHCP/proxy backend implements: render (the bot, from the hosts), check (the daemon's own
// checker on the candidate files), install (swap the live files, or another way such as Kea's control channel)
// and reload. One file per backend in this directory, exporting `backend`; src/dhcp/backends/index.ts finds them (the
// one plugin loader, src/util/plugin-dir.ts), so a new backend is its file alone. This module and the backends use only
// Node builtins and the pure renderers in drivers/, so the apply agent (src/agent/apply.ts) can run them too.
import { execFile } from 'node:child_process';
import type { RenderHost, RenderSubnet } from '../../../drivers/dhcp/types.js';

/** A rendered file's name in chat (`dhcp render <target>`), e.g. isc, kea, proxy1: unique across the backends. */
export type Target = string;

/** A backend's name: its key under dhcp.backends (bot) and apply.backends (agent), and in `targets=`. */
export type BackendName = string;

/** Where one backend's files go and which commands check and reload them (the bot's or the agent's own config). */
export interface BackendSettings {
  /** The live file (isc, kea, dnsmasq). */
  path?: string;
  /** The directory of the three proxy lists. */
  dir?: string;
  /** The checker's argv: `{file}` the candidate, `{wrapper}` a generated wrapper config, `{dir}` a scratch dir. */
  check?: string[];
  reload?: string[];
  /** Kea's control socket (keaControl). */
  socket?: string;
  timeoutMs?: number;
}

/** The hosts and subnets a render needs (the Kea template is the bot's). */
export interface RenderInput {
  hosts: RenderHost[];
  subnets: RenderSubnet[];
  /** Index of the subnet holding ip, or -1. */
  subnetOf(ip: string): number;
  keaTemplate?: Record<string, unknown>;
}

export interface RenderedFile {
  target: Target;
  text: string;
}

export interface CheckResult {
  ok: boolean;
  output: string;
}

/** What a check gets: the candidates' texts, and (for file backends) where they were written. */
export interface Candidates {
  texts: string[];
  /** Temp files beside the live ones, same order as texts; empty for backends that install without files. */
  files: string[];
  /** The subnets (dhcpd's wrapper declares them so fixed addresses resolve). */
  subnets: RenderSubnet[];
}

/** An install that is not a file swap (Kea's control channel): returns how to put the previous state back. */
export interface Installed {
  undo(): Promise<string | null>;
}

export interface Backend {
  name: BackendName;
  /** Its settings when the config names none (the Debian paths and checkers); the admin's keys override them. */
  defaults: BackendSettings;
  /** What to install where the checker is missing (doctor's hint), e.g. the Debian package. */
  installHint?: string;
  /** The checker's name in messages ("dhcpd check failed: …"). */
  checker: string;
  /** The rendered targets, in order. */
  targets: Target[];
  render(input: RenderInput): RenderedFile[];
  /** The live file of each rendered target (same order); [] when install() replaces swapping. */
  liveFiles(s: BackendSettings): string[];
  check(c: Candidates, s: BackendSettings): Promise<CheckResult>;
  /** Installs without files (called after the file swaps; a throw makes the apply undo them). */
  install?(texts: string[], s: BackendSettings): Promise<Installed>;
  /** The reload command's result, or null when there is none to run. */
  reload(s: BackendSettings): Promise<CheckResult | null>;
  /** Doctor's look at a backend that is not checked by a command (e.g. Kea's control socket answers). */
  probe?(s: BackendSettings): Promise<{ ok: boolean; detail: string; hint: string }>;
}

export function run(argv: string[], timeoutMs = 120_000): Promise<CheckResult> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (err) resolve({ ok: false, output: output || String((err as Error).message) });
      else resolve({ ok: true, output });
    });
  });
}

export const subst = (argv: string[], vars: Record<string, string>): string[] => argv.map((a) => a.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m));

/** Runs the configured reload command (argv), if any. */
export async function runReload(s: BackendSettings): Promise<CheckResult | null> {
  return s.reload?.length ? run(s.reload) : null;
}

/** The checker's own message: blank lines and dhcpd's banner and bug-report boilerplate dropped, last 15 lines. */
export function checkerMessage(output: string): string {
  const noise =
    /^(Internet Systems Consortium|Copyright \d|All rights reserved|For info, please visit|If you think you have received|than a configuration issue|bugs on either our web page|before submitting a bug|process and the information we find|exiting\.)/;
  const lines = output
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() && !noise.test(l.trim()));
  return (lines.length ? lines : output.split('\n')).slice(-15).join('\n');
}
