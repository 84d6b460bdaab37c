// The local copy of the served files in <dataDir>/provision/ (or provision.dir), for inspection or another
// web server. Derived from the store: every process rewrites it when it re-indexes a phone. Writes are atomic
// (temp name beside the target, then rename), so a reader never sees half a file.
import fs from 'node:fs';
import path from 'node:path';
import type { RenderedFile } from '../../drivers/phones/contract.js';

export class PhoneFiles {
  constructor(readonly dir: string) {}

  ensureDir(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o750 });
  }

  /** With onlyIfChanged, identical files are left alone. */
  write(files: RenderedFile[], onlyIfChanged = false): void {
    for (const f of files) {
      const target = path.join(this.dir, f.name);
      if (path.dirname(target) !== this.dir) throw new Error(`driver produced a file name outside the provisioning dir: ${f.name}`);
      if (onlyIfChanged) {
        try {
          if (fs.readFileSync(target, 'utf8') === f.body) continue;
        } catch {
          /* missing: write it */
        }
      }
      const tmp = path.join(this.dir, `.${f.name}.${process.pid}.tmp`);
      fs.writeFileSync(tmp, f.body, { mode: 0o640 });
      fs.renameSync(tmp, target);
    }
  }

  /** write() in slices, yielding between them so progress edits and HTTP requests go on during big batches. */
  async writeSliced(files: RenderedFile[], progress?: (done: number, total: number) => void): Promise<void> {
    progress?.(0, files.length);
    for (let i = 0; i < files.length; i += 500) {
      this.write(files.slice(i, i + 500));
      progress?.(Math.min(i + 500, files.length), files.length);
      await new Promise((r) => setImmediate(r));
    }
  }

  remove(names: string[]): void {
    for (const n of names) {
      const target = path.join(this.dir, n);
      if (path.dirname(target) === this.dir) fs.rmSync(target, { force: true });
    }
  }
}
