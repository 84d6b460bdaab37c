// The `switchboard` command: start | exec | migrate | doctor | version (and agent, from monitoring; console-user, from the console).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command as Cli, Option } from 'commander';
import { loadConfig, ConfigError, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';
import { features } from './features.js';
import { createApp } from './app.js';
import { CliAdapter } from './chat/cli-adapter.js';
import { openStore } from './store/db.js';
import { migrateToLatest } from './store/migrate.js';
import { VERSION } from './version.js';
import { StoreKeyMismatch } from './store/store-secrets.js';
import { isStoreUnavailable, storeErrorReason } from './store/store-errors.js';

function config(opts: { config?: string }): Config {
  return loadConfig({ file: opts.config, sections: features.flatMap((f) => (f.config ? [f.config] : [])) });
}

function fail(err: unknown, code = 1): never {
  if (err instanceof ConfigError) process.stderr.write(`switchboard: ${err.message}\n`);
  else process.stderr.write(`switchboard: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(code);
}

/** An argument that carries a secret (`password=…`, or its Portuguese alias `senha=…`). */
const SECRET_ARG = /(^|\s)(password|senha)=/i;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const program = new Cli('switchboard').description('Chat-ops bot for phones, network and PBXs').version(VERSION, '-V, --version').showHelpAfterError().enablePositionalOptions();

program
  .command('start')
  .description('run the bot: HTTP server, web console, chat adapters, schedules')
  .option('-c, --config <path>', 'config file (YAML or JSON); default $SWITCHBOARD_CONFIG')
  .action(async (o: { config?: string }) => {
    let cfg: Config;
    try {
      cfg = config(o);
    } catch (e) {
      fail(e);
    }
    const log = createLogger({ level: cfg.log.level });
    let app;
    try {
      app = await createApp({ mode: 'server', config: cfg, log });
    } catch (e) {
      // A wrong store key is the operator's to fix: the reason, not a stack trace.
      log.fatal(e instanceof StoreKeyMismatch ? { reason: e.message } : { err: e }, 'start-up failed');
      fail(e);
    }
    let url: string;
    try {
      url = await app.listen();
    } catch (e) {
      log.fatal({ err: e }, 'start-up failed');
      await app.close().catch(() => undefined);
      fail(e);
    }
    log.info({ url, store: app.store.describe, version: VERSION }, 'switchboard started');
    const lines = [`Switchboard ${VERSION} is running.`, `Web console: ${url}/console`];
    const generated = app.services.console.generatedAdminPassword;
    if (generated) lines.push(`Console login: admin / ${generated}   (generated once; change it with: switchboard console-user admin --reset)`);
    process.stderr.write(`\n${lines.join('\n')}\n\n`);
    let stopping = false;
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ sig }, 'stopping');
      const t = setTimeout(() => process.exit(1), 10_000);
      t.unref();
      await app.close().catch((err) => log.error({ err }, 'stop failed'));
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  });

program
  .command('exec')
  .passThroughOptions()
  .description('run one command as the local admin and print the reply (exit 0 ok, 1 failed/refused, 2 usage)')
  .argument('<command...>', 'the command line, e.g. "dhcp list room=101"; "-" reads it from standard input (use that for anything with a password)')
  .option('-c, --config <path>', 'config file')
  .option('-f, --file <path>', 'attach a file as if uploaded in chat (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('-y, --yes', 'confirm destructive commands up front')
  .option('-o, --out <dir>', 'save files the bot posts into this directory')
  .addOption(new Option('--as <user>', 'user name recorded in the audit log').default(os.userInfo().username))
  .action(async (words: string[], o: { config?: string; file: string[]; yes?: boolean; out?: string; as: string }) => {
    let cfg: Config;
    try {
      cfg = config(o);
    } catch (e) {
      fail(e, 2);
    }
    let line = words.join(' ');
    if (words.length === 1 && words[0] === '-') {
      // The command line from standard input: a password in it never shows in `ps` or the shell history.
      line = (await readStdin()).replace(/\s+$/, '');
      if (!line.trim()) fail(new Error('exec -: standard input held no command line'), 2);
      if (/[\r\n]/.test(line)) fail(new Error('exec -: give one command line on standard input (it holds several lines)'), 2);
    } else if (SECRET_ARG.test(line)) {
      process.stderr.write(
        "switchboard: warning: a password in the arguments is visible to every user of this machine (ps) while exec runs; give the command line on standard input instead: echo 'provision … password=…' | switchboard exec -\n",
      );
    }
    const files = o.file.map((p) => {
      let st: fs.Stats;
      try {
        st = fs.statSync(p);
      } catch {
        fail(new Error(`cannot read attachment ${p}`), 2);
      }
      if (st.size > cfg.uploads.maxBytes) fail(new Error(`attachment ${p} is ${st.size} bytes; the limit is ${cfg.uploads.maxBytes}`), 1);
      return { name: path.basename(p), size: st.size, fetch: async () => fs.promises.readFile(p) };
    });
    if (o.out) fs.mkdirSync(o.out, { recursive: true });
    const cli = new CliAdapter({
      fileSink: (name, data) => {
        if (!o.out) return `${name} (${data.length} bytes; use --out DIR to save)`;
        const dest = path.join(o.out, path.basename(name));
        fs.writeFileSync(dest, data);
        return dest;
      },
    });
    const log = createLogger({ level: process.env.SWITCHBOARD_LOG_LEVEL ?? 'warn', destination: process.stderr, pretty: false });
    let app;
    try {
      app = await createApp({ mode: 'exec', config: cfg, log, adapters: [cli] });
    } catch (e) {
      fail(e);
    }
    // Whatever the store does meanwhile (a node dies, no host answers), exec ends with a message and exit 1.
    const storeLost = (err: unknown): never => {
      const out = cli.render();
      if (out) process.stdout.write(`${out}\n`);
      const what = isStoreUnavailable(err) ? `the store became unavailable (${storeErrorReason(err)})` : ((err as Error)?.message ?? String(err));
      process.stderr.write(
        `switchboard: ${what}; the command did not finish here${jobIds.length ? ` (job ${jobIds.map((j) => `#${j}`).join(', ')}: a running replica settles it once the store answers; see \`jobs\`)` : ''}\n`,
      );
      process.exit(1);
    };
    const jobIds: number[] = [];
    process.on('unhandledRejection', storeLost);
    let code = 1;
    try {
      const res = await app.dispatcher.handle({ platform: 'cli', channel: 'terminal', user: { id: o.as, name: o.as }, text: line, files }, { confirmed: o.yes === true });
      jobIds.push(...res.jobIds);
      code = res.exitCode;
      if (res.outcome === 'confirm') process.stderr.write('switchboard: this command needs confirmation; run it again with --yes\n');
      for (const id of res.jobIds) {
        const row = await app.jobs.wait(id);
        if (row.status !== 'succeeded') {
          code = Math.max(code, 1);
          // Said on stderr too: a job another process settled (this one lost the store and looked dead) posted nothing here.
          process.stderr.write(`switchboard: job #${id} ${row.status}${row.error ? `: ${row.error}` : ''}\n`);
        }
      }
    } catch (err) {
      storeLost(err);
    }
    const out = cli.render();
    if (out) process.stdout.write(`${out}\n`);
    await app.close().catch(() => undefined);
    process.exit(code);
  });

program
  .command('migrate')
  .description('apply pending store migrations and exit')
  .option('-c, --config <path>', 'config file')
  .action(async (o: { config?: string }) => {
    try {
      const cfg = config(o);
      const store = openStore({ databaseUrl: cfg.databaseUrl, sqlitePath: `${cfg.dataDir}/switchboard.sqlite`, writeTo: cfg.database.writeTo });
      const r = await migrateToLatest(store);
      await store.close();
      process.stdout.write(r.applied.length ? `applied ${r.applied.length} migration(s): ${r.applied.join(', ')}\n` : `store is up to date (${r.total} migrations)\n`);
    } catch (e) {
      fail(e);
    }
  });

program
  .command('doctor')
  .description('check this install and print a table with a fix for each failing row (exit 0: no failure, 1: a check failed)')
  .option('-c, --config <path>', 'config file; default $SWITCHBOARD_CONFIG')
  .action(async (o: { config?: string }) => {
    const { runDoctor, formatDoctor, doctorExitCode } = await import('./doctor/doctor.js');
    const rows = await runDoctor({ loadConfig: () => config(o), configFile: o.config ?? process.env.SWITCHBOARD_CONFIG });
    process.stdout.write(`${formatDoctor(rows)}\n`);
    process.exit(doctorExitCode(rows));
  });

program
  .command('version')
  .description('print the version')
  .action(() => {
    process.stdout.write(`switchboard ${VERSION}\n`);
  });

// Sub-commands the features add (e.g. `switchboard agent` from monitoring, `switchboard console-user` from the console).
for (const f of features) f.cli?.(program, { loadConfig: config, createLogger: (level?: string): Logger => createLogger({ level }) });

program.parseAsync(process.argv).catch((e) => fail(e));
