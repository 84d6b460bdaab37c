// The one loader behind every "a new X is one file in this folder" extension point: commands, phone drivers,
// sensor kinds, chat platforms, DHCP backends. A plugin folder holds one module per plugin; `.d.ts` files,
// files starting with `_` and the names a caller lists as "not plugins" (its contract, shared helpers) are not.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The extension of the modules this process runs: `.ts` from source (tests), `.js` built. */
export const MODULE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export interface PluginDirOptions {
  /** Module extension to list (default: the one this process runs, MODULE_EXT). */
  ext?: string;
  /** Base names (without extension) in the folder that are not plugins. */
  skip?: readonly string[];
  /** A missing folder is no plugins (default) or an error. */
  mustExist?: boolean;
}

/** The plugin files of `dir`, sorted by name. */
export function pluginFiles(dir: string, opts: PluginDirOptions = {}): string[] {
  const ext = opts.ext ?? MODULE_EXT;
  if (!opts.mustExist && !fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && !f.startsWith('_') && !(opts.skip ?? []).includes(f.slice(0, -ext.length)))
    .sort();
}

export interface LoadedPlugin<M> {
  /** The file's name in its folder, e.g. `slack.ts`. */
  file: string;
  /** The file's name without extension: the plugin's name where the folder names plugins by file. */
  name: string;
  /** Absolute path. */
  path: string;
  mod: M;
}

/** Imports every plugin file of `dir` in name order; a file that cannot be loaded is an error naming it. */
export async function importPlugins<M>(dir: string, opts: PluginDirOptions & { what?: string } = {}): Promise<LoadedPlugin<M>[]> {
  const out: LoadedPlugin<M>[] = [];
  for (const file of pluginFiles(dir, opts)) {
    const full = path.join(dir, file);
    let mod: M;
    try {
      mod = (await import(pathToFileURL(full).href)) as M;
    } catch (err) {
      throw new Error(`${opts.what ?? 'plugin'} file ${full} cannot be loaded: ${(err as Error).message}`);
    }
    out.push({ file, name: file.replace(/\.[^.]+$/, ''), path: full, mod });
  }
  return out;
}
