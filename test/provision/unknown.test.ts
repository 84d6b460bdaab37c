// Unknown phones: a fetch by a MAC nobody provisioned is refused and announced once a day per MAC (a claim
// in the store) with the model guessed from the user agent and a command that, run as given, provisions it —
// typed, or pressed as the announcement's button (run as the presser: roles, audit; forged and expired ids
// refused); `provision stale` lists phones that stopped fetching. On SQLite and MariaDB.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { auditRows } from '../fakes/setup.js';
import { PROV } from './helpers.js';

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

const UA = 'Yealink SIP-T46S 66.86.0.15 80:5e:c0:7a:00:99';

describe.each(['sqlite', 'mysql'] as const)('unknown phones on %s', (engine) => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await makeTestApp({ engine, listen: true, overrides: { ...PROV, 'provision.announce.targets': ['test:provisioning'] } });
    port = (t.app.http.server.address() as AddressInfo).port;
    const r = await t.run('provision x1sg mac=0c:38:3e:7b:00:01 ext=2040 password=Pw!2040abcd');
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
  });
  afterAll(() => t.close());

  it('fetching twice is refused twice and announced once, with a command that provisions it as given', async () => {
    expect((await get(port, '/provision/805ec07a0099.cfg', UA)).status).toBe(404);
    await t.app.services.provision.announcer.settle();
    expect((await get(port, '/provision/805ec07a0099.cfg', UA)).status).toBe(404);
    await t.app.services.provision.announcer.settle();
    const said = t.chat.messages.filter((m) => m.text.includes('80:5e:c0:7a:00:99'));
    expect(said.length).toBe(1);
    expect(said[0]!.channel).toBe('provisioning');
    expect(said[0]!.text).toMatch(/Unknown phone 80:5e:c0:7a:00:99 \(Yealink T46S, firmware 66\.86\.0\.15\) asked for 805ec07a0099\.cfg from 127\.0\.0\.1 and was refused/);
    // the claim is in the store: another process (or this one after its quiet period) is refused the day's slot
    expect(await t.app.claims.claim('provision-unknown:805ec07a0099', 86_400_000)).toBe(false);

    const command = said[0]!.text.split('\n').find((l) => l.startsWith('provision '))!;
    expect(command).toBe('provision yealink-t4x mac=80:5e:c0:7a:00:99 ext=2041 password=auto');
    const r = await t.run(command);
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    expect(r.replies.join('\n')).toMatch(/sent to you in a direct message/);
    const dm = t.chat.messages.find((m) => m.dmTo && m.text.includes('80:5e:c0:7a:00:99'))!;
    const password = /```\n(\S+)\n```/.exec(dm.text)![1]!;
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(t.chat.messages.filter((m) => !m.dmTo && m.text.includes(password))).toEqual([]);

    const served = await get(port, '/provision/805ec07a0099.cfg', UA);
    expect(served.status).toBe(200);
    expect(served.body).toContain(`account.1.password = ${password}`);
    expect(served.body).toContain('account.1.user_name = 2041');
  });

  it('provision stale lists phones that have not fetched in N days, never-fetched ones included', async () => {
    const svc = t.app.services.provision;
    await svc.flushFetches();
    await svc.store.writeFetches([['0c383e7b0001', { at: Date.now() - 10 * 86_400_000, ip: '127.0.0.9', ua: 'Fanvil X1SG 2.12.1 0c383e7b0001' }]]);
    const week = (await t.run('provision stale')).replies.join('\n');
    expect(week).toMatch(/1 phone has not fetched in 7 days:/);
    expect(week).toMatch(/0c:38:3e:7b:00:01\s+Fanvil X1SG\s+2040\s+.*10d ago from 127\.0\.0\.9/);
    expect(week).not.toMatch(/80:5e:c0:7a:00:99/); // fetched just now
    const month = (await t.run('provision stale 30')).replies.join('\n');
    expect(month).toMatch(/Every provisioned phone fetched its config within 30 days/);
    await t.run('provision x1sg mac=0c:38:3e:7b:00:02 ext=2042 password=Pw!2042abcd');
    expect((await t.run('provision stale 30')).replies.join('\n')).toMatch(/0c:38:3e:7b:00:02\s+Fanvil X1SG\s+2042\s+.*never/);
  });

  it('the announcement carries a button running its command: refused for a user without the role, provisions as the presser', async () => {
    const ua = 'Fanvil X1SG 2.12.1 0c383e7b0077';
    expect((await get(port, '/provision/0c383e7b0077.cfg', ua)).status).toBe(404);
    await t.app.services.provision.announcer.settle();
    const said = t.chat.messages.find((m) => m.text.includes('0c:38:3e:7b:00:77'))!;
    const command = said.text.split('\n').find((l) => l.startsWith('provision '))!;
    expect(command).toMatch(/^provision fanvil-x1sg mac=0c:38:3e:7b:00:77 ext=\d+ password=auto$/);
    const ext = /ext=(\d+)/.exec(command)![1]!;
    // One button, the same command as the text (the text keeps it for platforms without buttons).
    expect(said.buttons).toHaveLength(1);
    const button = said.buttons![0]!;
    expect(button).toMatchObject({ label: `Provision as Fanvil X1SG, ext ${ext}`, command, once: true });
    expect(button.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // The store keeps it sealed and bound to where it went.
    const row = await t.app.db.selectFrom('chat_buttons').selectAll().where('id', '=', button.id!).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ platform: 'test', channel: 'provisioning', once: 1, used_by: null });
    expect(row.command).not.toContain('provision');
    expect(row.expires_at - row.created_at).toBe(7 * 86_400_000);

    // Someone without the operator role presses it: the normal refusal, audited as them; nothing provisioned.
    const stranger = await t.run('', { user: 'stranger', channel: 'provisioning', button: button.id });
    expect(stranger.outcome).toBe('denied');
    expect(stranger.replies.join('\n')).toMatch(/⛔ `provision` needs the operator role; you have no role/);
    expect(await t.app.services.provision.store.exists('0c383e7b0077')).toBe(false);
    // A refused press does not use the button up.
    expect(await t.app.db.selectFrom('chat_buttons').select(['used_by', 'used_at']).where('id', '=', button.id!).executeTakeFirstOrThrow()).toEqual({ used_by: null, used_at: null });
    // The same id pressed from another channel is not a button of that channel.
    const elsewhere = await t.run('', { user: 'admin', channel: 'C1', button: button.id });
    expect(elsewhere.outcome).toBe('invalid');
    expect(elsewhere.replies.join('\n')).toMatch(/not one the bot made for this chat/);

    // An admin presses it: the phone is provisioned and its password goes to the presser privately.
    const pressed = await t.run('', { user: 'admin', channel: 'provisioning', button: button.id });
    expect(pressed.exitCode, pressed.replies.join('\n')).toBe(0);
    expect(await t.app.services.provision.store.exists('0c383e7b0077')).toBe(true);
    expect(t.chat.messages.some((m) => m.dmTo === 'admin' && m.text.includes('0c:38:3e:7b:00:77'))).toBe(true);
    const audit = (await auditRows(t.app, 'test')).filter((r) => r.channel === 'provisioning');
    expect(audit.map((r) => [r.user_id, r.command, r.outcome])).toEqual([
      ['stranger', 'provision', 'denied'],
      ['admin', 'provision', 'ok'],
    ]);
    expect(audit[1]!.args).toBe(`provision fanvil-x1sg mac=0c:38:3e:7b:00:77 ext=${ext} password=***`);
    // Single use: a second press would provision it again with a new password, so it says who used it instead.
    const again = await t.run('', { user: 'op2', channel: 'provisioning', button: button.id });
    expect(again.outcome).toBe('invalid');
    expect(again.replies.join('\n')).toMatch(
      /^✔️ This button was already used by test:admin (just now|\d+ min ago), so nothing was run again\. To run it anyway, type the command: `(.*)` \(SB_BUTTON_USED\)$/,
    );
    expect(/`(.*)` \(SB_BUTTON_USED\)$/.exec(again.replies.join('\n'))![1]).toBe(command);
    expect(await t.app.db.selectFrom('chat_buttons').select(['used_by']).where('id', '=', button.id!).executeTakeFirstOrThrow()).toEqual({ used_by: 'test:admin' });
    expect((await auditRows(t.app, 'test')).find((r) => r.channel === 'C1' && r.command === '(button)')).toMatchObject({
      user_id: 'admin',
      outcome: 'invalid',
      detail: 'SB_BUTTON_UNKNOWN: unknown button',
    });

    // A forged id and an expired button are refused with an answer that says so.
    const forged = await t.run('', { user: 'admin', channel: 'provisioning', button: 'AAAAAAAAAAAAAAAAAAAAAA' });
    expect(forged.outcome).toBe('invalid');
    expect(forged.replies.join('\n')).toMatch(/⚠️ This button is not one the bot made for this chat .*nothing was run/);
    await t.app.db
      .updateTable('chat_buttons')
      .set({ expires_at: Date.now() - 1000 })
      .where('id', '=', button.id!)
      .execute();
    const late = await t.run('', { user: 'admin', channel: 'provisioning', button: button.id });
    expect(late.outcome).toBe('invalid');
    expect(late.replies.join('\n')).toBe(`⌛ This button has expired (buttons work for 7 days), so nothing was run. Type the command instead: \`${command}\` (SB_BUTTON_EXPIRED)`);
  });
});
