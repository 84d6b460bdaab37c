// The order features run in: each names the features whose init (and start) must come before its own
// (`after: ['dhcp']`), and the loader sorts them topologically. The list's own order means nothing; features
// nothing orders run by name, so the order never depends on where one was added. An unknown name, a
// feature listed twice or a cycle is an error that says which.

export interface Ordered {
  name: string;
  after?: readonly string[];
}

export function orderFeatures<F extends Ordered>(list: readonly F[]): F[] {
  const byName = new Map<string, F>();
  for (const f of list) {
    if (byName.has(f.name)) throw new Error(`feature "${f.name}" is listed twice`);
    byName.set(f.name, f);
  }
  const known = () => [...byName.keys()].sort().join(', ');
  for (const f of list) {
    for (const dep of f.after ?? []) {
      if (!byName.has(dep)) throw new Error(`feature "${f.name}" comes after "${dep}", which is not a feature (the features are: ${known()})`);
    }
  }
  const waiting = new Map(list.map((f) => [f.name, new Set(f.after ?? [])]));
  const out: F[] = [];
  while (waiting.size > 0) {
    const ready = [...waiting]
      .filter(([, deps]) => deps.size === 0)
      .map(([name]) => name)
      .sort();
    if (ready.length === 0) throw new Error(`features cannot be ordered: ${describeCycle(waiting)}`);
    const next = ready[0]!;
    out.push(byName.get(next)!);
    waiting.delete(next);
    for (const deps of waiting.values()) deps.delete(next);
  }
  return out;
}

/** One cycle among the features still waiting, as `"a" comes after "b", "b" comes after "a"`. */
function describeCycle(waiting: Map<string, Set<string>>): string {
  // Every waiting feature waits for another waiting one, so following the first wait from any of them must
  // come back to a feature already seen.
  const path: string[] = [];
  let at = [...waiting.keys()].sort()[0]!;
  while (!path.includes(at)) {
    path.push(at);
    at = [...waiting.get(at)!].sort()[0]!;
  }
  const cycle = [...path.slice(path.indexOf(at)), at];
  return cycle
    .slice(0, -1)
    .map((name, i) => `"${name}" comes after "${cycle[i + 1]}"`)
    .join(', ');
}
