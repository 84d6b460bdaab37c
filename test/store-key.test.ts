// Every process on a store needs the store key it was first used with: one with another key refuses to start,
// saying which key and how to fix it, instead of serving a 404 for every phone.
import { describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { runCli } from './helpers/cli.js';
import { tmpDir } from './helpers/env.js';

describe('store key', () => {
  it('a start with another key than the store was first used with refuses, naming the key and the fix', async () => {
    const dir = tmpDir();
    const key = crypto.randomBytes(32).toString('hex');
    expect((await runCli(['exec', 'whoami'], { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_PROVISION_KEY: key })).code).toBe(0);
    const other = await runCli(['start'], { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_HTTP_PORT: '0', SWITCHBOARD_PROVISION_KEY: crypto.randomBytes(32).toString('hex') });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/switchboard: the store key from SWITCHBOARD_PROVISION_KEY does not open this store's secrets.*same key/);
    expect(other.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const same = await runCli(['exec', 'whoami'], { SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_PROVISION_KEY: key });
    expect(same.code).toBe(0);
  });
});
