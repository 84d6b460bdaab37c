// A password generated for a renewal that never hands it out (deploy throws) leaves the scrubber's list at once.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { fakeSsh, type FakeSsh } from './fake-ssh.js';
import { scrub } from '../../src/secrets.js';

const generated = vi.hoisted(() => [] as string[]);
vi.mock('../../src/renew/passwords.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/renew/passwords.js')>();
  return {
    ...real,
    generatePassword: (...a: Parameters<typeof real.generatePassword>) => {
      const pw = real.generatePassword(...a);
      generated.push(pw);
      return pw;
    },
  };
});

describe('renewHost when deploy throws', () => {
  let t: TestApp;
  let s: FakeSsh;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { 'renew.allow': ['127.0.9.0/24'], 'renew.timeoutMs': 5000 } });
    s = await fakeSsh('127.0.9.40', { keys: 1, acceptKey: true });
  });
  afterAll(async () => {
    await s?.close();
    await t?.close();
  });

  it('forgets the unused password (it is no longer scrubbed) and fails the host with the reason', async () => {
    // The server's `mktemp -d` prints nothing: deploy() throws after the password was generated and registered.
    const r = await t.app.services.renew.renewHost(s.host, s.port, { jobId: null, requester: 'test:admin' });
    expect(r.status).toBe('failed');
    expect(r.error).toBe('mktemp -d failed on the PC (exit 0): ');
    expect(r.password).toBeUndefined();
    expect(generated).toHaveLength(1);
    expect(scrub(`x ${generated[0]} y`)).toBe(`x ${generated[0]} y`);
  });
});
