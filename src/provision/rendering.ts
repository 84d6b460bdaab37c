// Rendering and versions: the site-wide settings every phone gets (URL, NTP, zone, admin password, driver
// options), a phone rendered through its driver, and the version rule: a phone is rendered at its stored
// version, and only when the bytes differ from the stored digest does its version rise by one. The inputs are
// the phone's row and the config alone (the base URL too), so `start`, `exec` and every replica render the
// same bytes for an unchanged phone. The overrides that apply to a phone are part of its row (see overrides.ts)
// and are set over the driver's output by the driver's override style.
import crypto from 'node:crypto';
import type { App } from '../app-types.js';
import type { DriverSet } from './drivers.js';
import type { Phone, PhoneDriver, ProvisionSettings, RenderedFile } from '../../drivers/phones/contract.js';
import type { ProvisionConfig } from './config.js';
import type { PhoneRecord } from './phone-store.js';
import { OVERRIDES_KEY, unpackOverrides } from './overrides.js';

/** Key in a phone's stored extra values holding the firmware URL of the wave that includes it. */
export const FIRMWARE_KEY = '_firmware';

export const digestOf = (files: RenderedFile[]): string =>
  crypto
    .createHash('sha256')
    .update(files.map((f) => `${f.name}\0${f.body}`).join('\0\0'))
    .digest('hex');

/** Standard-time UTC offset of an IANA zone in minutes (the smaller of January's and July's). */
export function standardOffsetMinutes(zone: string, year = new Date().getUTCFullYear()): number {
  const off = (d: Date) => {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(d);
    const tz = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(tz);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) : 0;
  };
  return Math.min(off(new Date(Date.UTC(year, 0, 15))), off(new Date(Date.UTC(year, 6, 15))));
}

/** The driver's view of a stored phone. */
export function phoneOf(rec: Omit<PhoneRecord, 'token'> | PhoneRecord, password: string): Phone {
  return {
    mac: rec.mac,
    model: rec.model,
    extension: rec.extension,
    name: rec.name,
    authUser: rec.authUser,
    password,
    server: rec.server,
    port: rec.port,
    line: rec.line,
    room: rec.room ?? undefined,
    extra: rec.extra,
  };
}

/** A phone's files at the version they are served as. */
export interface Rendition {
  files: RenderedFile[];
  version: number;
  digest: string;
  /** True when the content differs from the stored digest (so the version was raised). */
  changed: boolean;
}

export class Renderer {
  readonly timezone: string;
  private offset: number;
  private adminPassword: string | undefined;

  constructor(
    private app: App,
    private cfg: ProvisionConfig,
    drivers: DriverSet,
  ) {
    this.timezone = cfg.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
    try {
      this.offset = standardOffsetMinutes(this.timezone);
    } catch {
      throw new Error(`config key "provision.timezone" has value "${this.timezone}": must be an IANA time zone such as America/Sao_Paulo`);
    }
    for (const d of drivers.list) if (cfg.drivers[d.id] && d.optionsSchema) validateOptions(d, cfg.drivers[d.id]!);
    for (const k of Object.keys(cfg.drivers)) if (!drivers.get(k)) throw new Error(`config key "provision.drivers.${k}" names no phone driver (known: ${drivers.names()})`);
  }

  /** Set once at init, from config or the store (see admin-password.ts). */
  setAdminPassword(pw: string): void {
    this.adminPassword = pw;
  }

  /** URL of the provisioning root as phones reach it, from config alone. */
  rootUrl(): string {
    return this.cfg.url ?? `${this.app.baseUrl().replace(/\/+$/, '')}/provision/`;
  }

  configUrl(token: string): string {
    return this.cfg.tokenUrls ? `${this.rootUrl()}t/${token}/` : this.rootUrl();
  }

  settings(driver: PhoneDriver, token: string, version: number): ProvisionSettings {
    if (this.adminPassword === undefined) throw new Error('provisioning is not initialised: no phone admin password yet');
    return {
      configUrl: this.configUrl(token),
      auth: this.cfg.auth ? { ...this.cfg.auth } : undefined,
      ntpServer: this.cfg.ntpServer,
      timezone: this.timezone,
      utcOffsetMinutes: this.offset,
      adminPassword: this.adminPassword,
      version,
      options: { ...(this.cfg.drivers[driver.id] ?? {}) },
    };
  }

  render(driver: PhoneDriver, phone: Phone, token: string, version: number): RenderedFile[] {
    const { [FIRMWARE_KEY]: firmwareUrl, [OVERRIDES_KEY]: overrides, ...extra } = phone.extra;
    const settings = this.settings(driver, token, version);
    if (firmwareUrl) settings.firmwareUrl = firmwareUrl;
    const files = driver.render({ ...phone, extra }, settings);
    const list = overrides && driver.overrides ? unpackOverrides(overrides, this.app.sealer) : [];
    return list.length
      ? driver.overrides!.apply(
          files,
          list.map(({ key, value }) => ({ key, value })),
          settings,
        )
      : files;
  }

  /** The admin password and basic-auth password phones get: masked wherever a rendered file is shown. */
  siteSecrets(): string[] {
    return [this.adminPassword, this.cfg.auth?.password].filter((x): x is string => !!x);
  }

  /**
   * Rendered at `version`; if that is not what `digest` says was served, one version higher (a phone applies
   * a file only when its version is higher). With no stored digest (a new phone) it stays at `version`.
   */
  versioned(driver: PhoneDriver, phone: Phone, token: string, version: number, digest: string | null): Rendition {
    const files = this.render(driver, phone, token, version);
    const d = digestOf(files);
    if (digest === null || d === digest) return { files, version, digest: d, changed: false };
    const next = this.render(driver, phone, token, version + 1);
    return { files: next, version: version + 1, digest: digestOf(next), changed: true };
  }
}

function validateOptions(d: PhoneDriver, opts: Record<string, unknown>): void {
  const props = (d.optionsSchema?.properties ?? {}) as Record<string, { enum?: unknown[]; type?: string }>;
  for (const [k, v] of Object.entries(opts)) {
    const p = props[k];
    if (!p) throw new Error(`config key "provision.drivers.${d.id}.${k}" is not known (known: ${Object.keys(props).join(', ') || 'none'})`);
    if (p.enum && !p.enum.includes(v)) throw new Error(`config key "provision.drivers.${d.id}.${k}" has value ${JSON.stringify(v)}: must be one of ${p.enum.map((x) => JSON.stringify(x)).join(', ')}`);
  }
}
