// One parser for every platform: `cmd sub positional key=value key="quoted value" --flag --opt=value`.

export interface ParsedLine {
  /** Bare words in order (command words first, then positionals). */
  words: string[];
  /** key=value pairs (last one wins; repeated keys collect into `multi`). */
  named: Record<string, string>;
  multi: Record<string, string[]>;
  /** --flag (true) or --flag=value. */
  flags: Record<string, string | true>;
}

export class ParseError extends Error {}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

interface Token {
  text: string;
  /** true when any part of the token was quoted (a quoted `a=b` is a positional, not a pair). */
  quotedKey: boolean;
}

/** Shell-like tokenizer: whitespace separates, "double" and 'single' quotes group, backslash escapes in "…" and bare text. */
export function tokenize(line: string): Token[] {
  const out: Token[] = [];
  let cur = '';
  let inToken = false;
  let quotedBeforeEq = false;
  let sawEq = false;
  let i = 0;
  const n = line.length;
  // Normalise typographic quotes that chat clients (Slack, macOS) substitute.
  const src = line.replace(/[\u201C\u201D]/g, '"').replace(/[\u2018\u2019]/g, "'");
  const push = () => {
    if (inToken) out.push({ text: cur, quotedKey: quotedBeforeEq });
    cur = '';
    inToken = false;
    quotedBeforeEq = false;
    sawEq = false;
  };
  while (i < n) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      push();
      i++;
      continue;
    }
    inToken = true;
    if (c === '"' || c === "'") {
      if (!sawEq) quotedBeforeEq = true;
      const q = c;
      i++;
      let closed = false;
      while (i < n) {
        const d = src[i]!;
        if (d === q) {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && q === '"' && i + 1 < n && (src[i + 1] === '"' || src[i + 1] === '\\')) {
          cur += src[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      if (!closed) throw new ParseError(`unclosed ${q === '"' ? 'double' : 'single'} quote`);
      continue;
    }
    if (c === '\\' && i + 1 < n) {
      cur += src[i + 1];
      i += 2;
      continue;
    }
    if (c === '=' && !sawEq) sawEq = true;
    cur += c;
    i++;
  }
  push();
  return out;
}

export function parseLine(line: string): ParsedLine {
  const tokens = tokenize(line.trim());
  const res: ParsedLine = { words: [], named: {}, multi: {}, flags: {} };
  for (const t of tokens) {
    const s = t.text;
    if (!t.quotedKey && s.startsWith('--') && s.length > 2) {
      const body = s.slice(2);
      const eq = body.indexOf('=');
      if (eq === -1) res.flags[body] = true;
      else res.flags[body.slice(0, eq)] = body.slice(eq + 1);
      continue;
    }
    const eq = s.indexOf('=');
    if (!t.quotedKey && eq > 0 && KEY_RE.test(s.slice(0, eq))) {
      const k = s.slice(0, eq);
      const v = s.slice(eq + 1);
      res.named[k] = v;
      (res.multi[k] ??= []).push(v);
      continue;
    }
    res.words.push(s);
  }
  return res;
}
