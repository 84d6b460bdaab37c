// The agent's default config path, in its own module so `switchboard` can name it without loading the agent.
export const DEFAULT_AGENT_CONFIG = '/etc/switchboard/agent.yaml';
