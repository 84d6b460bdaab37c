// Many rows into one table, fast on both engines: on SQLite one cached prepared statement run per row in a
// single transaction (no statement with thousands of placeholders compiled per batch); on MySQL/MariaDB
// multi-row INSERTs of 500 rows.
import type { Store, Tables } from './db.js';

export type BulkInsert<R> = (rows: R[]) => Promise<void>;

export function bulkInserter<T extends keyof Tables & string, R extends Record<string, unknown>>(store: Store, table: T, columns: (keyof R & string)[]): BulkInsert<R> {
  const perRow = sqliteRowInserter<R>(store, table, columns);
  if (perRow && store.sqlite) {
    const tx = store.sqlite.transaction(perRow);
    return async (rows) => {
      tx(rows);
    };
  }
  return async (rows) => {
    for (let i = 0; i < rows.length; i += 500)
      await store.db
        .insertInto(table)
        .values(rows.slice(i, i + 500) as never)
        .execute();
  };
}

/**
 * SQLite only: a cached prepared single-row insert run once per row, for use inside a transaction that is
 * already open (e.g. Kysely's, on the same connection). Null on MySQL/MariaDB, where multi-row INSERTs win.
 */
export function sqliteRowInserter<R extends Record<string, unknown>>(store: Store, table: keyof Tables & string, columns: (keyof R & string)[]): ((rows: R[]) => void) | null {
  const sqlite = store.sqlite;
  if (!sqlite) return null;
  const st = sqlite.prepare(`insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map(() => '?').join(', ')})`);
  return (rows) => {
    for (const r of rows) st.run(columns.map((c) => r[c] as unknown));
  };
}
