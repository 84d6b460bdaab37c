// What the monitoring chat commands (commands/monitor*.ts) share when they read their arguments.
import { UsageError } from '../core/command.js';
import { parseDuration } from '../core/format.js';

/** A node or sensor name as a positional argument (rename with `{ ...NAME, name: 'node' }`). */
export const NAME = { name: 'name', required: true, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } as const;

/** A duration argument (60s, 5m, 2h) in milliseconds; `dflt` when not given; a usage error naming the field otherwise. */
export function durationArg(v: unknown, field: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = parseDuration(String(v));
  if (n === null || n <= 0) throw new UsageError(`${field}=${String(v)}: expected a duration like 60s, 5m`);
  return n;
}
