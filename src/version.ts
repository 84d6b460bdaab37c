// The package version, read from the package.json above this module: two levels up from dist/src/, one
// from src/ when the TypeScript sources run directly (tests).
import fs from 'node:fs';

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

export const VERSION: string = findVersion();
