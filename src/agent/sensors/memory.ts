// Memory in use, in percent of the total (MemAvailable counts as free).
import type { SensorKind } from '../../wire/sensor-kind.js';
import { usedPercentKind } from './_meminfo.js';

export const sensor: SensorKind = usedPercentKind({
  name: 'memory',
  summary: 'memory in use (not available), in %',
  label: 'MEMORY',
  perfLabel: 'memory_used',
  total: 'MemTotal',
  free: 'MemAvailable',
});
