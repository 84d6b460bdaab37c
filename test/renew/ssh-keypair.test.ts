// ssh2 now and then writes an ed25519 key it cannot read back ("Malformed OpenSSH public key", about 1 in 270
// here: a CI run failed on it). The bot's renewal key pair and the tests' fake servers use a generator that
// checks both halves; 2 000 pairs from it all parse (from ssh2's generator alone, 2 000 pairs hold a bad one
// with a probability above 99.9 %).
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type Ssh2 from 'ssh2';
import { generateEd25519KeyPair } from '../../src/renew/ssh-keypair.js';

const ssh2 = createRequire(import.meta.url)('ssh2') as typeof Ssh2;

describe('generateEd25519KeyPair', () => {
  it('gives only key pairs that ssh2 parses back, public and private', () => {
    let bad = 0;
    for (let i = 0; i < 2000; i++) {
      const kp = generateEd25519KeyPair(ssh2, 'switchboard-renew');
      if (ssh2.utils.parseKey(kp.public) instanceof Error || ssh2.utils.parseKey(kp.private) instanceof Error) bad++;
      expect(kp.public).toMatch(/^ssh-ed25519 \S+ switchboard-renew/);
    }
    expect(bad).toBe(0);
  });
});
