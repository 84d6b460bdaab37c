// The phones a `provision …` command names (a MAC, an extension, or `all`), or a user error that says why none.
import { UserError } from '../core/command.js';
import { fmtMac } from '../util/mac.js';
import type { PhoneRecord } from './phone-store.js';
import type { ProvisionService } from './service.js';

/** A stored phone that is not served because its sealed password cannot be opened, said plainly. */
function unreadableText(s: ProvisionService, u: { rec: PhoneRecord; reason: string }): string {
  return `⚠ ${s.label(u.rec)} ${fmtMac(u.rec.mac)} (ext ${u.rec.extension}): ${u.reason}.`;
}

/** The one served phone with this MAC or extension. */
export function needOne(s: ProvisionService, key: string): PhoneRecord {
  const found = s.lookup(key);
  const unreadable = found.length ? [] : s.unreadablePhones(key);
  if (unreadable.length) throw new UserError(unreadable.map((u) => unreadableText(s, u)).join('\n'));
  if (!found.length) throw new UserError(`No provisioned phone with MAC or extension "${key}".`, 'SB_NOT_FOUND');
  if (found.length > 1) throw new UserError(`Extension ${key} is on ${found.length} phones (${found.map((p) => fmtMac(p.mac)).join(', ')}); name the MAC.`);
  return found[0]!;
}

/** Like needOne, but a phone set aside as unreadable counts too (it can still be removed). */
export function needStored(s: ProvisionService, key: string): PhoneRecord {
  const u = s.unreadablePhones(key);
  if (u.length === 1 && !s.lookup(key).length) return u[0]!.rec;
  return needOne(s, key);
}

/** Every served phone with this MAC or extension, or every phone for `all`; at least one. */
export function targets(s: ProvisionService, key: string): PhoneRecord[] {
  if (key === 'all') {
    const all = s.all();
    if (!all.length) throw new UserError('No phones are provisioned.');
    return all;
  }
  const found = s.lookup(key);
  if (!found.length) throw new UserError(`No provisioned phone with MAC or extension "${key}".`, 'SB_NOT_FOUND');
  return found;
}
