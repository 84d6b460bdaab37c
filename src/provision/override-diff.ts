// What the next render of a phone changes in the files it is served now, as a unified diff with secrets masked
// (`provision diff`, and `provision set|unset --dry-run`).
import type { MessagePart } from '../core/types.js';
import { unifiedDiff } from '../util/line-diff.js';
import { phoneLabel } from './override-scope.js';
import type { NextRender, ProvisionService } from './service.js';

/** How a secret value is shown. */
export const MASK = '••••••';
/** Diff lines shown in one reply; the rest is counted. */
export const MAX_DIFF_LINES = 300;

/** Every value to mask in a shown file, with the forms files carry it in (XML-escaped, percent-encoded). */
export function masker(secrets: string[]): (text: string) => string {
  const xml = (v: string) => v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
  const forms = [...new Set(secrets.filter(Boolean).flatMap((v) => [v, xml(v), encodeURIComponent(v)]))].sort((a, b) => b.length - a.length);
  return (text) => forms.reduce((t, f) => t.split(f).join(MASK), text);
}

/** The unified diff of a phone's served files against its next rendering, secrets masked; '' when equal. */
export function diffOf(n: NextRender): string {
  const mask = masker(n.secrets);
  const parts = n.files
    .filter((f) => f.served !== f.next)
    .map((f) =>
      unifiedDiff(f.served ?? '', f.next ?? '', {
        from: f.served === undefined ? '/dev/null' : `${f.name} (served, version ${n.rec.version})`,
        to: f.next === undefined ? '/dev/null' : `${f.name} (next render, version ${n.version})`,
      }),
    );
  return mask(parts.filter(Boolean).join('\n'));
}

export function clipLines(text: string, max: number): string {
  const lines = text.split('\n');
  return lines.length <= max ? text : `${lines.slice(0, max).join('\n')}\n… ${lines.length - max} more lines`;
}

export function diffParts(list: NextRender[], s: ProvisionService, limit = 3): MessagePart[] {
  const parts: MessagePart[] = [];
  let budget = MAX_DIFF_LINES;
  for (const n of list.slice(0, limit)) {
    const d = clipLines(diffOf(n), Math.max(20, budget));
    budget -= d.split('\n').length;
    parts.push({ kind: 'text', text: `${phoneLabel(s, n.rec)}, version ${n.rec.version} → ${n.version}:` }, { kind: 'code', text: d });
  }
  if (list.length > limit) parts.push({ kind: 'text', text: `… and ${list.length - limit} more phone${list.length - limit === 1 ? '' : 's'} (provision diff <mac|ext> shows one).` });
  return parts;
}
