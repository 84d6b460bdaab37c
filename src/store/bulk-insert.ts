// Many rows into one table, fast on both engines: on SQLite one cached prepared statement run per row in a
// single transaction (no statement with thousands of placeholders compiled per batch); on MySQL/MariaDB
// multi-row INSERTs of 500 rows.
import type { Store, Tables } from './db.js';

export type BulkInsert<R> = (rows: R[]) => Promise<void>;

export function bulkInserter<T extends keyof Tables & string, R extends Record<string, unknown>>(store: Store, table: T, columns: (keyof R & string)[]): BulkInsert<R> {
  const sqlite = store.sqlite;
  if (sqlite) {
    const st = sqlite.prepare(`insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map(() => '?').join(', ')})`);
    const tx = sqlite.transaction((rows: R[]) => {
      for (const r of rows) st.run(columns.map((c) => r[c] as unknown));
    });
    return async (rows) => {
      tx(rows);
    };
  }
  return async (rows) => {
    for (let i = 0; i < rows.length; i += 500) await store.db.insertInto(table).values(rows.slice(i, i + 500) as never).execute();
  };
}
