// The served index follows the change feed, which delivers each change once: a re-read that fails (the store
// briefly away) is tried again, so the change is still served. Two apps on one SQLite data dir stand in for
// `start` and `exec`.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { tmpDir } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { PROV } from './helpers.js';

describe('following the phones feed', () => {
  let server: TestApp;
  let other: TestApp;
  beforeAll(async () => {
    const dataDir = tmpDir();
    server = await makeTestApp({ listen: true, overrides: { ...PROV, dataDir } });
    other = await makeTestApp({ overrides: { ...PROV, dataDir } });
  });
  afterAll(async () => {
    await other?.close();
    await server?.close();
  });

  const get = async (file: string) => {
    const r = await fetch(`http://127.0.0.1:${(server.app.http.server.address() as AddressInfo).port}/provision/${file}`);
    return r.status === 200 ? r.text() : undefined;
  };

  it('a change whose re-read failed once is served after the retry', async () => {
    const store = server.app.services.provision.store;
    const read = store.read.bind(store);
    let failures = 0;
    store.read = async (macs) => {
      if (failures++ === 0) throw new Error('store away (test)');
      return read(macs);
    };
    try {
      const r = await other.run('provision fanvil mac=0c:38:3e:cc:00:01 ext=9101 password=Pw!9101abcd');
      expect(r.exitCode, r.replies.join('\n')).toBe(0);
      const body = await until('the server to serve the phone after a failed re-read', () => get('0c383ecc0001.cfg'), 10_000, 50);
      expect(body).toMatch(/^Flash Server IP\s*:http:\/\/10\.20\.0\.5:8080\/provision\/$/m);
      expect(failures).toBeGreaterThanOrEqual(2);
      expect(server.logs.join('\n')).toMatch(/could not re-read changed phones; trying again/);
    } finally {
      store.read = read;
    }
  });
});
