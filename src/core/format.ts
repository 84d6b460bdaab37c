// Text helpers for replies: monospace tables and timestamps that read the same on every platform.
import { tableAsText } from './message.js';

/** A fixed-width table inside a fenced block. Cells are flattened to one line. */
export function table(head: string[], rows: string[][], opts: { maxWidth?: number } = {}): string {
  return '```\n' + tableAsText({ columns: head, rows }, opts) + '\n```';
}

/** 2026-11-22 14:03 (UTC). */
export function when(ms: number | null | undefined): string {
  if (!ms) return '';
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** "3m ago", "2h ago". */
export function ago(ms: number | null | undefined, nowMs = Date.now()): string {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

/** Parse 90s, 15m, 2h, 7d, 1w into milliseconds. */
export function parseDuration(s: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/i.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const mult: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  return Math.round(n * mult[unit]!);
}
