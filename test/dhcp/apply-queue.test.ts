// The apply queue when the lease holder is elsewhere: an unanswered request is withdrawn with a clear reply, an
// expired holder is taken over, and a request left running by a process that lost the lease is run again.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { SUBNETS } from './helpers.js';
import { APPLY_LEASE } from '../../src/dhcp/apply-queue.js';

describe('apply queue with a holder on another machine (SQLite)', () => {
  let t: TestApp;
  let dir: string;
  const holdLease = (owner: string, ms: number) =>
    t.app.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('schedule_leases').where('name', '=', APPLY_LEASE).execute();
      await tx
        .insertInto('schedule_leases')
        .values({ name: APPLY_LEASE, owner, expires_at: Date.now() + ms })
        .execute();
    });
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { 'dhcp.subnets': SUBNETS } });
    dir = path.join(t.dataDir, 'etc');
    fs.mkdirSync(dir);
    Object.assign(t.app.config.dhcp.backends.proxy, { enabled: true, dir });
    await t.app.services.dhcp.upsertHosts([{ mac: '00:11:22:33:44:01', ip: '10.20.0.11', hostname: 'pc-101', access: 1 }], 't');
  });
  afterAll(() => t.close());

  it('a holder that never answers: the request is withdrawn and the reply says who holds the lease', async () => {
    await holdLease('other-host:4242:x/dhcp1', 3_600_000);
    const q = t.app.services.dhcpApply;
    const wait = q.waitMs;
    q.waitMs = 300;
    try {
      const r = await t.run('dhcp apply', { confirmed: true });
      expect(r.exitCode).toBe(1);
      expect(r.replies.join('\n')).toMatch(/No answer within 0\.3 s from the process holding the apply lease \(process 4242 on other-host\); the request was withdrawn and no file was changed for it/);
      expect(fs.readdirSync(dir)).toEqual([]);
      const rows = await t.app.db.selectFrom('dhcp_apply_requests').select('status').execute();
      expect(rows.map((x) => x.status)).toEqual(['done']);
    } finally {
      q.waitMs = wait;
    }
  });

  it('a holder whose lease runs out is taken over, and what it left running is run again', async () => {
    await holdLease('other-host:4243:y/dhcp1', 1_500);
    // A request the old holder took and never finished.
    await t.app.db
      .insertInto('dhcp_apply_requests')
      .values({ dry_run: 1, status: 'running', asked_by: 'other-host:4243:y/dhcp1', runner: 'other-host:4243:y/dhcp1', result: null, created_at: Date.now(), finished_at: null })
      .execute();
    const r = await t.run('dhcp apply', { confirmed: true });
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    expect(r.replies.join('\n')).toMatch(/^Applied 3 file\(s\) \(1 hosts\)/);
    expect(fs.readFileSync(path.join(dir, 'proxy1'), 'utf8')).toBe('10.20.0.11\n');
    const rows = await t.app.db.selectFrom('dhcp_apply_requests').select(['status', 'runner', 'result']).orderBy('id').execute();
    expect(rows.map((x) => [x.status, x.runner === t.app.services.dhcpApply.owner])).toEqual([
      ['done', false],
      ['done', true],
      ['done', true],
    ]);
    expect(JSON.parse(rows[1]!.result!).text).toMatch(/^Dry run: all checks passed/);
    // exec-like processes let the lease go once their queue is done.
    expect(await t.app.db.selectFrom('schedule_leases').select('owner').where('name', '=', APPLY_LEASE).executeTakeFirst()).toBeUndefined();
  });
});
