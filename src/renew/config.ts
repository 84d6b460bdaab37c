// The `renew` config section.
import fs from 'node:fs';
import type { PasswordPolicy } from './passwords.js';

export interface RenewConfig {
  allow: string[];
  ssh: { user: string; port: number };
  bootstrap: { passwordFile?: string };
  concurrency: number;
  timeoutMs: number;
  scan: { concurrency: number; timeoutMs: number };
  accountPattern: string;
  site: string;
  shell: string;
  passwordPolicy: PasswordPolicy;
  managedPattern?: string;
}

declare module '../config.js' {
  interface ConfigSections {
    renew: RenewConfig;
  }
}

export const renewSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    allow: { type: 'array', items: { type: 'string', pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$' }, default: [] },
    ssh: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        user: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,32}$', default: 'root' },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 22 },
      },
    },
    bootstrap: { type: 'object', additionalProperties: false, default: {}, properties: { passwordFile: { type: 'string', minLength: 1 } } },
    concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 8 },
    timeoutMs: { type: 'integer', minimum: 1000, default: 60000 },
    scan: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { concurrency: { type: 'integer', minimum: 1, maximum: 1024, default: 256 }, timeoutMs: { type: 'integer', minimum: 50, default: 1000 } },
    },
    accountPattern: { type: 'string', pattern: '^[A-Za-z0-9_{}.-]+$', default: 'USER{site}{nnn}-{dddd}' },
    site: { type: 'string', pattern: '^[A-Za-z0-9]{0,8}$', default: 'SS' },
    shell: { type: 'string', pattern: '^/[A-Za-z0-9/_.-]+$', default: '/bin/bash' },
    passwordPolicy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        length: { type: 'integer', minimum: 8, maximum: 128, default: 16 },
        minClasses: { type: 'integer', minimum: 1, maximum: 4, default: 3 },
        classes: { type: 'array', items: { enum: ['lower', 'upper', 'digit', 'symbol'] }, minItems: 1, default: ['lower', 'upper', 'digit', 'symbol'] },
        noLookAlike: { type: 'boolean', default: true },
      },
    },
    managedPattern: { type: 'string', minLength: 1 },
  },
};

/** Account name from the pattern: {site}, {nnn} (last IPv4 octet, 3 digits), {dddd} (4 random digits). */
export function accountName(pattern: string, site: string, hostNumber: number, rand4: number): string {
  return pattern
    .replace(/\{site\}/g, site)
    .replace(/\{nnn\}/g, String(hostNumber % 1000).padStart(3, '0'))
    .replace(/\{dddd\}/g, String(rand4 % 10000).padStart(4, '0'));
}

/** The ERE that matches managed accounts: managedPattern when set, else the account pattern's shape. */
export function managedRegex(cfg: Pick<RenewConfig, 'accountPattern' | 'site' | 'managedPattern'>): string {
  if (cfg.managedPattern) return cfg.managedPattern;
  const lit = (s: string) => s.replace(/[.*+?^$()|[\]\\-]/g, (c) => (c === '-' ? '-' : `\\${c}`));
  const parts = cfg.accountPattern.split(/(\{site\}|\{nnn\}|\{dddd\})/).map((p) => (p === '{site}' ? lit(cfg.site) : p === '{nnn}' ? '[0-9]{3}' : p === '{dddd}' ? '[0-9]{4}' : lit(p)));
  return `^${parts.join('')}$`;
}

/** Shortest bootstrap password accepted: shorter ones could not be scrubbed from text reliably. */
export const BOOTSTRAP_MIN_LENGTH = 8;

/** Read the first-contact password from its file (trailing newline dropped); a clear error when unusable. */
export function readBootstrapPassword(file: string): string {
  let pw: string;
  try {
    pw = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new Error(`cannot read renew.bootstrap.passwordFile ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!pw) throw new Error(`renew.bootstrap.passwordFile ${file} is empty`);
  if (pw.length < BOOTSTRAP_MIN_LENGTH)
    throw new Error(
      `renew.bootstrap.passwordFile ${file} holds a password of ${pw.length} characters: at least ${BOOTSTRAP_MIN_LENGTH} are required (shorter ones cannot be kept out of logs reliably)`,
    );
  return pw;
}

/**
 * Why `src` is not portable POSIX ERE (what the deploy script hands to `grep -E`), or null. JavaScript-only
 * syntax is refused with the portable spelling: \d \w \s \b and other backslash-letter or -digit escapes,
 * (?…) groups (lookarounds, non-capturing, named), lazy quantifiers (*? +? ?? {n}?) and a backslash inside a
 * bracket expression (literal in POSIX, an escape in JavaScript).
 */
export function posixEreProblem(src: string): string | null {
  const hint: Record<string, string> = { d: '[0-9]', D: '[^0-9]', w: '[A-Za-z0-9_]', W: '[^A-Za-z0-9_]', s: '[[:space:]]', S: '[^[:space:]]' };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      if (n === undefined) return 'it ends with a lone backslash';
      if (/[A-Za-z0-9]/.test(n)) return `\\${n} is not POSIX ERE${hint[n] ? ` (write ${hint[n]})` : ''}`;
      i++;
      continue;
    }
    if (c === '[') {
      // A bracket expression: "]" right after "[" or "[^" is literal; [:class:] [=e=] [.c.] are skipped whole.
      let j = i + 1;
      if (src[j] === '^') j++;
      if (src[j] === ']') j++;
      for (; j < src.length && src[j] !== ']'; j++) {
        if (src[j] === '\\') return `a backslash inside [...] is a literal backslash in POSIX ERE, not an escape (in "${src.slice(i, Math.min(src.length, j + 2))}")`;
        if (src[j] === '[' && /[:=.]/.test(src[j + 1] ?? '')) {
          const end = src.indexOf(`${src[j + 1]}]`, j + 2);
          if (end < 0) return `unterminated "${src.slice(j, j + 2)}" in a bracket expression`;
          j = end + 1;
        }
      }
      if (j >= src.length) return 'unterminated bracket expression [';
      i = j;
      continue;
    }
    if (c === '(' && src[i + 1] === '?') return `"(?" groups (lookarounds, non-capturing or named groups) are not POSIX ERE`;
    if ((c === '*' || c === '+' || c === '?' || c === '}') && src[i + 1] === '?') return `the lazy quantifier "${c}?" is not POSIX ERE`;
  }
  return null;
}

/**
 * Config-load checks of the managed-account pattern (the deploy script deletes what it matches): it must be a
 * valid POSIX extended regular expression (what grep -E on the PC accepts) and must match neither "root" nor the SSH login user, and the account pattern must
 * not name either of them. (The script protects
 * root, the SSH user and system uids on its own as well.) Returns the problem, or null.
 */
export function managedPatternProblem(cfg: Pick<RenewConfig, 'accountPattern' | 'site' | 'managedPattern' | 'ssh'>): string | null {
  const src = managedRegex(cfg);
  let re: RegExp;
  try {
    re = new RegExp(src);
  } catch (e) {
    return `config renew.managedPattern: "${src}" is not a valid regular expression (${(e as Error).message})`;
  }
  const posix = posixEreProblem(src);
  if (posix) return `config renew.managedPattern: "${src}" is not a POSIX extended regular expression (the PCs match it with grep -E): ${posix}`;
  const fixed = accountName(cfg.accountPattern, cfg.site, 0, 0);
  if (fixed === 'root' || fixed === cfg.ssh.user)
    return `config renew.accountPattern: "${cfg.accountPattern}" names the new account "${fixed}", which is ${fixed === 'root' ? 'root' : 'renew.ssh.user'}; use {nnn} and {dddd} (default USER{site}{nnn}-{dddd})`;
  for (const name of new Set(['root', cfg.ssh.user])) {
    if (re.test(name))
      return `config renew.${cfg.managedPattern ? 'managedPattern' : 'accountPattern'}: the managed-account pattern "${src}" matches "${name}"${name === 'root' ? '' : ' (renew.ssh.user)'}; renewal deletes every managed account, so make it stricter (e.g. ^USERSS[0-9]{3}-[0-9]{4}$)`;
  }
  return null;
}
