import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';

describe('roles and audit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(() => t.close());

  it('refuses a viewer running an admin command, clearly, and audits it as denied', async () => {
    await t.run('users grant test:vera viewer');
    const r = await t.run('users list', { user: 'vera' });
    expect(r.exitCode).toBe(1);
    expect(r.outcome).toBe('denied');
    expect(r.replies.join('\n')).toMatch(/`users list` needs the admin role; you are viewer/);
    const row = await t.app.db.selectFrom('audit_log').selectAll().where('user_id', '=', 'vera').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ platform: 'test', command: 'users list', outcome: 'denied', channel: 'C1' });
  });

  it('lets an unknown user run help but nothing that needs a role', async () => {
    expect((await t.run('help', { user: 'stranger' })).exitCode).toBe(0);
    const r = await t.run('jobs', { user: 'stranger' });
    expect(r.outcome).toBe('denied');
    expect(r.replies[0]).toMatch(/you have no role/);
  });

  it('grants, lists and revokes roles', async () => {
    expect((await t.run('users grant test:olga operator')).replies[0]).toMatch(/now operator/);
    expect((await t.run('users list')).replies[0]).toMatch(/test:olga\s+operator/);
    expect((await t.run('jobs', { user: 'olga' })).exitCode).toBe(0);
    expect((await t.run('users revoke test:olga')).exitCode).toBe(0);
    expect((await t.run('jobs', { user: 'olga' })).outcome).toBe('denied');
    expect((await t.run('users grant test:olga boss')).replies[0]).toMatch(/<role> must be one of viewer, operator, admin/);
  });

  it('audits ok, invalid and failed attempts and redacts secrets', async () => {
    await t.run('users revoke test:nobody');
    await t.run('users grant');
    await t.run('whoami password=hunter2secret token=abcdef123456');
    const rows = await t.app.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(3).execute();
    const outcomes = rows.map((r) => r.outcome);
    expect(outcomes).toEqual(['invalid', 'invalid', 'failed']);
    expect(rows[0]!.args).toBe('whoami password=*** token=***');
    const all = await t.app.db.selectFrom('audit_log').select('args').execute();
    expect(all.map((r) => r.args).join('\n')).not.toMatch(/hunter2secret|abcdef123456/);
  });

  it('shows recent rows with `audit`', async () => {
    const r = await t.run('audit 5');
    expect(r.exitCode).toBe(0);
    expect(r.replies[0]).toMatch(/outcome/);
    expect(r.replies[0]).toMatch(/test:admin/);
    expect((await t.run('audit', { user: 'vera' })).outcome).toBe('denied');
  });

  it('suggests the nearest command for an unknown one', async () => {
    const r = await t.run('hlep');
    expect(r.exitCode).toBe(2);
    expect(r.replies[0]).toMatch(/Did you mean `help`/);
  });
});
