// How a job reads in chat (the one message edited in place) and how its result is kept in the store.
import { scrub } from '../secrets.js';
import type { JobResult, JobRow } from './job-types.js';

function bar(done: number, total: number): string {
  if (total <= 0) return '';
  const w = 20;
  const f = Math.max(0, Math.min(w, Math.round((done / total) * w)));
  return `[${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total}`;
}

export function renderJob(row: Pick<JobRow, 'id' | 'kind' | 'status' | 'done' | 'total' | 'note' | 'result' | 'error'>, title?: string): string {
  const head = `Job #${row.id} ${title ?? row.kind}`;
  switch (row.status) {
    case 'queued':
      return `⏳ ${head}: queued`;
    case 'running':
      return `⏳ ${head}: running ${bar(row.done, row.total)}${row.note ? ` — ${row.note}` : ''}`.trimEnd();
    case 'succeeded': {
      const text = row.result ? ((JSON.parse(row.result) as { text?: string }).text ?? '') : '';
      return `✅ ${head}: done${text ? `\n${text}` : ''}`;
    }
    case 'cancelled':
      return `🚫 ${head}: cancelled${row.done || row.total ? ` after ${row.done}/${row.total}` : ''}`;
    default:
      return `❌ ${head}: failed — ${row.error ?? 'unknown error'}`;
  }
}

/** A result as stored in `jobs.result` / `jobs.committed`: scrubbed text, structured data, file names only. */
export function resultJson(r: JobResult): string {
  return JSON.stringify({ text: scrub(r.text), data: r.data, files: r.files?.map((f) => f.name) });
}

/** A stored result with a line added to its text (e.g. why the final report is missing). */
export function withNote(json: string, note: string): string {
  const r = JSON.parse(json) as { text?: string };
  return JSON.stringify({ ...r, text: r.text ? `${r.text}\n${note}` : note });
}

/** "Job #5 (provision 40 rows from desks.csv): the result for each phone, provisioned.csv". */
export function filesCaption(id: number, title: string, files: readonly { name: string; title?: string }[]): string {
  return `Job #${id} (${title}): ${files.map((f) => (f.title ? `${f.title}, ${f.name}` : f.name)).join('; ')}`;
}
