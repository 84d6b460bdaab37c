// Fetch announcements and fetch bookkeeping. The fetch path only touches memory and returns; what the store
// must decide is decided after the answer went out:
// - the first fetch of a config version is announced by the one process whose conditional UPDATE moves the
//   phone's announced_version up to it (one post whichever replicas the phone's fetches reached);
// - an unprovisioned MAC is announced at most once a day, through a claim `provision-unknown:<mac>`, with the
//   model guessed from its user agent (or its MAC's OUI) and a command that provisions it as given (also a
//   button where the platform has buttons, run as whoever presses it);
// - last fetch time, address and user agent are written in batches about a second later.
import type { App } from '../app-types.js';
import type { OutMessage, Target } from '../core/types.js';
import type { ProvisionConfig } from './config.js';
import type { DriverSet } from './drivers.js';
import type { FetchMark, PhoneRecord, PhoneStore } from './phone-store.js';
import { fmtMac } from '../util/mac.js';

const UNKNOWN_EVERY_MS = 86_400_000;
/** How long this process leaves an unknown MAC alone after another process held its claim. */
const UNKNOWN_RECHECK_MS = 60_000;

export class Announcer {
  private pending = new Map<string, FetchMark>();
  private timer: NodeJS.Timeout | null = null;
  /** Unknown MAC → until when this process does not ask the store again. */
  private unknownQuiet = new Map<string, number>();
  private inFlight = new Set<Promise<void>>();

  constructor(
    private app: App,
    private cfg: ProvisionConfig,
    private drivers: DriverSet,
    private store: PhoneStore,
  ) {}

  private label(rec: { model: string }): string {
    return this.drivers.get(rec.model)?.label ?? rec.model;
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** A phone fetched one of its files (hot path: memory only; the store is asked afterwards). */
  recordFetch(rec: PhoneRecord, ip: string, ua: string | null): void {
    const at = Date.now();
    // A TFTP fetch has no user agent: the last one the phone sent (its firmware version) is kept.
    const agent = ua ?? rec.lastFetchUa;
    rec.lastFetchAt = at;
    rec.lastFetchIp = ip;
    rec.lastFetchUa = agent;
    this.pending.set(rec.mac, { at, ip, ua: agent });
    this.timer ??= setTimeout(() => void this.flush(), 1000);
    if (rec.announcedVersion < rec.version) {
      // This process asks once per version; the store says whether it is the one to announce.
      const before = rec.announcedVersion;
      rec.announcedVersion = rec.version;
      if (this.cfg.announce.fetches) this.track(this.claimFetch(rec, rec.version, before, ip, ua));
    }
  }

  private async claimFetch(rec: PhoneRecord, version: number, before: number, ip: string, ua: string | null): Promise<void> {
    let won: boolean;
    try {
      won = await this.store.claimAnnouncement(rec.mac, version);
    } catch (err) {
      this.app.log.error({ err: String(err), mac: rec.mac }, 'could not claim a fetch announcement; the next fetch tries again');
      if (rec.announcedVersion === version) rec.announcedVersion = before;
      return;
    }
    if (!won) return;
    const uaInfo = ua ? this.drivers.parseUserAgent(ua) : null;
    const driver = this.drivers.get(rec.model);
    let warn = '';
    if (uaInfo && driver && uaInfo.driver.id !== driver.id) warn = `\n⚠ its user agent says ${uaInfo.vendor} ${uaInfo.model}, but it is provisioned as ${driver.label}`;
    else if (uaInfo?.mac && uaInfo.mac !== rec.mac) warn = `\n⚠ its user agent carries MAC ${fmtMac(uaInfo.mac)}: another phone is using this one's file`;
    const room = rec.room ? `, ${/^\d+$/.test(rec.room) ? `Room ${rec.room}` : rec.room}` : '';
    await this.announce(rec.target, `☎️ ${this.label(rec)} ${fmtMac(rec.mac)} (ext ${rec.extension}${room}) fetched its config from ${ip}${warn}`);
  }

  /** A request for a phone file nobody provisioned: announced once a day per MAC across every process, unless switched off. */
  unknownFetch(mac: string, file: string, ip: string, ua: string | null): void {
    if (!this.cfg.announce.unknown) return;
    const t = Date.now();
    if ((this.unknownQuiet.get(mac) ?? 0) > t) return;
    if (this.unknownQuiet.size > 10_000) this.unknownQuiet.clear();
    this.unknownQuiet.set(mac, t + UNKNOWN_RECHECK_MS);
    this.track(this.claimUnknown(mac, file, ip, ua));
  }

  private async claimUnknown(mac: string, file: string, ip: string, ua: string | null): Promise<void> {
    let won: boolean;
    try {
      // Provisioned moments ago by another process, whose change this one has not read yet: not unknown.
      if (await this.store.exists(mac)) return;
      won = await this.app.claims.claim(`provision-unknown:${mac}`, UNKNOWN_EVERY_MS);
    } catch (err) {
      this.app.log.error({ err: String(err), mac }, 'could not claim an unknown-phone announcement');
      return;
    }
    if (!won) return;
    this.unknownQuiet.set(mac, Date.now() + UNKNOWN_EVERY_MS);
    const ui = ua ? this.drivers.parseUserAgent(ua) : null;
    const driver = ui?.driver ?? this.drivers.byOui(mac)[0];
    const what = ui ? `${ui.vendor} ${ui.model}${ui.firmware ? `, firmware ${ui.firmware}` : ''}` : driver ? `a ${driver.vendor} MAC; no user agent it recognised` : 'model not recognised';
    const ext = await this.store.nextExtension();
    const command = provisionCommand(mac, driver?.id, ext);
    // Where the platform has buttons, one runs the command as given, as whoever presses it (a guessed model
    // only: a placeholder model is for typing). The text keeps the command for copying everywhere.
    // Single use: a second press would provision it again with a new generated password.
    const buttons = driver ? [{ label: `Provision as ${driver.label}, ext ${ext}`, command, once: true }] : undefined;
    await this.announce(null, {
      text: `❓ Unknown phone ${fmtMac(mac)} (${what}) asked for ${file} from ${ip} and was refused. To provision it, run:\n${command}\n(password=auto generates its SIP password and sends it to whoever runs it, privately; change ext= if your dial plan says otherwise)`,
      ...(buttons ? { buttons } : {}),
    });
  }

  /** In the provisioning thread when there is one (else its channel), or the configured targets. */
  private async announce(target: Target | null, message: string | OutMessage): Promise<void> {
    const msg = typeof message === 'string' ? { text: message } : message;
    const targets = target ? [`${target.platform}:${target.channel}`] : this.cfg.announce.targets;
    try {
      if (target?.thread) {
        try {
          await this.app.notifier.send(target, msg);
          return;
        } catch (err) {
          this.app.log.warn({ err: String(err) }, 'fetch announcement to the thread failed; trying the channel');
        }
      }
      await this.app.notifier.notify(targets.length ? targets : undefined, msg);
    } catch (err) {
      this.app.log.error({ err: String(err) }, 'could not post a fetch announcement');
    }
  }

  /** Write the fetches recorded since the last flush. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = [...this.pending.entries()];
    this.pending.clear();
    if (batch.length) await this.store.writeFetches(batch);
  }

  /** Whatever was decided or posted in the background, finished. */
  async settle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  async stop(): Promise<void> {
    await this.settle();
    await this.flush();
  }

  /** A removed phone: its pending fetch is not written. */
  forget(mac: string): void {
    this.pending.delete(mac);
  }
}

/** The command that provisions an unknown phone as given (a placeholder model when none was recognised). */
export function provisionCommand(mac: string, model: string | undefined, ext: string): string {
  return `provision ${model ?? '<model>'} mac=${fmtMac(mac)} ext=${ext} password=auto`;
}
