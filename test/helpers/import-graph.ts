// The project's import graph, read with the TypeScript compiler API: every relative module specifier of every
// file — `import`, `import type`, `export … from`, `import x = require()`, `import('…')` with a literal,
// `import('…').T` in a type, and `declare module '…'` augmentations — resolved to the file it names.
// Used by test/architecture.test.ts (cycles and layer rules).
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface ImportRef {
  /** The specifier as written. */
  spec: string;
  line: number;
  typeOnly: boolean;
}

/** Every module specifier the file's text names (relative or not). */
export function importsOf(fileName: string, text: string): ImportRef[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: ImportRef[] = [];
  const add = (lit: ts.Node, typeOnly: boolean) => {
    if (ts.isStringLiteralLike(lit)) out.push({ spec: lit.text, line: sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      add(
        node.moduleSpecifier,
        !!clause &&
          (clause.isTypeOnly ||
            (!clause.name &&
              !!clause.namedBindings &&
              ts.isNamedImports(clause.namedBindings) &&
              clause.namedBindings.elements.length > 0 &&
              clause.namedBindings.elements.every((e) => e.isTypeOnly))),
      );
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      add(node.arguments[0], false);
    } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'require' && node.arguments[0]) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    } else if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name)) {
      add(node.name, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

export interface Edge {
  from: string;
  to: string;
  line: number;
  typeOnly: boolean;
}

export interface Graph {
  /** Project-relative paths with '/' separators, sorted. */
  files: string[];
  edges: Edge[];
  /** Relative specifiers that name no file. */
  unresolved: { from: string; spec: string; line: number }[];
}

/** Every .ts file (not .d.ts) under the given folders of root. */
export function listSources(root: string, dirs: string[]): string[] {
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push(p);
    }
  };
  for (const d of dirs) walk(d);
  return files.sort();
}

/**
 * The graph of relative imports among `files` (project-relative). `read` gives a file's text; `exists` says
 * whether a project-relative path is a file (for imports of files outside the set, e.g. JSON).
 */
export function buildGraph(files: string[], read: (file: string) => string, exists: (file: string) => boolean): Graph {
  const known = new Set(files);
  const edges: Edge[] = [];
  const unresolved: Graph['unresolved'] = [];
  for (const from of files) {
    for (const ref of importsOf(from, read(from))) {
      if (!ref.spec.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), ref.spec));
      const asTs = target.replace(/\.(js|mjs|cjs)$/, (m) => ({ '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts' })[m]!);
      const to = [asTs, target, `${target}.ts`, `${target}/index.ts`].find((c) => known.has(c) || (c.endsWith('.ts') && exists(c)));
      if (to) edges.push({ from, to, line: ref.line, typeOnly: ref.typeOnly });
      else if (!exists(target)) unresolved.push({ from, spec: ref.spec, line: ref.line });
      // else: a file that is not TypeScript (package.json): not part of the module graph.
    }
  }
  return { files, edges, unresolved };
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(graph: Pick<Graph, 'files' | 'edges'>): string[][] {
  const next = new Map<string, string[]>();
  for (const e of graph.edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let counter = 0;
  // Iterative, so a long chain of imports cannot overflow the call stack.
  for (const root of graph.files) {
    if (index.has(root)) continue;
    const work: { node: string; i: number }[] = [{ node: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const top = work[work.length - 1]!;
      const succ = next.get(top.node) ?? [];
      if (top.i < succ.length) {
        const w = succ[top.i++]!;
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== top.node);
        if (scc.length > 1 || succ.includes(top.node)) out.push(scc.sort());
      }
    }
  }
  return out;
}

/** One cycle through the first file of a component, as a path that ends where it starts (shortest, by BFS). */
export function cyclePath(graph: Pick<Graph, 'edges'>, component: string[]): string[] {
  const inside = new Set(component);
  const start = component[0]!;
  const next = new Map<string, string[]>();
  for (const e of graph.edges) if (inside.has(e.from) && inside.has(e.to)) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const at = queue.shift()!;
    for (const w of next.get(at) ?? []) {
      if (w === start) {
        const p = [start];
        for (let x = at; x !== start; x = prev.get(x)!) p.splice(1, 0, x);
        return [...p, start];
      }
      if (!prev.has(w)) {
        prev.set(w, at);
        queue.push(w);
      }
    }
  }
  return component;
}
