// `switchboard agent [--config PATH]` and `switchboard agent enroll --server URL --code CODE [--config PATH]`.
import type { CliExtension } from '../cli-extensions.js';
import { Agent, DEFAULT_AGENT_CONFIG, enroll, loadAgentConfig } from './agent.js';

export const agentCli: CliExtension = (program) => {
  const agent = program
    .command('agent')
    .description('run the PBX monitoring agent (its own YAML config; see `agent enroll`)')
    .option('-c, --config <path>', 'agent config file', DEFAULT_AGENT_CONFIG)
    .action(async (o: { config: string }) => {
      let a: Agent;
      try {
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
    .description('trade a one-time enrolment code for this node\'s token and write the agent config (mode 0600)')
    .requiredOption('--server <url>', 'the bot\'s base URL')
    .requiredOption('--code <code>', 'one-time enrolment code from `monitor enroll`')
    .option('-c, --config <path>', 'agent config file (default ' + DEFAULT_AGENT_CONFIG + ')')
    .action(async (o: { server: string; code: string; config?: string }) => {
      // --config may be taken by the parent `agent` command (commander parses parent options anywhere).
      o.config = o.config ?? (agent.opts() as { config: string }).config;
      try {
        const r = await enroll(o as { server: string; code: string; config: string });
        process.stdout.write(`enrolled as node ${r.node} (id ${r.nodeId}); config written to ${o.config}\n`);
      } catch (e) {
        process.stderr.write(`switchboard agent enroll: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
};
