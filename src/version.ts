// The package version, read from the package.json above this module: two levels up from dist/src/, one
// from src/ when the TypeScript sources run directly (tests). The agent bundle (build/bundle-agent.ts) has no
// package.json beside it: the bundler writes the version in for SWITCHBOARD_BUNDLED_VERSION.
import fs from 'node:fs';

declare const SWITCHBOARD_BUNDLED_VERSION: string | undefined;

function findVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'switchboard' && pkg.version) return pkg.version;
    } catch {
      /* not here */
    }
  }
  return '0.0.0';
}

export const VERSION: string = typeof SWITCHBOARD_BUNDLED_VERSION === 'string' ? SWITCHBOARD_BUNDLED_VERSION : findVersion();
