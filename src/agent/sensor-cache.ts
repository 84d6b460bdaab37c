// The last sensor list the bot sent (with its ETag), kept on disk in the spool dir (mode 0600, written
// atomically): an agent started while the bot is unreachable (a PBX reboot during a bot outage) runs it
// instead of nothing, and its results wait in the spool until the bot is back. A list saved for another bot
// or node (the agent was enrolled again) is not used.
import fs from 'node:fs';
import path from 'node:path';
import type { AgentSensor } from '../wire/results.js';
import { writePrivate } from './private-file.js';

export interface SavedConfig {
  server: string;
  nodeId: number;
  etag: string;
  savedAt: number;
  sensors: AgentSensor[];
  cdr?: { enabled?: boolean };
}

export const SENSOR_CACHE_FILE = 'sensors.json';

function isSensor(s: unknown): s is AgentSensor {
  const x = s as AgentSensor;
  return (
    !!x && typeof x === 'object' && Number.isInteger(x.id) && typeof x.name === 'string' && typeof x.kind === 'string' && !!x.args && typeof x.args === 'object' && x.intervalMs > 0 && x.timeoutMs > 0
  );
}

export class SensorCache {
  readonly file: string;
  constructor(
    dir: string,
    private server: string,
    private nodeId: number,
  ) {
    this.file = path.join(dir, SENSOR_CACHE_FILE);
  }

  /** The saved list, or why there is none usable (null reason: no file yet). */
  load(): { saved?: SavedConfig; problem?: string } {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return {};
    }
    try {
      const c = JSON.parse(text) as SavedConfig;
      if (c.server !== this.server || c.nodeId !== this.nodeId) return { problem: `saved for another bot or node (${c.server}, node ${c.nodeId})` };
      if (!Array.isArray(c.sensors) || !c.sensors.every(isSensor)) return { problem: 'not a sensor list' };
      return { saved: c };
    } catch (e) {
      return { problem: `unreadable: ${(e as Error).message}` };
    }
  }

  save(etag: string, sensors: AgentSensor[], cdr?: { enabled?: boolean }): void {
    const c: SavedConfig = { server: this.server, nodeId: this.nodeId, etag, savedAt: Date.now(), sensors, ...(cdr ? { cdr } : {}) };
    writePrivate(this.file, JSON.stringify(c));
  }
}
