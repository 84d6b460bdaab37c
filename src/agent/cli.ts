// `switchboard agent [--config PATH]`, `switchboard agent enroll --server URL --code CODE [--config PATH]` and
// `switchboard agent kinds` (the sensor kinds this agent runs: the names allowKinds takes).
import type { Command } from 'commander';
import type { Agent } from './agent.js';
import { DEFAULT_AGENT_CONFIG } from './defaults.js';

// The agent (and its mysql2, yaml, uuid) is imported only when an agent command runs, not on `switchboard start`.
const agentModule = () => import('./agent.js');

/** Monitoring's Feature.cli (src/monitor/feature.ts); src/agent/main.ts runs it on its own. */
export const agentCli = (program: Command): void => {
  const agent = program
    .command('agent')
    .description('run the PBX monitoring agent (its own YAML config; see `agent enroll`)')
    .option('-c, --config <path>', 'agent config file', DEFAULT_AGENT_CONFIG)
    .action(async (o: { config: string }) => {
      let a: Agent;
      try {
        const { Agent, loadAgentConfig } = await agentModule();
        a = new Agent(loadAgentConfig(o.config));
        await a.start();
      } catch (e) {
        process.stderr.write(`switchboard agent: ${(e as Error).message}\n`);
        process.exit(1);
      }
      const stop = () => {
        void a.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  agent
    .command('enroll')
    .description("trade a one-time enrolment code for this node's token and write the agent config (mode 0600)")
    .requiredOption('--server <url>', "the bot's base URL")
    .requiredOption('--code <code>', 'one-time enrolment code from `monitor enroll`')
    .option('-c, --config <path>', 'agent config file (default ' + DEFAULT_AGENT_CONFIG + ')')
    .action(async (o: { server: string; code: string; config?: string }) => {
      // --config may be taken by the parent `agent` command (commander parses parent options anywhere).
      o.config = o.config ?? (agent.opts() as { config: string }).config;
      try {
        const { enroll } = await agentModule();
        const r = await enroll(o as { server: string; code: string; config: string });
        process.stdout.write(`enrolled as node ${r.node} (id ${r.nodeId}); config written to ${o.config}\n`);
      } catch (e) {
        process.stderr.write(`switchboard agent enroll: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
  agent
    .command('kinds')
    .description('list the sensor kinds this agent runs (the names allowKinds takes), one a line: name, builtin|plugin, summary')
    .action(async () => {
      const { AGENT_KINDS } = await import('./kinds.js');
      const width = Math.max(...AGENT_KINDS.names().map((n) => n.length));
      for (const k of AGENT_KINDS.all()) process.stdout.write(`${k.name.padEnd(width)}  ${k.runs.padEnd(7)}  ${k.summary}\n`);
    });
};
