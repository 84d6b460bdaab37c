// The sensor kinds: every file in src/agent/sensors/ (see sensor-kind.ts), loaded by one loader that the agent
// (to run them) and the bot (for their names and arguments) both use. Adding a kind is adding its file.
import { fileURLToPath } from 'node:url';
import { importPlugins, MODULE_EXT, pluginFiles } from '../util/plugin-dir.js';
import { BUNDLED_SENSOR_FILES } from './bundled-sensors.js';
import { sensorArgProblems, sensorKindProblem, type SensorKind, type SensorKindInfo } from './sensor-kind.js';

/** The built-in kinds' directory (in dist: the compiled files; in a bundle it does not exist, see bundled-sensors.ts). */
export const SENSORS_DIR = fileURLToPath(new URL('../agent/sensors/', import.meta.url));

/** The kind files of a directory, sorted: `<kind><ext>`, not `.d.ts`, not `_helper` files. */
export function sensorFiles(dir: string, ext = MODULE_EXT): string[] {
  return pluginFiles(dir, { ext, mustExist: true });
}

/** What the bot uses: the kinds' names, descriptions and argument checks, never their checks. */
export interface SensorCatalogue {
  names(): string[];
  info(name: string): SensorKindInfo | undefined;
  /** Problems with arguments given for a kind (see sensorArgProblems); an unknown kind is one problem. */
  argProblems(kind: string, args: Record<string, string>, opts?: { partial?: boolean }): string[];
  /** Load the kinds of another directory (the loader the built-in kinds came through). */
  loadDir(dir: string): Promise<unknown>;
}

export class SensorKinds implements SensorCatalogue {
  private byName = new Map<string, SensorKind>();

  /** The built-in kinds, plus those of `dirs`. */
  static async load(...dirs: string[]): Promise<SensorKinds> {
    const kinds = await new SensorKinds().loadDir();
    for (const d of dirs) await kinds.loadDir(d);
    return kinds;
  }

  /** Add one kind; a bad definition or a second kind of the same name is an error naming where it came from. */
  add(kind: SensorKind, from = `sensor kind ${kind.name}`): void {
    const problem = sensorKindProblem(kind, kind?.name);
    if (problem) throw new Error(`${from}: ${problem}`);
    if (this.byName.has(kind.name)) throw new Error(`${from}: a sensor kind named ${kind.name} is already loaded`);
    this.byName.set(kind.name, kind);
  }

  /**
   * Load every kind file of `dir` (default: the built-in kinds, SENSORS_DIR — or, in the bundled agent, the files
   * bundled from it). Each file exports `sensor`, named as the file is.
   */
  async loadDir(dir?: string): Promise<this> {
    const found: { name: string; where: string; mod: unknown }[] =
      dir === undefined && BUNDLED_SENSOR_FILES
        ? BUNDLED_SENSOR_FILES.map((b) => ({ name: b.file.replace(/\.[^.]+$/, ''), where: `bundled sensor kind file ${b.file}`, mod: b.module }))
        : (await importPlugins(dir ?? SENSORS_DIR, { what: 'sensor kind', mustExist: true })).map((p) => ({ name: p.name, where: `sensor kind file ${p.path}`, mod: p.mod }));
    for (const e of found) {
      const sensor = (e.mod as { sensor?: SensorKind }).sensor;
      const problem = sensorKindProblem(sensor, e.name);
      if (problem) throw new Error(`${e.where}: ${problem}`);
      this.add(sensor!, e.where);
    }
    return this;
  }

  get(name: string): SensorKind | undefined {
    return this.byName.get(name);
  }

  info(name: string): SensorKindInfo | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  all(): SensorKind[] {
    return [...this.byName.values()];
  }

  argProblems(kind: string, args: Record<string, string>, opts: { partial?: boolean } = {}): string[] {
    const k = this.byName.get(kind);
    if (!k) return [`kind=${kind}: no such sensor kind (kinds: ${this.names().join(', ')})`];
    return sensorArgProblems(k, args, opts);
  }
}
