// A mixed office: one sheet with all seven phone families provisions in one job, and each phone fetching
// over HTTP with its own user agent gets its own files by the name that model asks for, announced as the
// model it was provisioned as (no user-agent mismatch warning).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { isXml, parseXml } from './driver-kit.js';
import { PROV } from './helpers.js';
import { MIXED, mixedSheet } from './mixed-office.js';

function get(port: number, path: string, ua: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { 'user-agent': ua } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      })
      .on('error', reject);
  });
}

describe('a mixed sheet of seven phone families', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ listen: true, overrides: PROV });
  });
  afterAll(() => t.close());

  it('provisions in one job, and each phone gets its files by its own names, recognised by its user agent', async () => {
    const r = await t.run('provision', { files: [mixedSheet()] });
    expect(r.jobIds.length, r.replies.join('\n')).toBe(1);
    const job = await t.app.jobs.wait(r.jobIds[0]!);
    expect(job.status, job.error ?? '').toBe('succeeded');
    expect((JSON.parse(job.result ?? '{}') as { text: string }).text).toMatch(/Provisioned: 7 phones/);
    const port = (t.app.http.server.address() as AddressInfo).port;
    const svc = t.app.services.provision;
    const seen = new Set<string>();
    for (const [, mac, ext, ua] of MIXED) {
      const rec = svc.get(mac.replace(/:/g, ''))!;
      expect(rec.extension).toBe(ext);
      const d = svc.drivers.get(rec.model)!;
      seen.add(d.vendor);
      expect(svc.drivers.parseUserAgent(ua)?.driver.id, ua).toBe(d.id);
      let bodies = '';
      for (const name of rec.files) {
        const res = await get(port, `/provision/${name}`, ua);
        expect(res.status, `${d.id} ${name}`).toBe(200);
        expect(res.body).toBe(svc.fileByName(name)!.body);
        bodies += res.body;
        if (isXml(res.body)) expect(parseXml(res.body), `${name} parses`).toMatchObject({ ok: true });
      }
      expect(bodies).toContain(`Pw#${ext}abcd`);
    }
    expect(seen.size).toBe(7);
    await svc.announcer.settle();
    const said = t.chat.messages.filter((m) => /fetched its config/.test(m.text)).map((m) => m.text);
    expect(said.length).toBe(7);
    expect(said.join('\n')).not.toMatch(/⚠/);
  });
});
