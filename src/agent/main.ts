// `switchboard-agent`: the agent on its own (the single-file bundle and the .deb run this). The same command as
// `switchboard agent` — the one in cli.ts, so whatever it gains is here too — named for itself and with
// `--version`. Imports nothing of the bot: no store, no chat SDKs, no native modules (build/bundle-agent.ts checks).
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { agentCli } from './cli.js';

const root = new Command();
agentCli(root);
const agent = root.commands.find((c) => c.name() === 'agent');
if (!agent) throw new Error('agent command missing from src/agent/cli.ts');
// Stand alone: `switchboard-agent enroll …`, `switchboard-agent --config …`, `switchboard-agent --version`.
agent.parent = null;
agent.name('switchboard-agent').version(VERSION, '-V, --version', 'print the agent version');
await agent.parseAsync(process.argv);
