// Structured replies: a message built from parts (text, code, tables, images, files) and its plain-text form,
// which every adapter without native tables uses. The core knows no platform: adapters translate the parts.
import type { Align, MessagePart, OutFile, OutMessage } from './types.js';

/** A cell flattened to one line (tables are grids: a newline or tab in data must not break the grid). */
export function cellText(s: unknown): string {
  return String(s ?? '').replace(/[\r\n\t]+/g, ' ');
}

const NUMBER = /^[-+]?#?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?\s?(%|[kMG]?B|ms|s|min|m|h|d)?$/;

/** Columns whose every non-empty cell is a number (e.g. "42", "-1.5", "1,234", "3 s", "12%"; not an IP address) are right-aligned. */
export function guessAlign(columns: string[], rows: string[][]): Align[] {
  return columns.map((_, i) => {
    const cells = rows.map((r) => cellText(r[i]).trim()).filter(Boolean);
    return cells.length > 0 && cells.every((c) => NUMBER.test(c)) ? 'right' : 'left';
  });
}

/** A table part; alignment guessed from the data unless given. */
export function tablePart(columns: string[], rows: unknown[][], opts: { align?: Align[]; caption?: string } = {}): MessagePart {
  const cells = rows.map((r) => columns.map((_, i) => cellText(r[i])));
  return { kind: 'table', columns: columns.map(cellText), rows: cells, align: opts.align ?? guessAlign(columns, cells), ...(opts.caption ? { caption: opts.caption } : {}) };
}

/** A table as monospace text (no fence): padded columns, a rule under the header, long cells cut at maxWidth. */
export function tableAsText(t: { columns: string[]; rows: string[][]; align?: Align[] }, opts: { maxWidth?: number } = {}): string {
  const max = opts.maxWidth ?? 60;
  const clean = (s: string) => {
    const v = cellText(s).replace(/```/g, "'''");
    return v.length > max ? `${v.slice(0, max - 1)}…` : v;
  };
  const all = [t.columns.map(clean), ...t.rows.map((r) => t.columns.map((_, i) => clean(r[i] ?? '')))];
  const widths = t.columns.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => {
        const right = t.align?.[i] === 'right';
        if (right) return c.padStart(widths[i]!);
        return i === r.length - 1 ? c : c.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [fmt(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(fmt)].join('\n');
}

/** The plain-text form of parts: tables and code in fences, images and files named. */
export function partsToText(parts: MessagePart[], files: OutFile[] = []): string {
  const out: string[] = [];
  for (const p of parts) {
    if (p.kind === 'text') out.push(p.text);
    else if (p.kind === 'code') out.push('```\n' + p.text.replace(/```/g, "'''") + '\n```');
    else if (p.kind === 'table') out.push((p.caption ? `${p.caption}\n` : '') + '```\n' + tableAsText(p, { maxWidth: 80 }) + '\n```');
    else {
      // Images and files travel as uploads; the text names them only when there is no upload to see.
      if (!files.some((f) => f.name === p.file)) out.push(p.kind === 'image' ? `[image ${p.file}: ${p.alt}]` : `[file ${p.file}]`);
    }
  }
  return out.filter((s) => s !== '').join('\n');
}

/** A structured message: parts plus their plain-text form in `text`. */
export function structured(parts: (MessagePart | string)[], extra: Omit<OutMessage, 'text' | 'parts'> = {}): OutMessage {
  const ps = parts.map((p): MessagePart => (typeof p === 'string' ? { kind: 'text', text: p } : p));
  return { ...extra, parts: ps, text: partsToText(ps, extra.files) };
}

/** Every string a message carries, mapped by `f` (the secret scrubber runs over parts as over text). */
export function mapMessageText(msg: OutMessage, f: (s: string) => string): OutMessage {
  const parts = msg.parts?.map((p): MessagePart => {
    if (p.kind === 'text' || p.kind === 'code') return { ...p, text: f(p.text) };
    if (p.kind === 'table') return { ...p, columns: p.columns.map(f), rows: p.rows.map((r) => r.map(f)), ...(p.caption ? { caption: f(p.caption) } : {}) };
    if (p.kind === 'image') return { ...p, alt: f(p.alt) };
    return p;
  });
  const buttons = msg.buttons?.map((b) => ({ ...b, label: f(b.label) }));
  return { ...msg, text: f(msg.text), ...(parts ? { parts } : {}), ...(buttons ? { buttons } : {}) };
}
