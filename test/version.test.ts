import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { VERSION } from '../src/version.js';

describe('version', () => {
  it('is the package version when the sources run directly', () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
