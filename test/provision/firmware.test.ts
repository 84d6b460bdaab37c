// Firmware waves: an image stored once (SHA-256, size limit), a 10 % wave of 50 phones changes exactly 5
// configs after confirmation, `status` shows the version a phone's user agent reports, `halt` takes the URL out.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { file, PROV } from './helpers.js';
import { mysqlUrl } from '../helpers/env.js';
import type { Engine } from '../../src/store/db.js';

function get(port: number, path: string, ua: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { 'user-agent': ua } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

const macOf = (i: number) => `805ec0fa${String(i).padStart(4, '0')}`;
const colon = (m: string) => m.match(/../g)!.join(':');

for (const engine of ['sqlite', 'mysql'] as Engine[]) {
  describe(`firmware waves (${engine})`, () => {
    let t: TestApp;
    let port: number;
    const image = crypto.randomBytes(300_000);
    const bodies = () => new Map(t.app.services.provision.all().map((p) => [p.mac, t.app.services.provision.fileByName(p.files[0]!)!.body]));

    beforeAll(async () => {
      if (engine === 'mysql') mysqlUrl(); // fails loudly in CI when MariaDB is not configured
      t = await makeTestApp({ engine, listen: true, overrides: { ...PROV, 'provision.firmware.maxBytes': 1_000_000 } });
      port = (t.app.http.server.address() as AddressInfo).port;
      const rows = Array.from({ length: 50 }, (_, i) => `yealink,${colon(macOf(i))},${3100 + i},Desk ${i},Pw#${3100 + i}abcd,${i < 10 ? 'Sales' : 'Ops'}`);
      const r = await t.run('provision', { files: [file('fifty.csv', ['model,mac,extension,name,password,room', ...rows].join('\n'))] });
      expect((await t.app.jobs.wait(r.jobIds[0]!)).status).toBe('succeeded');
    });
    afterAll(() => t.close());

    it('stores an image once, refuses one over the size limit, and serves it at its URL', async () => {
      const add = (await t.run('provision firmware add t46s', { files: [file('T46S-66.86.0.20.rom', image)] })).replies.join('\n');
      const sha = crypto.createHash('sha256').update(image).digest('hex');
      expect(add).toContain(`Stored Yealink T3x/T4x/T5x firmware 66.86.0.20: T46S-66.86.0.20.rom, 300000 bytes, SHA-256 ${sha}`);
      expect((await t.run('provision firmware add yealink 66.86.0.99', { files: [file('copy.rom', image)] })).replies.join('\n')).toMatch(
        /already stored as Yealink T3x\/T4x\/T5x firmware 66\.86\.0\.20/,
      );
      const big = await t.run('provision firmware add yealink 66.86.0.30', { files: [file('big.rom', Buffer.alloc(1_000_001))] });
      expect(big.replies.join('\n')).toMatch(/big\.rom is 1\.0 MB; the limit is 1\.0 MB \(provision\.firmware\.maxBytes\)/);
      const served = await get(port, `/provision/fw/${sha}/T46S-66.86.0.20.rom`, 'Yealink SIP-T46S 66.86.0.15 80:5e:c0:fa:00:00');
      expect(served.status).toBe(200);
      expect(served.body.equals(image)).toBe(true);
    });

    it('a 10 % wave of 50 phones asks first, then changes exactly those 5 configs; status and halt', async () => {
      const before = bodies();
      const ask = await t.run('provision firmware rollout yealink 66.86.0.20 to=10%');
      expect(ask.replies.join('\n')).toMatch(/put Yealink T3x\/T4x\/T5x firmware 66\.86\.0\.20 into the configs of 5 phones/);
      expect(bodies()).toEqual(before); // nothing before the confirmation

      const go = await t.run('provision firmware rollout yealink 66.86.0.20 to=10%', { confirmed: true });
      expect(go.replies.join('\n')).toMatch(/5 of 5 configs changed/);
      const during = bodies();
      const changed = [...during].filter(([mac, body]) => body !== before.get(mac)).map(([mac]) => mac);
      expect(changed.length).toBe(5);
      for (const mac of changed) expect(during.get(mac)).toMatch(/^static\.firmware\.url = http:\/\/10\.20\.0\.5:8080\/provision\/fw\/[0-9a-f]{64}\/T46S-66\.86\.0\.20\.rom$/m);
      for (const [mac, body] of during) if (!changed.includes(mac)) expect(body).not.toMatch(/firmware\.url/);

      // one phone of the wave upgraded and fetches again with its new user agent
      const up = changed[0]!;
      const r = await get(port, `/provision/${up}.cfg`, `Yealink SIP-T46S 66.86.0.20 ${colon(up)}`);
      expect(r.status).toBe(200);
      await t.app.services.provision.flushFetches();
      const status = (await t.run('provision firmware status yealink')).replies.join('\n');
      expect(status).toMatch(/yealink-t4x 66\.86\.0\.20 → 5 phones \(10%/);
      expect(status).toMatch(/1 in a wave report its version/);
      expect(status).toMatch(new RegExp(`${colon(up)}\\s+Yealink T3x/T4x/T5x\\s+\\d+\\s+66\\.86\\.0\\.20\\s+66\\.86\\.0\\.20\\s+✓ on it`));
      expect(status).toMatch(new RegExp(`${colon(changed[1]!)}\\s+Yealink T3x/T4x/T5x\\s+\\d+\\s+never fetched\\s+66\\.86\\.0\\.20\\s+waiting`));

      const halt = (await t.run('provision firmware halt yealink')).replies.join('\n');
      expect(halt).toMatch(/Halted 1 wave: the firmware URL is out of 5 configs again/);
      const after = bodies();
      for (const [mac, body] of after) {
        expect(body).not.toMatch(/firmware\.url/);
        if (!changed.includes(mac)) expect(body).toBe(before.get(mac)); // the 45 never moved
      }
      expect((await t.run('provision firmware status yealink')).replies.join('\n')).toMatch(/No wave is running/);
    });

    it('a wave by room or by MACs, and a clear error for one that names another model', async () => {
      const ask = await t.run('provision firmware rollout yealink 66.86.0.20 to=sales');
      expect(ask.replies.join('\n')).toMatch(/into the configs of 10 phones/);
      const bad = await t.run('provision firmware rollout yealink 66.86.0.20 to=0c:38:3e:00:00:01');
      expect(bad.replies.join('\n')).toMatch(/"0c:38:3e:00:00:01" is no room of a Yealink T3x\/T4x\/T5x phone, nor a provisioned MAC or extension/);
      const none = await t.run('provision firmware rollout yealink 9.9.9');
      expect(none.replies.join('\n')).toMatch(/No Yealink T3x\/T4x\/T5x firmware 9\.9\.9 is stored \(stored: 66\.86\.0\.20\)/);
    });
  });
}
