// Nagios threshold range syntax: "10" (alert outside 0..10), "10:" (< 10), "~:10" (> 10),
// "10:20" (outside 10..20), "@10:20" (inside 10..20). https://nagios-plugins.org/doc/guidelines.html#THRESHOLDFORMAT
export interface Range {
  start: number;
  end: number;
  inside: boolean;
}

export function parseRange(spec: string): Range {
  let s = spec.trim();
  if (!s) throw new Error('empty range');
  let inside = false;
  if (s.startsWith('@')) {
    inside = true;
    s = s.slice(1);
  }
  let start = 0;
  let end: number;
  const i = s.indexOf(':');
  if (i < 0) {
    end = num(s, spec);
  } else {
    const a = s.slice(0, i);
    const b = s.slice(i + 1);
    start = a === '~' ? -Infinity : a === '' ? 0 : num(a, spec);
    end = b === '' ? Infinity : num(b, spec);
  }
  if (start > end) throw new Error(`range ${spec}: start is greater than end`);
  return { start, end, inside };
}

function num(s: string, spec: string): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw new Error(`range ${spec}: "${s}" is not a number`);
  return n;
}

/** True when the value should raise an alert for this range. */
export function alerts(value: number, r: Range): boolean {
  const within = value >= r.start && value <= r.end;
  return r.inside ? within : !within;
}

/** Nagios status for a value given optional warning/critical ranges. */
export function statusFor(value: number, warn?: string, crit?: string): 0 | 1 | 2 {
  if (crit && alerts(value, parseRange(crit))) return 2;
  if (warn && alerts(value, parseRange(warn))) return 1;
  return 0;
}
