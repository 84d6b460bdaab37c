// The agent as one file: `switchboard agent` (src/agent/main.ts, which takes the command from src/agent/cli.ts,
// so whatever that imports is bundled) bundled by esbuild into one ESM file for Node 18 and later, with a shebang.
// The build fails when the bundle would pull in a native module or a part of the bot the PBX must not carry
// (the store's SQLite, the chat SDKs, the web server), or uses a Node API newer than 18. The sensor kinds of
// src/agent/sensors/ and the DHCP backends of src/dhcp/backends/ are bundled by plugins (bundledSensorsPlugin,
// bundledBackendsPlugin) that list them when the bundle is built.
import fs from 'node:fs';
import path from 'node:path';
import type { Metafile, Plugin } from 'esbuild';
import { sensorFiles } from '../wire/sensor-kinds.js';
import { pluginFiles } from '../util/plugin-dir.js';
import { NOT_BACKENDS } from '../dhcp/backends/index.js';

/** Inputs the agent bundle must never contain, each with the reason given when it does. */
export const FORBIDDEN_INPUTS: { re: RegExp; why: string }[] = [
  { re: /\.node$/, why: 'a native module (compiled for one Node ABI; the agent runs on whatever Node the PBX has)' },
  { re: /(^|\/)node_modules\/(bindings|node-gyp-build|prebuild-install)\//, why: 'a native-module loader' },
  { re: /(^|\/)node_modules\/better-sqlite3\//, why: "the bot's SQLite store (native)" },
  { re: /(^|\/)node_modules\/@napi-rs\//, why: 'a native module (canvas)' },
  { re: /(^|\/)node_modules\/(discord\.js|@discordjs\/[^/]+)\//, why: 'a chat SDK (Discord)' },
  { re: /(^|\/)node_modules\/@slack\//, why: 'a chat SDK (Slack)' },
  { re: /(^|\/)node_modules\/(telegraf|grammy)\//, why: 'a chat SDK (Telegram)' },
  { re: /(^|\/)node_modules\/(fastify|@fastify\/[^/]+)\//, why: "the bot's web server" },
];

/**
 * Node APIs newer than Node 18 (what FreePBX 17's Debian 12 ships): esbuild lowers syntax for `target: node18`
 * but not library calls, so the bundle's text is searched for these.
 */
export const NODE_20_APIS: { re: RegExp; api: string }[] = [
  { re: /\bArray\.fromAsync\b/, api: 'Array.fromAsync (Node 22)' },
  { re: /\bimport\.meta\.(dirname|filename)\b/, api: 'import.meta.dirname/filename (Node 20.11)' },
  { re: /\b(Object|Map)\.groupBy\b/, api: 'Object/Map.groupBy (Node 21)' },
  { re: /\bPromise\.withResolvers\b/, api: 'Promise.withResolvers (Node 22)' },
  { re: /\bprocess\.getBuiltinModule\b/, api: 'process.getBuiltinModule (Node 22)' },
  { re: /\.(toSorted|toReversed|toSpliced)\(/, api: 'Array.prototype.toSorted/toReversed/toSpliced (Node 20)' },
  { re: /\.isWellFormed\(|\.toWellFormed\(/, api: 'String.prototype.isWellFormed/toWellFormed (Node 20)' },
  { re: /\bstyleText\b/, api: 'util.styleText (Node 20.12)' },
  { re: /\b(fs|fsp|promises)\.glob(Sync)?\(/, api: 'fs.glob (Node 22)' },
  { re: /\brecursive:\s*(true|!0)[^}]*\}\s*\)[^;]*\breaddir|\breaddir(Sync)?\([^)]*recursive/, api: 'fs.readdir with { recursive } (Node 20)' },
];

/** What in the bundle's inputs is forbidden, one line each ("input: why"). */
export function forbiddenInputs(inputs: string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    const hit = FORBIDDEN_INPUTS.find((f) => f.re.test(input.replace(/\\/g, '/')));
    if (hit) out.push(`${input}: ${hit.why}`);
  }
  return out;
}

/** Node ≥ 20 APIs the bundle's text uses, one line each. */
export function newerNodeApis(code: string): string[] {
  return NODE_20_APIS.filter((a) => a.re.test(code)).map((a) => a.api);
}

export interface BundleResult {
  file: string;
  inputs: string[];
  bytes: number;
}

/**
 * The sensor kinds go into the bundle: src/wire/bundled-sensors.ts becomes a module that imports every kind file
 * of src/agent/sensors/ (the files the unbundled loader would read), since a bundle has no directory to read.
 */
export function bundledSensorsPlugin(root: string): { plugin: Plugin; files: string[] } {
  const dir = path.join(root, 'src/agent/sensors');
  const files = sensorFiles(dir, '.ts');
  const plugin: Plugin = {
    name: 'switchboard-sensor-kinds',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]wire[\\/]bundled-sensors\.ts$/ }, () => ({
        resolveDir: dir,
        loader: 'ts',
        contents: [
          ...files.map((f, i) => `import * as kind${i} from ${JSON.stringify(`./${f}`)};`),
          `export const BUNDLED_SENSOR_FILES = [${files.map((f, i) => `{ file: ${JSON.stringify(f)}, module: kind${i} }`).join(', ')}];`,
        ].join('\n'),
      }));
    },
  };
  return { plugin, files: files.map((f) => path.join(dir, f)) };
}

/** Like the sensor kinds: src/dhcp/backends/bundled.ts becomes a module importing every backend file of src/dhcp/backends/. */
export function bundledBackendsPlugin(root: string): { plugin: Plugin; files: string[] } {
  const dir = path.join(root, 'src/dhcp/backends');
  const files = pluginFiles(dir, { ext: '.ts', skip: NOT_BACKENDS, mustExist: true });
  const plugin: Plugin = {
    name: 'switchboard-dhcp-backends',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]dhcp[\\/]backends[\\/]bundled\.ts$/ }, () => ({
        resolveDir: dir,
        loader: 'ts',
        contents: [
          ...files.map((f, i) => `import * as backend${i} from ${JSON.stringify(`./${f}`)};`),
          `export const BUNDLED_BACKEND_FILES = [${files.map((f, i) => `{ file: ${JSON.stringify(f)}, module: backend${i} }`).join(', ')}];`,
        ].join('\n'),
      }));
    },
  };
  return { plugin, files: files.map((f) => path.join(dir, f)) };
}

/** Bundle `entry` (default: the agent) into `outfile`; throws naming every forbidden input / newer API. */
export async function bundleAgent(opts: { root: string; outfile: string; version: string; entry?: string }): Promise<BundleResult> {
  const { build } = await import('esbuild');
  const entry = opts.entry ?? path.join(opts.root, 'src/agent/main.ts');
  fs.mkdirSync(path.dirname(opts.outfile), { recursive: true });
  const sensors = bundledSensorsPlugin(opts.root);
  const backends = bundledBackendsPlugin(opts.root);
  const r = await build({
    absWorkingDir: opts.root,
    entryPoints: [entry],
    outfile: opts.outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    minify: false,
    sourcemap: false,
    legalComments: 'inline',
    metafile: true,
    logLevel: 'silent',
    define: { SWITCHBOARD_BUNDLED_VERSION: JSON.stringify(opts.version) },
    // CommonJS dependencies (mysql2…) call require() for Node's builtins: give the ES module one.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __sbCreateRequire } from 'node:module';\nconst require = __sbCreateRequire(import.meta.url);" },
    write: false,
    plugins: [sensors.plugin, backends.plugin],
  });
  const inputs = Object.keys((r.metafile as Metafile).inputs);
  const code = r.outputFiles[0]!.text;
  const problems = [...forbiddenInputs(inputs), ...newerNodeApis(code).map((a) => `uses ${a}; the agent must run on Node 18`)];
  if (problems.length) throw new Error(`the agent bundle would contain what the PBX must not run:\n  ${problems.join('\n  ')}`);
  // An entry that pulls in the kinds' loader must carry every kind file (else the bundled agent lacks kinds).
  if (inputs.includes('src/wire/sensor-kinds.ts')) {
    const missing = sensors.files.map((f) => path.relative(opts.root, f).split(path.sep).join('/')).filter((f) => !inputs.includes(f));
    if (missing.length) throw new Error(`sensor kind files missing from the agent bundle (src/wire/bundled-sensors.ts was not replaced?): ${missing.join(', ')}`);
  }
  if (inputs.includes('src/dhcp/backends/index.ts')) {
    const missing = backends.files.map((f) => path.relative(opts.root, f).split(path.sep).join('/')).filter((f) => !inputs.includes(f));
    if (missing.length) throw new Error(`DHCP backend files missing from the agent bundle (src/dhcp/backends/bundled.ts was not replaced?): ${missing.join(', ')}`);
  }
  fs.writeFileSync(opts.outfile, code, { mode: 0o755 });
  fs.chmodSync(opts.outfile, 0o755);
  return { file: opts.outfile, inputs, bytes: Buffer.byteLength(code) };
}
