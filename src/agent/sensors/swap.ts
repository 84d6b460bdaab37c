// Swap in use, in percent of the total (0 when there is no swap).
import type { SensorKind } from '../../wire/sensor-kind.js';
import { usedPercentKind } from './_meminfo.js';

export const sensor: SensorKind = usedPercentKind({ name: 'swap', summary: 'swap in use, in %', label: 'SWAP', perfLabel: 'swap_used', total: 'SwapTotal', free: 'SwapFree' });
