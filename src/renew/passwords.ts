// Generated passwords: a configurable policy (length, character classes, no look-alikes), drawn with
// crypto.randomInt. ':' and whitespace never appear (chpasswd reads "user:password" lines).
import { randomInt } from 'node:crypto';

export interface PasswordPolicy {
  length: number;
  minClasses: number;
  classes: ('lower' | 'upper' | 'digit' | 'symbol')[];
  noLookAlike: boolean;
}

export const DEFAULT_POLICY: PasswordPolicy = { length: 16, minClasses: 3, classes: ['lower', 'upper', 'digit', 'symbol'], noLookAlike: true };

const SETS = {
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digit: '0123456789',
  symbol: '!#%+-=?@_*',
} as const;
const LOOK_ALIKE = new Set('Il1O0o|`\'"5S2Z'.split(''));

function alphabet(cls: keyof typeof SETS, noLookAlike: boolean): string {
  return [...SETS[cls]].filter((c) => !noLookAlike || !LOOK_ALIKE.has(c)).join('');
}

export function classesOf(pw: string): number {
  return (['lower', 'upper', 'digit', 'symbol'] as const).filter((k) => [...pw].some((c) => SETS[k].includes(c))).length;
}

export function generatePassword(policy: Partial<PasswordPolicy> = {}): string {
  const p = { ...DEFAULT_POLICY, ...policy };
  const classes = [...new Set(p.classes)];
  if (classes.length < p.minClasses) throw new Error(`password policy asks for ${p.minClasses} classes but allows only ${classes.length}`);
  if (p.length < Math.max(p.minClasses, 8)) throw new Error(`password length ${p.length} is too short (minimum 8)`);
  const sets = classes.map((c) => alphabet(c, p.noLookAlike));
  const all = sets.join('');
  const pick = (s: string) => s[randomInt(s.length)]!;
  // One from each allowed class (so at least min(classes, length) classes appear), the rest from all, then shuffle.
  const chars = sets.map(pick);
  while (chars.length < p.length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
