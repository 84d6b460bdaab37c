// `doctor` (admin): the same checks as `switchboard doctor`, run by the process that got the command, against
// its own config and store. Fails (exit 1 from exec) when a row fails; warnings alone pass.
import type { Command } from '../src/app-types.js';
import { UserError } from '../src/core/command.js';
import { doctorExitCode, formatDoctor, runDoctor } from '../src/doctor/doctor.js';

export const commands: Command[] = [
  {
    name: 'doctor',
    usage: 'doctor',
    example: 'doctor',
    summary: 'check this install: config, store, public URL, chat tokens and allow-lists, DHCP/proxy checkers or apply agents, SMTP, data dir, secrets files',
    role: 'admin',
    async run(ctx) {
      const rows = await runDoctor({ loadConfig: () => ctx.app.config, db: ctx.app.db, store: ctx.app.store, configFile: process.env.SWITCHBOARD_CONFIG });
      const text = '```\n' + formatDoctor(rows) + '\n```';
      if (doctorExitCode(rows)) throw new UserError(text);
      return text;
    },
  },
];
