// Every secret value the process learns (tokens, passwords, keys) is registered here; the scrubber
// replaces them wherever text leaves the process towards logs, channel messages or errors.
const values = new Set<string>();
let pattern: RegExp | null = null;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Register a secret. Very short values are ignored: scrubbing them would mangle ordinary text. */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 6 || values.has(value)) return;
  values.add(value);
  pattern = null;
}

export function forgetSecret(value: string): void {
  if (values.delete(value)) pattern = null;
}

export function scrub(text: string): string {
  if (values.size === 0 || !text) return text;
  pattern ??= new RegExp(
    [...values]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|'),
    'g',
  );
  return text.replace(pattern, '[REDACTED]');
}

/** Argument names whose values are never stored or shown. */
export const SECRET_ARG_RE = /(pass(word)?|senha|secret|token|key|pswd|pin|credential)s?$/i;
