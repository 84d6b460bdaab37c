// Installing one apply's checked candidates over the live files, all or nothing: the previous bytes (and mode)
// of each live file are kept before it is replaced; when a later step fails, every file already replaced is
// put back and every file that did not exist before is removed again.
import fs from 'node:fs';
import path from 'node:path';

export interface Candidate {
  /** The backend the file belongs to (isc, kea, dnsmasq, proxy1…), for messages. */
  backend: string;
  live: string;
  tmp: string;
}

/** A step of an apply that failed: what was being done, to which file, and why. */
export class StepFailed extends Error {
  constructor(
    readonly step: string,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${step} (${file}): ${reason}`);
  }
}

const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Runs fn; any error becomes a StepFailed naming the step and the file. */
export function step<T>(what: string, file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof StepFailed) throw e;
    throw new StepFailed(what, file, reasonOf(e));
  }
}

interface Saved {
  live: string;
  prev: Buffer | null;
  mode: number;
}

export interface Swapped {
  /** How many live files were replaced. */
  count: number;
  /** Puts every replaced file back (removing the new ones); returns the files that could not be restored. */
  undo(): string[];
}

/**
 * Replaces each live file by its candidate, in order. If a step fails, the files already replaced are put
 * back before the StepFailed is thrown; `restoreProblems` on it lists any that could not be.
 */
export function swapIn(files: Candidate[]): Swapped {
  const done: Saved[] = [];
  const undo = () => restore(done);
  for (const f of files) {
    try {
      const saved = step(`keep the previous bytes of the live ${f.backend} file`, f.live, () => savePrevious(f.live));
      step(`install the new ${f.backend} file (rename over the live file)`, f.live, () => fs.renameSync(f.tmp, f.live));
      done.push(saved);
    } catch (e) {
      const problems = undo();
      throw Object.assign(e as StepFailed, { restored: done.length, restoreProblems: problems });
    }
  }
  return { count: done.length, undo };
}

function savePrevious(live: string): Saved {
  let st: fs.Stats;
  try {
    st = fs.statSync(live);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { live, prev: null, mode: 0 };
    throw e;
  }
  if (!st.isFile()) throw new Error(`${live} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}, not a file apply can replace`);
  return { live, prev: fs.readFileSync(live), mode: st.mode & 0o7777 };
}

function restore(done: Saved[]): string[] {
  const problems: string[] = [];
  for (const s of [...done].reverse()) {
    try {
      if (s.prev === null) {
        fs.rmSync(s.live, { force: true });
        continue;
      }
      const back = path.join(path.dirname(s.live), `.${path.basename(s.live)}.sb-restore-${process.pid}`);
      fs.writeFileSync(back, s.prev, { mode: s.mode });
      fs.chmodSync(back, s.mode);
      fs.renameSync(back, s.live);
    } catch (e) {
      problems.push(`${s.live}: ${reasonOf(e)}`);
    }
  }
  return problems;
}

/** The chat text for a failed step after files were swapped: which step, which file, and the live files' state. */
export function failureText(e: StepFailed & { restored?: number; restoreProblems?: string[] }, swapped: number): string {
  const head = `Apply failed at step "${e.step}" for ${e.file}: ${e.reason}`;
  const problems = e.restoreProblems ?? [];
  if (problems.length) return `${head}\nNo daemon was reloaded. Some live files could NOT be put back; check them by hand:\n${problems.join('\n')}`;
  const n = e.restored ?? swapped;
  return `${head}\nThe live files are as before${n ? ` (${n} already replaced file(s) put back)` : ''}; no daemon was reloaded.`;
}
