// The DHCP/proxy backends: every module of this folder (src/dhcp/backends/) exporting `backend` (see types.ts), found
// by the one plugin loader (src/util/plugin-dir.ts) — plus those of the folders in dhcp.backendDirs. Adding a
// backend is adding its file: its name, defaults, targets, checker and install come from it, and the config
// (dhcp.backends.<name>, the agent's apply.backends.<name>, `targets=`) is checked against the loaded set.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importPlugins } from '../../util/plugin-dir.js';
import { BUNDLED_BACKEND_FILES } from './bundled.js';
import type { Backend, BackendSettings, Target } from './types.js';

/** The built-in backends' folder (in a bundled agent it does not exist, see bundled.ts). */
export const BACKENDS_DIR = fileURLToPath(new URL('./', import.meta.url));
/** Modules of this folder that are not backends: the contract, the install engine, this set and its bundled list. */
export const NOT_BACKENDS = ['types', 'engine', 'index', 'bundled'];

/** One backend's settings in the bot's config: the backend's own keys plus `enabled` (and Kea's `template`). */
export type BackendConfig = BackendSettings & { enabled: boolean; template?: string };

/** The settings a backend takes (its defaults, the bot's dhcp.backends.<name>, an agent's apply.backends.<name>). */
export const BACKEND_SETTING_KEYS = ['path', 'dir', 'check', 'reload', 'socket', 'timeoutMs'];

export class DhcpBackends {
  private byName = new Map<string, Backend>();

  /** The built-in backends, plus those of `dirs` (each an error naming its file when it cannot be loaded). */
  static async load(...dirs: string[]): Promise<DhcpBackends> {
    const set = new DhcpBackends();
    if (BUNDLED_BACKEND_FILES) for (const b of BUNDLED_BACKEND_FILES) set.addModule(b.module, `bundled backend file ${b.file}`);
    else await set.loadDir(BACKENDS_DIR);
    for (const d of dirs) await set.loadDir(path.resolve(d));
    return set;
  }

  async loadDir(dir: string): Promise<this> {
    for (const p of await importPlugins<unknown>(dir, { skip: NOT_BACKENDS, what: 'DHCP backend', mustExist: true })) this.addModule(p.mod, `DHCP backend file ${p.path}`);
    return this;
  }

  /** Add one backend; a malformed one or a second of the same name is an error naming where it came from. */
  add(b: Backend, from = `DHCP backend ${b?.name}`): void {
    const problem = backendProblem(b);
    if (problem) throw new Error(`${from}: ${problem}`);
    if (this.byName.has(b.name)) throw new Error(`${from}: a DHCP backend named ${b.name} is already loaded`);
    this.byName.set(b.name, b);
  }

  private addModule(mod: unknown, from: string): void {
    const b = (mod as { backend?: Backend } | null)?.backend;
    if (!b) throw new Error(`${from}: exports no \`backend\` (a DHCP backend module exports \`backend\`; helpers go in files starting with _)`);
    this.add(b, from);
  }

  get(name: string): Backend | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  all(): Backend[] {
    return [...this.byName.values()];
  }

  /** Every rendered target (`dhcp render <target>`), once each. */
  targets(): Target[] {
    return [...new Set(this.all().flatMap((b) => b.targets))];
  }

  /** The first backend rendering `target` (backends rendering the same target render the same text). */
  byTarget(target: Target): Backend | undefined {
    return this.all().find((b) => b.targets.includes(target));
  }

  /** `name` is a loaded backend, or an error message naming it and the known ones. */
  unknown(name: string, where: string): string | null {
    return this.has(name) ? null : `${where}: unknown backend ${JSON.stringify(name)} (backends: ${this.names().join(', ')})`;
  }

  /**
   * The bot's dhcp.backends with every loaded backend filled in (disabled, its defaults, the admin's keys over
   * them), in place. A key naming no loaded backend is an error naming it and the known ones.
   */
  resolveConfig(cfg: Record<string, Partial<BackendConfig>>, where = 'dhcp.backends'): Record<string, BackendConfig> {
    for (const name of Object.keys(cfg)) {
      const bad = this.unknown(name, `${where}.${name}`);
      if (bad) throw new Error(bad);
    }
    for (const b of this.all()) cfg[b.name] = { enabled: false, ...structuredClone(b.defaults), ...cfg[b.name] };
    return cfg as Record<string, BackendConfig>;
  }
}

/** What is wrong with a module's `backend`, or null. */
export function backendProblem(b: Backend | undefined): string | null {
  if (!b || typeof b !== 'object') return 'backend is not an object';
  if (typeof b.name !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(b.name)) return `backend.name ${JSON.stringify(b.name)} is not a plain name`;
  if (!Array.isArray(b.targets) || !b.targets.length || !b.targets.every((t) => typeof t === 'string' && t)) return 'backend.targets must list the rendered file names';
  for (const f of ['render', 'liveFiles', 'check', 'reload'] as const) if (typeof b[f] !== 'function') return `backend.${f} must be a function`;
  if (!b.defaults || typeof b.defaults !== 'object') return 'backend.defaults must be its settings when the config names none ({} for none)';
  const extra = Object.keys(b.defaults).filter((k) => !BACKEND_SETTING_KEYS.includes(k));
  if (extra.length) return `backend.defaults has unknown key(s) ${extra.join(', ')} (settings: ${BACKEND_SETTING_KEYS.join(', ')})`;
  return null;
}
