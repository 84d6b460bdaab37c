// A small line diff in the unified format (`--- a`, `+++ b`, `@@ -l,n +l,n @@` hunks with context lines), for
// showing what a phone's next config would change. No diff library is installed; phone files are a few hundred
// lines at most, so a longest-common-subsequence table over the lines that differ (after the common head and
// tail are set aside) is small and exact.

type Op = { kind: ' ' | '-' | '+'; line: string };

/** Lines past which the middle part is shown as all removed then all added instead of aligned. */
const MAX_TABLE = 4_000_000;

function lcsOps(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const ops: Op[] = a.slice(0, head).map((line) => ({ kind: ' ', line }));
  if (am.length * bm.length > MAX_TABLE) {
    ops.push(...am.map((line): Op => ({ kind: '-', line })), ...bm.map((line): Op => ({ kind: '+', line })));
  } else {
    // t[i][j]: length of the LCS of am[i..] and bm[j..].
    const w = bm.length + 1;
    const t = new Uint32Array((am.length + 1) * w);
    for (let i = am.length - 1; i >= 0; i--) {
      for (let j = bm.length - 1; j >= 0; j--) t[i * w + j] = am[i] === bm[j] ? t[(i + 1) * w + j + 1]! + 1 : Math.max(t[(i + 1) * w + j]!, t[i * w + j + 1]!);
    }
    let i = 0;
    let j = 0;
    while (i < am.length || j < bm.length) {
      if (i < am.length && j < bm.length && am[i] === bm[j]) {
        ops.push({ kind: ' ', line: am[i]! });
        i++;
        j++;
      } else if (j < bm.length && (i === am.length || t[i * w + j + 1]! >= t[(i + 1) * w + j]!)) {
        ops.push({ kind: '+', line: bm[j++]! });
      } else {
        ops.push({ kind: '-', line: am[i++]! });
      }
    }
    // Within a run of changes, removals first (as diff(1) shows them).
    for (let k = 0; k < ops.length; ) {
      if (ops[k]!.kind === ' ') {
        k++;
        continue;
      }
      let e = k;
      while (e < ops.length && ops[e]!.kind !== ' ') e++;
      const run = ops.slice(k, e);
      ops.splice(k, run.length, ...run.filter((o) => o.kind === '-'), ...run.filter((o) => o.kind === '+'));
      k = e;
    }
  }
  ops.push(...a.slice(a.length - tail).map((line): Op => ({ kind: ' ', line })));
  return ops;
}

/** Splits text into lines; a final line break ends the last line rather than starting an empty one. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The unified diff of two texts with `context` lines around each change, or '' when they are equal line for
 * line. `from`/`to` name the two sides in the `---`/`+++` header.
 */
export function unifiedDiff(before: string, after: string, opts: { from: string; to: string; context?: number }): string {
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = lcsOps(a, b);
  if (ops.every((o) => o.kind === ' ')) return '';
  const ctx = opts.context ?? 3;
  const out = [`--- ${opts.from}`, `+++ ${opts.to}`];
  // Positions (in ops) of changes, grouped into hunks whose context would touch.
  const changed = ops.map((o, k) => (o.kind === ' ' ? -1 : k)).filter((k) => k >= 0);
  let g = 0;
  while (g < changed.length) {
    let end = g;
    while (end + 1 < changed.length && changed[end + 1]! - changed[end]! <= 2 * ctx + 1) end++;
    const start = Math.max(0, changed[g]! - ctx);
    const stop = Math.min(ops.length, changed[end]! + ctx + 1);
    // Line numbers (1-based) of the hunk's first line on each side.
    let aLine = 1;
    let bLine = 1;
    for (let k = 0; k < start; k++) {
      if (ops[k]!.kind !== '+') aLine++;
      if (ops[k]!.kind !== '-') bLine++;
    }
    const hunk = ops.slice(start, stop);
    const aCount = hunk.filter((o) => o.kind !== '+').length;
    const bCount = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${aCount ? aLine : aLine - 1},${aCount} +${bCount ? bLine : bLine - 1},${bCount} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
    g = end + 1;
  }
  return out.join('\n');
}
