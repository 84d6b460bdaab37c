import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { registerSecret } from '../src/secrets.js';
import { UserError } from '../src/core/command.js';

describe.each(['sqlite', 'mysql'] as const)('dispatcher on %s', (engine) => {
  let t: TestApp;
  const ran: string[] = [];
  beforeAll(async () => {
    t = await makeTestApp({ engine });
    t.app.registry.add({
      name: 'zap host',
      usage: 'zap host <name>',
      summary: 'a destructive test command',
      role: 'operator',
      args: { positional: [{ name: 'name', required: true }] },
      confirm: (a) => `This removes host ${a.name} from the live config.`,
      async run(_ctx, a) {
        ran.push(String(a.name));
        return `removed ${a.name}`;
      },
    });
    t.app.registry.add({
      name: 'boom',
      usage: 'boom',
      summary: 'fails',
      role: 'viewer',
      async run() {
        throw new Error('database exploded at /secret/path');
      },
    });
    t.app.registry.add({
      name: 'oops',
      usage: 'oops',
      summary: 'fails politely',
      role: 'viewer',
      async run() {
        throw new UserError('row 3: mac is not valid');
      },
    });
  });
  afterAll(() => t.close());

  it('asks for confirmation, and runs only after `confirm <code>` from the same user', async () => {
    const r = await t.run('zap host pc-1');
    expect(r.outcome).toBe('confirm');
    expect(ran).toEqual([]);
    const code = /confirm ([A-Z0-9]{6})/.exec(r.replies[0]!)![1]!;
    expect(r.replies[0]).toMatch(/This removes host pc-1 from the live config\.\nTo go ahead, send `confirm [A-Z0-9]{6}` within 60 s\./);
    const stranger = await t.run(`confirm ${code}`, { user: 'someone' });
    expect(stranger.replies[0]).toMatch(/No pending confirmation/);
    const ok = await t.run(`confirm ${code.toLowerCase()}`);
    expect(ok.replies).toContain('removed pc-1');
    expect(ran).toEqual(['pc-1']);
    const again = await t.run(`confirm ${code}`);
    expect(again.replies[0]).toMatch(/No pending confirmation/);
    expect(ran).toEqual(['pc-1']);
  });

  it('says clearly that a code expired, even after other confirmations were asked for since', async () => {
    const r = await t.run('zap host pc-3');
    const code = /confirm ([A-Z0-9]{6})/.exec(r.replies[0]!)![1]!;
    await t.app.db
      .updateTable('confirmations')
      .set({ expires_at: Date.now() - 5000 })
      .where('code', '=', code)
      .execute();
    await t.run('zap host pc-4'); // asks for its own code (and tidies old ones)
    const late = await t.run(`confirm ${code}`);
    expect(late.exitCode).toBe(1);
    expect(late.replies[0]).toMatch(
      new RegExp(`^❌ Code ${code} expired \\d+ s ago \\(codes are good for 60 s\\), so nothing was done\\. Run the command again for a new code: \`zap host pc-3\`\\. \\(SB_CONFIRM_EXPIRED\\)$`),
    );
    expect(ran).not.toContain('pc-3');
  });

  it('runs at once when confirmed up front (exec --yes)', async () => {
    const r = await t.run('zap host pc-2', { confirmed: true });
    expect(r.replies).toEqual(['removed pc-2']);
  });

  it('hides internal errors behind a reference, keeps user errors as they are', async () => {
    const r = await t.run('boom');
    expect(r.exitCode).toBe(1);
    expect(r.replies[0]).toMatch(/`boom` failed with an internal error \(ref [0-9a-f]{6}\)/);
    expect(r.replies[0]).not.toMatch(/exploded|secret\/path|at /);
    expect(t.logs.join('')).toMatch(/database exploded/);
    const u = await t.run('oops');
    expect(u.replies[0]).toBe('❌ row 3: mac is not valid (SB_COMMAND_REFUSED)');
  });

  it('scrubs registered secrets from channel messages and logs', async () => {
    registerSecret('S3cr3t-Value-42');
    await t.app.notifier.send({ platform: 'test', channel: 'C1' }, { text: 'token is S3cr3t-Value-42' });
    t.app.log.info({ detail: 'S3cr3t-Value-42' }, 'logged S3cr3t-Value-42');
    expect(t.chat.last()!.text).toBe('token is [REDACTED]');
    expect(t.logs.join('')).not.toContain('S3cr3t-Value-42');
    await t.app.notifier.dm('test', 'admin', { text: 'your password: S3cr3t-Value-42' }, { secret: true });
    expect(t.chat.last()!.text).toBe('your password: S3cr3t-Value-42');
  });

  it('routes a target on an unconnected platform to the console default room', async () => {
    await t.app.notifier.notify(['slack:C0123'], { text: 'alert for slack' });
    const hist = await t.app.services.console.hub.history('general');
    expect(hist[hist.length - 1]!.text).toBe('[for slack:C0123] alert for slack');
  });
});
