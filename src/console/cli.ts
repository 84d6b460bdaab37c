// `switchboard console-user`: add a web-console login, or reset its password, straight in the store (the
// console feature's `Feature.cli`). Only a type import of commander: the app loads this file, not only the CLI.
import fs from 'node:fs';
import os from 'node:os';
import type { Command as CliProgram } from 'commander';
import type { CliHelpers } from '../app-types.js';
import { openStore } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { ConsoleAuth, randomPassword } from './auth.js';

export function consoleCli(program: CliProgram, helpers: CliHelpers): void {
  program
    .command('console-user')
    .description('add a web-console login, or reset its password (prompts; or --password-file, or a generated one)')
    .argument('<username>')
    .option('-c, --config <path>', 'config file')
    .option('--password-file <path>', 'read the password from a file')
    .option('--reset', 'reset an existing user (default: create; fails if it exists)')
    .addOption(program.createOption('--role <role>', 'role of this console user').choices(['viewer', 'operator', 'admin']).default('viewer'))
    .action(async (username: string, o: { config?: string; passwordFile?: string; reset?: boolean; role: 'viewer' | 'operator' | 'admin' }) => {
      try {
        const cfg = helpers.loadConfig(o);
        const store = openStore({ databaseUrl: cfg.databaseUrl, sqlitePath: `${cfg.dataDir}/switchboard.sqlite`, writeTo: cfg.database.writeTo });
        await migrateToLatest(store);
        const auth = new ConsoleAuth(store.db, { lockoutFailures: cfg.console.lockoutFailures, lockoutMinutes: cfg.console.lockoutMinutes, sessionHours: cfg.console.sessionHours });
        const exists = await auth.exists(username);
        if (exists && !o.reset) throw new Error(`console user ${username} exists; use --reset to set a new password`);
        if (!exists && o.reset) throw new Error(`console user ${username} does not exist`);
        let pw = o.passwordFile ? fs.readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '') : '';
        const generated = !pw;
        if (generated) pw = randomPassword();
        if (pw.length < 8) throw new Error('the password must have at least 8 characters');
        const r = await auth.setUser(username, pw);
        const { Roles } = await import('../core/roles.js');
        await new Roles(store.db, { admins: [], defaultRole: 'none' }).grant('console', username, o.role, `cli:${os.userInfo().username}`);
        await store.close();
        process.stdout.write(`console user ${username} ${r} (role ${o.role})${generated ? `; password: ${pw}` : ''}\n`);
      } catch (e) {
        process.stderr.write(`switchboard: ${(e as Error)?.message ?? String(e)}\n`);
        process.exit(1);
      }
    });
}
