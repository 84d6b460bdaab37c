// What the agent runs is decided on the PBX, not in chat. Chat operators define sensors on the bot; the
// agent runs a sensor only when its own config allows it:
//   allowKinds    the kinds it runs (default: every kind it has, src/agent/sensors/);
//   pluginDirs    a plugin kind's (nagios) executable must be an absolute path (no `..`) whose real path (symlinks
//                 resolved) lies inside one of these directories (default: the Debian/RHEL plugin dirs);
//   allowPlugins  if set, only plugins with these file names;
//   denyPlugins   plugins never run from chat (default: those that run other commands, write files or run SQL
//                 with the arguments they are given);
//   allowCommands true: anything goes (any command line, the bot's asterisk= and ping command= overrides).
// A refused sensor is not run; it reports UNKNOWN "refused by the agent's config: <reason>".
import fs from 'node:fs';
import path from 'node:path';
import type { AgentSensor } from '../wire/results.js';
import type { SensorKinds } from '../wire/sensor-kinds.js';
import { splitWords } from './checks.js';
import { AGENT_KINDS } from './kinds.js';

export const DEFAULT_PLUGIN_DIRS = ['/usr/lib/nagios/plugins', '/usr/lib64/nagios/plugins', '/usr/local/nagios/libexec'];
/**
 * Stock plugins that hand their arguments to something that runs commands, writes files or runs SQL:
 * negate/urlize run the command they wrap, check_by_ssh passes ssh options (ProxyCommand), check_apt passes
 * apt-get options (Pre-Invoke hooks, real upgrades), check_log copies any file to any path, check_mysql_query,
 * check_dbi and check_oracle run the SQL they are given.
 */
export const DEFAULT_DENY_PLUGINS = ['negate', 'urlize', 'check_by_ssh', 'check_apt', 'check_log', 'check_mysql_query', 'check_dbi', 'check_oracle'];

export interface AgentPolicy {
  allowKinds: string[];
  /** Kinds that run the command line of their `command` argument (`runs: 'plugin'`): vetted as plugins. */
  pluginKinds: string[];
  pluginDirs: string[];
  allowPlugins?: string[];
  denyPlugins: string[];
  allowCommands: boolean;
  /** The agent's own asterisk binary (its config's `asterisk`). */
  asterisk: string;
}

export function policyFrom(
  cfg: { allowKinds?: string[]; pluginDirs?: string[]; allowPlugins?: string[]; denyPlugins?: string[]; allowCommands?: boolean; asterisk: string },
  kinds: SensorKinds = AGENT_KINDS,
): AgentPolicy {
  return {
    allowKinds: cfg.allowKinds ?? kinds.names(),
    pluginKinds: kinds
      .all()
      .filter((k) => k.runs === 'plugin')
      .map((k) => k.name),
    pluginDirs: cfg.pluginDirs ?? DEFAULT_PLUGIN_DIRS,
    allowPlugins: cfg.allowPlugins,
    denyPlugins: cfg.denyPlugins ?? DEFAULT_DENY_PLUGINS,
    allowCommands: cfg.allowCommands === true,
    asterisk: cfg.asterisk,
  };
}

export type Vetted = { ok: true; sensor: AgentSensor; ignored: string[] } | { ok: false; reason: string };

const inside = (file: string, dir: string) => file.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

function realDir(d: string): string | null {
  try {
    return fs.realpathSync(d);
  } catch {
    return null;
  }
}

/** Why a plugin command line may not run, or null when its executable is an allowed plugin. */
export function pluginRefusal(cmdline: string, p: AgentPolicy): string | null {
  const exe = splitWords(cmdline)[0] ?? '';
  if (!exe) return 'the nagios command is empty';
  if (!path.isAbsolute(exe)) return `the plugin ${JSON.stringify(exe)} is not an absolute path inside the plugin directories (${p.pluginDirs.join(', ')})`;
  if (exe.split('/').includes('..')) return `the plugin path ${exe} contains ".."`;
  const lexical = p.pluginDirs.filter((d) => inside(exe, path.resolve(d)));
  if (!lexical.length) return `${exe} is not in the plugin directories (${p.pluginDirs.join(', ')}) and allowCommands is off`;
  let real: string;
  try {
    real = fs.realpathSync(exe);
  } catch (e) {
    return `the plugin ${exe} does not exist (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  const dirs = p.pluginDirs.map(realDir).filter((d): d is string => d !== null);
  if (!dirs.some((d) => inside(real, d))) return `${exe} resolves to ${real}, outside the plugin directories`;
  for (const name of new Set([path.basename(exe), path.basename(real)])) {
    if (p.denyPlugins.includes(name)) return `the plugin ${name} is in denyPlugins (it runs commands, writes files or runs SQL with the arguments it is given)`;
  }
  if (p.allowPlugins && !p.allowPlugins.includes(path.basename(exe))) return `the plugin ${path.basename(exe)} is not in allowPlugins`;
  return null;
}

/**
 * The sensor as the agent will run it, or why not. Overrides the agent does not take from the bot (the
 * `asterisk` binary, ping's `command`) are replaced by its own and named in `ignored`.
 */
export function vet(s: AgentSensor, p: AgentPolicy): Vetted {
  if (!p.allowKinds.includes(s.kind)) return { ok: false, reason: `kind ${s.kind} is not in allowKinds (${p.allowKinds.join(', ') || 'none'})` };
  if (p.allowCommands) return { ok: true, sensor: { ...s, args: { asterisk: p.asterisk, ...s.args } }, ignored: [] };
  if (p.pluginKinds.includes(s.kind)) {
    const why = pluginRefusal(s.args.command ?? '', p);
    return why ? { ok: false, reason: why } : { ok: true, sensor: s, ignored: [] };
  }
  const ignored: string[] = [];
  const args = { ...s.args };
  if (args.asterisk !== undefined && args.asterisk !== p.asterisk) ignored.push(`asterisk=${args.asterisk}`);
  args.asterisk = p.asterisk;
  if (args.command !== undefined) {
    ignored.push(`command=${args.command}`);
    delete args.command;
  }
  return { ok: true, sensor: { ...s, args }, ignored };
}

export function refusedOutput(reason: string): string {
  return `UNKNOWN - refused by the agent's config: ${reason}`;
}
