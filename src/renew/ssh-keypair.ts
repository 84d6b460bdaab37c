// An ed25519 key pair that ssh2 itself can read back. ssh2's generateKeyPairSync('ed25519') now and then (about
// 1 in 270 here) writes an OpenSSH key its own parser rejects as malformed; such a pair would make every renewal
// fail later. A pair is therefore checked by parsing both halves, and made again if either is refused.
import type Ssh2 from 'ssh2';

export function generateEd25519KeyPair(ssh2: typeof Ssh2, comment?: string): { private: string; public: string } {
  for (let attempt = 1; ; attempt++) {
    const kp = ssh2.utils.generateKeyPairSync('ed25519', comment ? { comment } : {});
    if (!(ssh2.utils.parseKey(kp.public) instanceof Error) && !(ssh2.utils.parseKey(kp.private) instanceof Error)) return kp;
    if (attempt >= 20) throw new Error('could not generate an ed25519 key pair that ssh2 can read (20 attempts)');
  }
}
