// Phone model drivers: every drivers/phones/*.{ts,js} module exporting `driver`. Adding a model is one file.
import { fileURLToPath } from 'node:url';
import type { PhoneDriver, UserAgentInfo } from '../../drivers/phones/contract.js';
import { importPlugins } from '../util/plugin-dir.js';

export const PHONE_DRIVERS_DIR = fileURLToPath(new URL('../../drivers/phones/', import.meta.url));
/** Modules of drivers/phones/ that are not drivers: the contract and the pieces drivers share (so are `_*` ones). */
export const NOT_DRIVERS = ['contract', 'override-styles', 'util'];

export class DriverSet {
  private byKey = new Map<string, PhoneDriver>();
  constructor(public readonly list: PhoneDriver[]) {
    for (const d of list) {
      for (const k of [d.id, d.label, ...d.aliases].map(norm)) {
        const other = this.byKey.get(k);
        if (other && other !== d) throw new Error(`phone drivers ${other.id} and ${d.id} both answer to "${k}"`);
        this.byKey.set(k, d);
      }
    }
  }

  static async load(dir = PHONE_DRIVERS_DIR): Promise<DriverSet> {
    const list: PhoneDriver[] = [];
    for (const { mod } of await importPlugins<{ driver?: PhoneDriver }>(dir, { skip: NOT_DRIVERS, what: 'phone driver' })) if (mod.driver) list.push(mod.driver);
    return new DriverSet(list);
  }

  /** By id, label or alias, ignoring case, spaces, dashes and underscores. */
  find(name: string): PhoneDriver | undefined {
    return this.byKey.get(norm(name));
  }

  get(id: string): PhoneDriver | undefined {
    return this.list.find((d) => d.id === id);
  }

  byOui(macHex12: string): PhoneDriver[] {
    return this.list.filter((d) => d.ouis.includes(macHex12.slice(0, 6)));
  }

  parseUserAgent(ua: string): (UserAgentInfo & { driver: PhoneDriver }) | null {
    for (const d of this.list) {
      const info = d.parseUserAgent(ua);
      if (info) return { ...info, driver: d };
    }
    return null;
  }

  names(): string {
    return this.list.map((d) => d.id).join(', ');
  }
}

function norm(s: string): string {
  return s.toLowerCase().replace(/[\s_-]+/g, '');
}
