// The Kysely values the store uses, in one place. `npm run build` replaces this module's compiled file with a
// single-file bundle of them (src/build/bundle-kysely.ts): Kysely ships as ~290 small ES modules, and
// resolving and compiling them was about a fifth of `switchboard start`'s time to /healthz. Code outside the
// store imports Kysely's values from here (types may come from 'kysely' directly: they leave no code).
export { CreateIndexNode, CreateTableNode, Kysely, Migrator, MysqlDialect, SqliteDialect, sql } from 'kysely';
