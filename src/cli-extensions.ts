// Extra `switchboard` sub-commands contributed by capabilities (e.g. `agent` from monitoring).
import type { Command } from 'commander';
import type { Config } from './config.js';
import type { Logger } from './log.js';

export interface CliHelpers {
  loadConfig(opts: { config?: string }): Config;
  createLogger(level?: string): Logger;
}

export type CliExtension = (program: Command, helpers: CliHelpers) => void;

export const cliExtensions: CliExtension[] = [];

// monitoring: `switchboard agent` and `switchboard agent enroll`
import { agentCli } from './agent/cli.js';
cliExtensions.push(agentCli);
