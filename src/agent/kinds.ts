// The sensor kinds this agent runs: every file of src/agent/sensors/ (in the bundled agent, the files bundled
// from there), loaded once when the agent's modules load.
import { SensorKinds } from '../wire/sensor-kinds.js';

export const AGENT_KINDS: SensorKinds = await SensorKinds.load();
