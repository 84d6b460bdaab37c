// The import rules: no import circles, and no import from a lower layer to a higher one. Every import of
// src/, commands/, drivers/ and migrations/ (type-only and dynamic ones too) is read with the TypeScript
// compiler API (test/helpers/import-graph.ts). The same tables are in docs/ARCHITECTURE.md ("Layers"); this
// test checks that the document shows them as they are here.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGraph, cyclePath, cycles, importsOf, listSources, type Edge } from './helpers/import-graph.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CHECKED = ['src', 'commands', 'drivers', 'migrations'];

interface Layer {
  zone: string;
  /** Folders (ending in '/') or files, relative to the repository root. */
  files: string[];
  /** Zones this one may import, besides itself. */
  mayImport: string[];
}

const BELOW_CAPABILITIES = ['util', 'base', 'wire', 'drivers', 'store', 'core', 'app-contract', 'http'];
const CAPABILITIES = ['dhcp', 'provision', 'monitor', 'renew'];

/** Which folder may import which, lowest first. */
const LAYERS: Layer[] = [
  { zone: 'util', files: ['src/util/'], mayImport: [] },
  { zone: 'wire', files: ['src/wire/'], mayImport: ['util'] },
  { zone: 'base', files: ['src/secrets.ts', 'src/version.ts', 'src/log.ts', 'src/config.ts', 'src/config-validator.ts'], mayImport: ['util'] },
  { zone: 'drivers', files: ['drivers/'], mayImport: ['util'] },
  { zone: 'store', files: ['src/store/'], mayImport: ['util', 'base'] },
  { zone: 'migrations', files: ['migrations/'], mayImport: ['util', 'base', 'store'] },
  { zone: 'core', files: ['src/core/'], mayImport: ['util', 'base', 'store'] },
  { zone: 'app-contract', files: ['src/app-types.ts'], mayImport: ['util', 'base', 'store', 'core'] },
  { zone: 'chat', files: ['src/chat/'], mayImport: ['util', 'base', 'store', 'core', 'app-contract'] },
  { zone: 'http', files: ['src/http/'], mayImport: ['util', 'base', 'store', 'core', 'app-contract'] },
  { zone: 'console', files: ['src/console/'], mayImport: ['util', 'base', 'store', 'core', 'app-contract'] },
  ...CAPABILITIES.map((c) => ({ zone: c, files: [`src/${c}/`], mayImport: BELOW_CAPABILITIES })),
  { zone: 'agent', files: ['src/agent/'], mayImport: ['util', 'base', 'wire', 'drivers'] },
  { zone: 'doctor', files: ['src/doctor/'], mayImport: [...BELOW_CAPABILITIES, 'chat', ...CAPABILITIES] },
  { zone: 'app', files: ['src/app.ts', 'src/features.ts', 'src/feature-order.ts', 'src/cli.ts', 'src/build/'], mayImport: [...BELOW_CAPABILITIES, 'chat', 'console', ...CAPABILITIES, 'doctor'] },
  { zone: 'commands', files: ['commands/'], mayImport: [...BELOW_CAPABILITIES, 'chat', 'console', ...CAPABILITIES, 'doctor'] },
];

/** Imports the table does not allow, allowed one by one with the reason. Keep this short. */
const ALLOWED: { from: string; to: string; why: string }[] = [
  { from: 'src/provision/', to: 'src/dhcp/service.ts', why: 'the DHCP tie-in: provisioning writes reservations through app.services.dhcp and names its host types' },
  { from: 'src/monitor/feature.ts', to: 'src/agent/cli.ts', why: 'Feature.cli: monitoring contributes `switchboard agent`' },
  { from: 'src/agent/', to: 'src/dhcp/backends/', why: "the apply agent runs the bot's apply engine (Node builtins and drivers/ only)" },
];

const matches = (prefixOrFile: string, file: string) => (prefixOrFile.endsWith('/') ? file.startsWith(prefixOrFile) : file === prefixOrFile);

function zoneOf(file: string): Layer | undefined {
  return LAYERS.find((l) => l.files.some((f) => matches(f, file)));
}

const files = listSources(ROOT, CHECKED);
const graph = buildGraph(
  files,
  (f) => fs.readFileSync(path.join(ROOT, f), 'utf8'),
  (f) => fs.statSync(path.join(ROOT, f), { throwIfNoEntry: false })?.isFile() === true,
);

const show = (e: Edge) => `${e.from}:${e.line} → ${e.to}`;

describe('import rules', () => {
  it('reads every kind of import: type-only, re-exports, dynamic, import types, augmentations', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "export { c } from './c.js';",
      "export type * from './d.js';",
      "const e = await import('./e.js');",
      'const dyn = await import(somewhere);',
      "type F = import('./f.js').F;",
      "declare module '../g.js' { interface G { x: 1 } }",
      "import fs from 'node:fs';",
      "// import { h } from './h.js';",
      'const s = "import \'./i.js\'";',
    ].join('\n');
    expect(importsOf('src/x/y.ts', text).map((r) => [r.spec, r.typeOnly])).toEqual([
      ['./a.js', false],
      ['../b.js', true],
      ['./c.js', false],
      ['./d.js', true],
      ['./e.js', false],
      ['./f.js', true],
      ['../g.js', true],
      ['node:fs', false],
    ]);
  });

  it('finds a cycle and names it, type-only edges included', () => {
    const texts: Record<string, string> = {
      'src/a.ts': "import { b } from './b.js';",
      'src/b.ts': "import type { C } from './c.js';",
      'src/c.ts': "export const c = () => import('./a.js');",
      'src/d.ts': "import { a } from './a.js'; import { d } from './d.js';",
      'src/e.ts': "import { gone } from './gone.js';",
    };
    const g = buildGraph(
      Object.keys(texts),
      (f) => texts[f]!,
      () => false,
    );
    const found = cycles(g);
    expect(found).toEqual([['src/a.ts', 'src/b.ts', 'src/c.ts'], ['src/d.ts']]);
    expect(cyclePath(g, found[0]!)).toEqual(['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/a.ts']);
    expect(g.unresolved).toEqual([{ from: 'src/e.ts', spec: './gone.js', line: 1 }]);
  });

  it('reads the project: every checked folder has files and imports', () => {
    for (const d of CHECKED)
      expect(
        files.some((f) => f.startsWith(`${d}/`)),
        d,
      ).toBe(true);
    expect(graph.edges.length).toBeGreaterThan(500);
    expect(graph.edges.some((e) => e.typeOnly)).toBe(true);
  });

  it('every import names a file that exists', () => {
    expect(graph.unresolved.map((u) => `${u.from}:${u.line} ${u.spec}`)).toEqual([]);
  });

  it('has no import circles', () => {
    const found = cycles(graph).map((c) => cyclePath(graph, c).join(' > '));
    expect(found, `import circles:\n${found.join('\n')}`).toEqual([]);
  });

  it('every file belongs to exactly one layer', () => {
    const none = files.filter((f) => !zoneOf(f));
    const twice = files.filter((f) => LAYERS.filter((l) => l.files.some((p) => matches(p, f))).length > 1);
    expect({ none, twice }).toEqual({ none: [], twice: [] });
    for (const l of LAYERS)
      for (const z of l.mayImport)
        expect(
          LAYERS.some((o) => o.zone === z),
          `${l.zone} may import unknown zone ${z}`,
        ).toBe(true);
  });

  it('no import goes from a lower layer to a higher one or sideways between capabilities, but those allowed by name', () => {
    const used = new Set<number>();
    const bad: string[] = [];
    for (const e of graph.edges) {
      const from = zoneOf(e.from);
      const to = zoneOf(e.to);
      if (!from || !to) {
        bad.push(`${show(e)}: a file outside the checked folders or layers`);
        continue;
      }
      if (from === to || from.mayImport.includes(to.zone)) continue;
      const i = ALLOWED.findIndex((a) => matches(a.from, e.from) && matches(a.to, e.to));
      if (i >= 0) used.add(i);
      else bad.push(`${show(e)}: ${from.zone} may not import ${to.zone}`);
    }
    expect(bad, `imports against the layer rules (docs/ARCHITECTURE.md, "Layers"):\n${bad.join('\n')}`).toEqual([]);
    const stale = ALLOWED.filter((_, i) => !used.has(i)).map((a) => `${a.from} → ${a.to}`);
    expect(stale, 'allowed imports nothing uses any more: remove them here and in docs/ARCHITECTURE.md').toEqual([]);
  });

  it('the core names nothing above it: no App, HTTP, chat, console or capability import', () => {
    const core = graph.edges.filter((e) => e.from.startsWith('src/core/')).map((e) => e.to);
    expect(core.filter((t) => !/^src\/(core|store|util)\/|^src\/(log|secrets|config)\.ts$/.test(t))).toEqual([]);
  });

  it('docs/ARCHITECTURE.md shows these tables', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
    const code = (s: string) => `\`${s}\``;
    const table = [
      '| layer | files | may import (besides itself) |',
      '|---|---|---|',
      ...LAYERS.map((l) => `| ${l.zone} | ${l.files.map(code).join(' ')} | ${l.mayImport.length ? l.mayImport.join(', ') : '—'} |`),
    ].join('\n');
    const allowed = ALLOWED.map((a) => `- ${code(a.from)} → ${code(a.to)}: ${a.why}.`).join('\n');
    expect(doc.includes(table), `docs/ARCHITECTURE.md should carry this table:\n${table}`).toBe(true);
    expect(doc.includes(allowed), `docs/ARCHITECTURE.md should carry this list:\n${allowed}`).toBe(true);
  });
});
