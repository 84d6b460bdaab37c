// The renewal settings documented as environment variables reach the renew section (they were mapped to
// renew.renew.*, so `exec` refused a config that only set them in the environment).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { features } from '../../src/features.js';

describe('renew config from the environment', () => {
  it('SWITCHBOARD_RENEW_ALLOW and SWITCHBOARD_RENEW_BOOTSTRAP_PASSWORD_FILE set renew.allow and renew.bootstrap.passwordFile', () => {
    const cfg = loadConfig({
      env: { SWITCHBOARD_RENEW_ALLOW: '127.0.9.0/24,127.0.10.0/24', SWITCHBOARD_RENEW_BOOTSTRAP_PASSWORD_FILE: '/etc/switchboard/bootstrap.pw' },
      sections: features.flatMap((f) => (f.config ? [f.config] : [])),
      overrides: { dataDir: '/tmp/sb-env-check' },
    });
    expect(cfg.renew.allow).toEqual(['127.0.9.0/24', '127.0.10.0/24']);
    expect(cfg.renew.bootstrap.passwordFile).toBe('/etc/switchboard/bootstrap.pw');
  });
});
