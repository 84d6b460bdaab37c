// Nagios plugin output: "TEXT | perfdata\nLONG TEXT | more perfdata". Perfdata items are
// 'label'=value[UOM];[warn];[crit];[min];[max], space-separated, labels quoted when they contain spaces.
export interface Perf {
  label: string;
  value: number;
  uom?: string;
  warn?: string;
  crit?: string;
  min?: number;
  max?: number;
}

export function parsePerfdata(s: string): Perf[] {
  const out: Perf[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    let label = '';
    if (s[i] === "'") {
      i++;
      while (i < s.length) {
        if (s[i] === "'" && s[i + 1] === "'") {
          label += "'";
          i += 2;
        } else if (s[i] === "'") {
          i++;
          break;
        } else label += s[i++];
      }
    } else {
      while (i < s.length && s[i] !== '=' && !/\s/.test(s[i]!)) label += s[i++];
    }
    if (s[i] !== '=') {
      while (i < s.length && !/\s/.test(s[i]!)) i++;
      continue;
    }
    i++;
    let rest = '';
    while (i < s.length && !/\s/.test(s[i]!)) rest += s[i++];
    const [v, warn, crit, min, max] = rest.split(';');
    const m = /^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([a-zA-Z%]*)$/.exec(v ?? '');
    if (!m || !label) continue;
    const p: Perf = { label, value: Number(m[1]) };
    if (m[2]) p.uom = m[2];
    if (warn) p.warn = warn;
    if (crit) p.crit = crit;
    if (min && Number.isFinite(Number(min))) p.min = Number(min);
    if (max && Number.isFinite(Number(max))) p.max = Number(max);
    out.push(p);
  }
  return out;
}

export function parsePluginOutput(stdout: string): { output: string; perfdata: Perf[] } {
  const lines = stdout.replace(/\r/g, '').split('\n');
  const perf: string[] = [];
  const text: string[] = [];
  let inPerf = false;
  lines.forEach((line, idx) => {
    if (inPerf) {
      perf.push(line);
      return;
    }
    const bar = line.indexOf('|');
    if (bar >= 0) {
      text.push(line.slice(0, bar).trim());
      perf.push(line.slice(bar + 1));
      if (idx > 0) inPerf = true; // long-text perfdata continues to the end
    } else text.push(line);
  });
  const output = text.join('\n').trim().slice(0, 4000);
  return { output, perfdata: parsePerfdata(perf.join(' ')) };
}
