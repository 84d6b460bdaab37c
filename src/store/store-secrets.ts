// Secrets that every process on the store needs (the phones' admin password, the renewal SSH key), kept in the
// store sealed with the store key (SWITCHBOARD_PROVISION_KEY, or <dataDir>/provision.key for a single server).
// A marker sealed with that key proves a process holds the same key as the one that first used the store: a
// process with another key refuses to start with a message that names the key and the fix, instead of serving
// a 404 for every phone or rendering a different admin password.
import crypto from 'node:crypto';
import type { DB } from './db.js';
import { isUniqueViolation } from './db.js';
import type { Sealer } from './sealer.js';

declare module './db.js' {
  interface Tables {
    store_secrets: { name: string; sealed: string; created_at: number };
  }
}

const CHECK = 'store-key-check';
const CHECK_TEXT = 'switchboard store key';

export class StoreKeyMismatch extends Error {}

export class StoreSecrets {
  private constructor(
    private db: DB,
    private sealer: Sealer,
  ) {}

  /** Opens the store's secrets with this key (writing the key marker on first use); throws StoreKeyMismatch when the key is not the store's. */
  static async open(db: DB, sealer: Sealer): Promise<StoreSecrets> {
    const s = new StoreSecrets(db, sealer);
    const marker = await s.insertOrRead(CHECK, () => CHECK_TEXT);
    if (marker === null) {
      throw new StoreKeyMismatch(
        `the store key from ${sealer.source} does not open this store's secrets: the store was first used with another key. ` +
          "Every process on one store needs the same key: copy the first replica's provision.key (or its SWITCHBOARD_PROVISION_KEY) to this one, then start again",
      );
    }
    return s;
  }

  /** The secret `name`, created with `make()` by the first process that asks (all others then read that one). */
  async getOrCreate(name: string, make: () => string = () => crypto.randomBytes(12).toString('base64url')): Promise<string> {
    const v = await this.insertOrRead(name, make);
    if (v === null) throw new StoreKeyMismatch(`the store secret "${name}" cannot be opened with the store key from ${this.sealer.source}`);
    return v;
  }

  async get(name: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('store_secrets').select('sealed').where('name', '=', name).executeTakeFirst();
    return row ? this.sealer.open(row.sealed) : undefined;
  }

  /** Inserts `make()` unless a row exists; returns the stored value, or null when this key cannot open it. */
  private async insertOrRead(name: string, make: () => string): Promise<string | null> {
    const row = await this.db.selectFrom('store_secrets').select('sealed').where('name', '=', name).executeTakeFirst();
    if (!row) {
      const value = make();
      try {
        await this.db
          .insertInto('store_secrets')
          .values({ name, sealed: this.sealer.seal(value), created_at: Date.now() })
          .execute();
        return value;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        return this.insertOrRead(name, make);
      }
    }
    try {
      return this.sealer.open(row.sealed);
    } catch {
      return null;
    }
  }
}
