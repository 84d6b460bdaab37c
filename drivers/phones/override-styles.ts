// The pieces a phone driver builds its override style from (see OverrideStyle in contract.ts): checks of keys
// and values every format shares, and setting a key over rendered text — a "key = value" line, an element
// on its own line, an element at a path of nested elements. Pure functions; the driver brings its own
// escaping and line format, so this module knows no vendor.
import type { Override, RenderedFile } from './contract.js';

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LINE_BREAK = /[\r\n\u0085\u2028\u2029]/;
/** Longest key the store keeps (provision_overrides.vendor_key). */
export const MAX_KEY = 191;
/** Longest value an override may have (a Cisco dial plan is the longest thing phones take on one line). */
export const MAX_VALUE = 2048;

/** A key as messages show it: quoted, one line, clipped. */
export function showKey(key: string): string {
  return JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key);
}

/** What every key must be whatever the format: not empty, one line, no control characters, not too long. */
export function basicKeyProblem(key: string, format: string): string | null {
  if (!key) return 'the key is empty';
  if (LINE_BREAK.test(key)) return `${showKey(key)} has a line break; a key in ${format} is one line`;
  const c = CONTROL.exec(key);
  if (c) return `${showKey(key)} has a control character (code ${c[0].codePointAt(0)}), which a key in ${format} cannot hold`;
  if (key.length > MAX_KEY) return `${showKey(key)} is ${key.length} characters long; a key has at most ${MAX_KEY}`;
  return null;
}

/** Keys of "key = value" line formats: no separator, no space, no comment character, and the format's own pattern. */
export function lineKeyProblem(key: string, o: { format: string; separator: string; comment: string[]; pattern: RegExp; hint: string }): string | null {
  const basic = basicKeyProblem(key, o.format);
  if (basic) return basic;
  if (key.includes(o.separator)) return `${showKey(key)} contains "${o.separator}", which ends the key in ${o.format}`;
  if (/\s/.test(key)) return `${showKey(key)} contains a space, which a key in ${o.format} cannot hold`;
  const c = o.comment.find((x) => key.includes(x));
  if (c) return `${showKey(key)} contains "${c}", which starts a comment in ${o.format}`;
  if (!o.pattern.test(key)) return `${showKey(key)} is not a ${o.format} key (${o.hint})`;
  return null;
}

const XML_NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

/** An XML element or attribute name as every XML parser takes it (no namespaces), or why not. */
export function xmlNameProblem(key: string, format: string, what = 'element'): string | null {
  const basic = basicKeyProblem(key, format);
  if (basic) return basic;
  if (!XML_NAME.test(key)) return `${showKey(key)} is not a valid XML ${what} name: it must start with a letter or "_" and hold only letters, digits and . _ - (${format})`;
  if (/^xml/i.test(key)) return `${showKey(key)} starts with "xml", which XML reserves (${format})`;
  return null;
}

/** Values: one line, no control characters, not too long; `trims` for formats whose phones strip spaces at the ends. */
export function lineValueProblem(value: string, format: string, o: { trims?: boolean } = {}): string | null {
  if (LINE_BREAK.test(value)) return `its value has a line break, which ${format} cannot carry`;
  const c = CONTROL.exec(value);
  if (c) return `its value has a control character (code ${c[0].codePointAt(0)}), which ${format} cannot carry`;
  if (value.length > MAX_VALUE) return `its value is ${value.length} characters long; an override value has at most ${MAX_VALUE}`;
  if (o.trims && value !== value.trim()) return `its value starts or ends with a space, which phones strip from ${format}`;
  return null;
}

const SECRET_WORDS = new Set(['pass', 'pwd', 'pswd', 'pin', 'psk', 'token', 'secret', 'passwd', 'password', 'passphrase', 'credential', 'credentials', 'community']);
const SECRET_PART = /pass(word|wd|phrase)|pswd|secret|credential/i;

/**
 * Whether a key's name says its value is a secret, in any vendor's spelling: account.1.password,
 * Admin_Password, RegisterPswd, user_pass, device.auth.localAdminPassword, voip/line/0/auth_password, pin…
 */
export function looksSecret(key: string): boolean {
  if (SECRET_PART.test(key)) return true;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w));
}

/** The one file an override style edits (by a test on its name or body); the others pass through. */
export function editFile(files: RenderedFile[], which: (f: RenderedFile) => boolean, edit: (body: string) => string): RenderedFile[] {
  return files.map((f) => (which(f) ? { ...f, body: edit(f.body) } : f));
}

/** Splits a body into lines and joins them back with the same line ending and final line break. */
function linesOf(body: string): { lines: string[]; join(lines: string[]): string } {
  const eol = body.includes('\r\n') ? '\r\n' : '\n';
  const lines = body.split(eol);
  const trailing = lines.length > 1 && lines[lines.length - 1] === '';
  if (trailing) lines.pop();
  return { lines, join: (l) => l.join(eol) + (trailing ? eol : '') };
}

/**
 * "key<sep>value" lines: the line of each key (compared ignoring case and the spaces around the separator;
 * comment lines skipped) is replaced, or the line is added at the end (or before the line `before` names).
 */
export function setKeyValueLines(
  body: string,
  overrides: Override[],
  o: { separator: string; line(key: string, value: string): string; comment: (line: string) => boolean; before?: (line: string) => boolean },
): string {
  const { lines, join } = linesOf(body);
  for (const { key, value } of overrides) {
    const k = key.toLowerCase();
    const at = lines.findIndex((l) => !o.comment(l) && l.includes(o.separator) && l.slice(0, l.indexOf(o.separator)).trim().toLowerCase() === k);
    if (at >= 0) {
      lines[at] = o.line(key, value);
      continue;
    }
    const end = o.before ? lines.findIndex(o.before) : -1;
    lines.splice(end >= 0 ? end : lines.length, 0, o.line(key, value));
  }
  return join(lines);
}

/**
 * One element (or attribute) per line: the line `is(line, key)` finds is replaced, or the new line goes just
 * before the last line whose trimmed text is `before` (the closing tag of the element that holds settings).
 */
export function setElementLines(body: string, overrides: Override[], o: { is(line: string, key: string): boolean; line(key: string, value: string): string; before: string }): string {
  const { lines, join } = linesOf(body);
  for (const { key, value } of overrides) {
    const at = lines.findIndex((l) => o.is(l, key));
    if (at >= 0) {
      lines[at] = o.line(key, value);
      continue;
    }
    let end = -1;
    for (let i = lines.length - 1; i >= 0; i--)
      if (lines[i]!.trim() === o.before) {
        end = i;
        break;
      }
    if (end < 0) throw new Error(`no ${o.before} in the rendered file`);
    lines.splice(end, 0, o.line(key, value));
  }
  return join(lines);
}

/** One step of an element path: `line[1]` is <line index="1">. */
export interface PathStep {
  name: string;
  index?: string;
}

const PATH_STEP = /^([A-Za-z_][A-Za-z0-9_-]*)(?:\[(\d{1,4})\])?$/;

/** "sip/line[1]/EnableReg" → steps, or null when a step is not an element name with an optional [index]. */
export function parsePath(path: string): PathStep[] | null {
  const steps = path.split('/').map((s) => PATH_STEP.exec(s));
  if (!steps.length || steps.some((m) => !m)) return null;
  return steps.map((m) => (m![2] === undefined ? { name: m![1]! } : { name: m![1]!, index: m![2]! }));
}

const OPEN = /^(\s*)<([A-Za-z_][\w.-]*)(?: index="(\d+)")?>$/;
const CLOSE = /^(\s*)<\/([A-Za-z_][\w.-]*)>$/;
const LEAF = /^(\s*)<([A-Za-z_][\w.-]*)(?: index="(\d+)")?>.*<\/\2>$/;

/**
 * XML written one element per line with a fixed indent (as drivers render it): the element at `path` under
 * the root gets `text` (already escaped), created with whatever elements of the path are missing, inserted
 * at the end of the deepest one that exists.
 */
export function setXmlPath(body: string, path: PathStep[], text: string, indent: string): string {
  const { lines, join } = linesOf(body);
  const same = (s: PathStep, name: string, index: string | undefined) => s.name === name && s.index === index;
  const stack: { name: string; index?: string; matched: number }[] = [];
  let rootSeen = false;
  // close[k]: the line closing the first element matching path[0..k-1] (k = 0: the root).
  const close: number[] = [];
  let leafAt = -1;
  for (let i = 0; i < lines.length && leafAt < 0; i++) {
    const line = lines[i]!;
    const depthMatched = () => (stack.length ? stack[stack.length - 1]!.matched : -1);
    let m = LEAF.exec(line);
    if (m && rootSeen) {
      const d = depthMatched();
      if (d === stack.length - 1 && d === path.length - 1 && same(path[d]!, m[2]!, m[3])) leafAt = i;
      continue;
    }
    m = OPEN.exec(line);
    if (m) {
      if (!rootSeen) {
        rootSeen = true;
        stack.push({ name: m[2]!, matched: 0 });
        continue;
      }
      const d = depthMatched();
      const matched = d === stack.length - 1 && d < path.length - 1 && same(path[d]!, m[2]!, m[3]) && close[d + 1] === undefined ? d + 1 : -1;
      stack.push({ name: m[2]!, index: m[3], matched });
      continue;
    }
    m = CLOSE.exec(line);
    if (m && stack.length) {
      const top = stack.pop()!;
      if (top.matched >= 0 && close[top.matched] === undefined) close[top.matched] = i;
    }
  }
  const el = (s: PathStep) => `${s.name}${s.index === undefined ? '' : ` index="${s.index}"`}`;
  if (leafAt >= 0) {
    const pad = LEAF.exec(lines[leafAt]!)![1]!;
    const leaf = path[path.length - 1]!;
    lines[leafAt] = `${pad}<${el(leaf)}>${text}</${leaf.name}>`;
    return join(lines);
  }
  let have = 0;
  while (have < path.length - 1 && close[have + 1] !== undefined) have++;
  const at = close[have];
  if (at === undefined) throw new Error('the rendered file has no root element');
  const add: string[] = [];
  for (let k = have; k < path.length; k++) {
    const pad = indent.repeat(k + 1);
    if (k === path.length - 1) add.push(`${pad}<${el(path[k]!)}>${text}</${path[k]!.name}>`);
    else add.push(`${pad}<${el(path[k]!)}>`);
  }
  for (let k = path.length - 2; k >= have; k--) add.push(`${indent.repeat(k + 1)}</${path[k]!.name}>`);
  lines.splice(at, 0, ...add);
  return join(lines);
}
