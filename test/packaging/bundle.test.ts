// The agent bundle's guard: the real agent entry bundles clean, prints its version, and has none of the bot's
// heavy parts; the same bundler pointed at the whole bot's CLI (which does load SQLite and fastify) or at a chat
// platform (which loads its SDK) is refused, naming them — so an import that drags any of them into the agent fails the build.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { bundleAgent, newerNodeApis } from '../../src/build/bundle-agent.js';
import { SENSORS_DIR, sensorFiles } from '../../src/wire/sensor-kinds.js';
import { VERSION } from '../../src/version.js';
import { ROOT, tmpDir } from '../helpers/env.js';

describe('agent bundle', () => {
  const dir = tmpDir('sb-bundle-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('bundles src/agent/main.ts into one file with a shebang that prints the version', async () => {
    const b = await bundleAgent({ root: ROOT, outfile: path.join(dir, 'switchboard-agent.mjs'), version: VERSION });
    const text = fs.readFileSync(b.file, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(b.inputs).toContain('src/agent/cli.ts');
    expect(b.inputs.filter((i) => /better-sqlite3|discord|@slack|telegraf|grammy|fastify|\.node$/.test(i))).toEqual([]);
    expect(execFileSync(process.execPath, [b.file, '--version'], { encoding: 'utf8' }).trim()).toBe(VERSION);
    // Every kind file of src/agent/sensors/ is in the bundle, and the bundled agent runs each (no directory to read there).
    const files = sensorFiles(SENSORS_DIR, '.ts');
    expect(files.length).toBeGreaterThan(0);
    expect(b.inputs).toEqual(expect.arrayContaining(files.map((f) => `src/agent/sensors/${f}`)));
    const listed = execFileSync(process.execPath, [b.file, 'kinds'], { encoding: 'utf8', cwd: dir })
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    expect(listed).toEqual(files.map((f) => f.replace(/\.ts$/, '')));
  });

  it("refuses the bot's own CLI and each chat platform, naming the native module, the web server and the chat SDK", async () => {
    const refusal = (entry: string, out: string) =>
      bundleAgent({ root: ROOT, outfile: path.join(dir, out), version: VERSION, entry: path.join(ROOT, entry) }).then(
        () => null,
        (e: Error) => e.message,
      );
    const err = await refusal('src/cli.ts', 'bot.mjs');
    expect(err).toMatch(/better-sqlite3.*the bot's SQLite store/);
    expect(err).toMatch(/fastify.*web server/);
    expect(fs.existsSync(path.join(dir, 'bot.mjs'))).toBe(false);
    // The chat SDKs are reached only through the platform files the chat feature loads (each imports its SDK lazily).
    expect(await refusal('src/chat/platforms/slack.ts', 'slack.mjs')).toMatch(/@slack\/.*chat SDK \(Slack\)/);
    expect(await refusal('src/chat/platforms/discord.ts', 'discord.mjs')).toMatch(/discord\.js.*chat SDK \(Discord\)/);
    expect(await refusal('src/chat/platforms/telegram.ts', 'telegram.mjs')).toMatch(/telegraf.*chat SDK \(Telegram\)/);
  });

  it('names Node ≥ 20 APIs found in bundle text', () => {
    expect(newerNodeApis('const a = await Array.fromAsync(x); const d = import.meta.dirname; [1].toSorted();')).toEqual([
      'Array.fromAsync (Node 22)',
      'import.meta.dirname/filename (Node 20.11)',
      'Array.prototype.toSorted/toReversed/toSpliced (Node 20)',
    ]);
    expect(newerNodeApis('fs.readdirSync(d, { withFileTypes: true })')).toEqual([]);
  });
});
