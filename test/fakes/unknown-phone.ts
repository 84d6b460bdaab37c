// The unknown-phone announcement as the chat tests trigger it: a phone nobody provisioned fetches its config
// from the bot's HTTP server, is refused, and the announcement (text + a "Provision as …" button) goes to the
// platform channel configured as the provisioning target.
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { RunningApp } from '../../src/app.js';
import { PROV } from '../provision/helpers.js';
import { until } from '../helpers/wait.js';
import { auditRows } from './setup.js';

/** A Fanvil X1SG that is not provisioned (its user agent names the model). */
export const PHONE = { mac: '0c383e7b0042', pretty: '0c:38:3e:7b:00:42', ua: 'Fanvil X1SG 2.12.1 0c383e7b0042' };

/** Settings for an app whose provisioning announcements go to `target` (e.g. `slack:C0PROV`). */
export function provisioningTo(target: string): Record<string, unknown> {
  return { ...PROV, 'provision.announce.targets': [target] };
}

/** The phone asks for its config: refused (404), and the announcement is decided and posted. */
export async function unknownPhoneFetches(app: RunningApp): Promise<void> {
  const port = (app.http.server.address() as AddressInfo).port;
  const res = await fetch(`http://127.0.0.1:${port}/provision/${PHONE.mac}.cfg`, { headers: { 'user-agent': PHONE.ua } });
  await res.body?.cancel();
  expect(res.status).toBe(404);
  await app.services.provision.announcer.settle();
}

/** The command line an announcement's text gives (its own line, starting with `provision `). */
export function commandIn(text: string): string {
  const line = text.split('\n').find((l) => l.startsWith('provision '));
  if (!line) throw new Error(`no provision command in: ${text}`);
  return line;
}

/** Pretend the button was made eight days ago (buttons work for seven). */
export async function expireButton(app: RunningApp, id: string): Promise<void> {
  await app.db
    .updateTable('chat_buttons')
    .set({ created_at: Date.now() - 8 * 86_400_000, expires_at: Date.now() - 86_400_000 })
    .where('id', '=', id)
    .execute();
}

/**
 * The platform's audit rows once there are `n` of them: a command's row is written after its reply went out, so a
 * test that saw the reply waits for the row.
 */
export async function auditRowsOnce(app: RunningApp, platform: string, n: number): Promise<Awaited<ReturnType<typeof auditRows>>> {
  return until(
    `${n} audit rows of ${platform}`,
    async () => {
      const rows = await auditRows(app, platform);
      return rows.length >= n && rows;
    },
    10_000,
  );
}
