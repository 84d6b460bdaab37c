// Build step (`npm run build`): replace dist/src/store/kysely.js, which re-exports Kysely's values, with one
// esbuild bundle of them (see src/store/kysely.ts). Without esbuild (an install without dev dependencies
// that builds anyway) the compiled re-export stays: the bot is the same, only its start is slower.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const target = fileURLToPath(new URL('../store/kysely.js', import.meta.url));

export async function bundleKysely(file = target): Promise<boolean> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    process.stderr.write('build: esbuild is not installed; Kysely stays as separate modules (slower start)\n');
    return false;
  }
  const r = await esbuild.build({
    stdin: { contents: fs.readFileSync(file, 'utf8').replace(/\/\/# sourceMappingURL=.*$/m, ''), resolveDir: path.dirname(file), sourcefile: 'kysely.js', loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Whitespace only: names stay, so a stack trace through Kysely still reads.
    minifyWhitespace: true,
    legalComments: 'inline',
    logLevel: 'silent',
    write: false,
  });
  fs.writeFileSync(file, `// Kysely's values, bundled by src/build/bundle-kysely.ts at build time.\n${r.outputFiles[0]!.text}`);
  fs.rmSync(`${file}.map`, { force: true });
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await bundleKysely();
