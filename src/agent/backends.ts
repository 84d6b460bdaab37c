// The DHCP/proxy backends this agent can apply: every file of src/dhcp/backends/ (in the bundled agent, the files
// bundled from there), loaded once when the agent's modules load (like the sensor kinds, kinds.ts).
import { DhcpBackends } from '../dhcp/backends/index.js';

export const AGENT_BACKENDS: DhcpBackends = await DhcpBackends.load();
