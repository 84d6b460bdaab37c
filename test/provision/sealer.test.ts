// The key that seals SIP passwords at rest: from SWITCHBOARD_PROVISION_KEY when set, otherwise a key file
// created once with mode 0600 in the data dir; a key of the wrong length is refused with a clear message.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sealer } from '../../src/store/sealer.js';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-sealer-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('Sealer key', () => {
  it('without the environment key, creates provision.key with mode 0600 once and keeps using it', () => {
    const dir = tmp();
    const a = Sealer.fromEnvOrFile({}, dir);
    const file = path.join(dir, 'provision.key');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
    const sealed = a.seal('S1p!secret');
    expect(sealed).not.toContain('S1p!secret');
    const b = Sealer.fromEnvOrFile({}, dir);
    expect(b.open(sealed)).toBe('S1p!secret');
  });

  it('uses SWITCHBOARD_PROVISION_KEY (hex or base64) when set, and writes no key file', () => {
    const dir = tmp();
    const key = crypto.randomBytes(32);
    const hex = Sealer.fromEnvOrFile({ SWITCHBOARD_PROVISION_KEY: key.toString('hex') }, dir);
    const b64 = Sealer.fromEnvOrFile({ SWITCHBOARD_PROVISION_KEY: key.toString('base64') }, dir);
    expect(fs.existsSync(path.join(dir, 'provision.key'))).toBe(false);
    const sealed = hex.seal('Env!key-pw');
    expect(b64.open(sealed)).toBe('Env!key-pw');
    // A key file in the same dir is not what opened it: another key cannot.
    const fromFile = Sealer.fromEnvOrFile({}, dir);
    expect(() => fromFile.open(sealed)).toThrow(/a sealed SIP password cannot be opened with this key \(was SWITCHBOARD_PROVISION_KEY or provision\.key changed\?\)/);
  });

  it('refuses a key of the wrong length with a clear message that does not repeat it', () => {
    const dir = tmp();
    const short = crypto.randomBytes(16).toString('hex');
    let err: Error | undefined;
    try {
      Sealer.fromEnvOrFile({ SWITCHBOARD_PROVISION_KEY: short }, dir);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toBe('SWITCHBOARD_PROVISION_KEY must be 32 bytes, as 64 hex digits or base64');
    expect(err?.message).not.toContain(short);
    fs.writeFileSync(path.join(dir, 'provision.key'), crypto.randomBytes(20).toString('base64') + '\n', { mode: 0o600 });
    expect(() => Sealer.fromEnvOrFile({}, dir)).toThrow(`${path.join(dir, 'provision.key')} does not hold a 32-byte base64 key`);
  });

  it('a damaged sealed value is refused, not opened to garbage', () => {
    const s = Sealer.fromEnvOrFile({}, tmp());
    expect(() => s.open('v1:abc')).toThrow(/not a sealed value/);
    const [v, iv, tag, ct] = s.seal('Pw!1234abcd').split(':');
    const flipped = Buffer.from(ct!, 'base64');
    flipped[0]! ^= 1;
    expect(() => s.open(`${v}:${iv}:${tag}:${flipped.toString('base64')}`)).toThrow(/cannot be opened with this key/);
  });
});
