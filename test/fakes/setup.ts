// Test-only commands and an app wired to the protocol fakes.
import { parse } from 'csv-parse/sync';
import { UserError, type Command } from '../../src/core/command.js';
import type { RunningApp } from '../../src/app.js';

/** The import command the CSV tests run: the real DHCP import, as a dry run, on the subnet below. */
export const IMPORT_LINE = 'dhcp import --dry-run';
export const IMPORT_REPLY = /Dry run, nothing written: 3 added, 0 changed, 0 unchanged\.\nadded: desk-1 10\.0\.0\.11, desk-2 10\.0\.0\.12, desk-3 10\.0\.0\.13/;
export const DHCP_SUBNETS = [{ cidr: '10.0.0.0/24', pool: '10.0.0.100-10.0.0.200' }];
export const CSV = Buffer.from('mac,ip,hostname\n00:11:22:33:44:01,10.0.0.11,desk-1\n00:11:22:33:44:02,10.0.0.12,desk-2\n00:11:22:33:44:03,10.0.0.13,desk-3\n');

export function addTestCommands(app: RunningApp): void {
  const cmds: Command[] = [
    {
      name: 'testimport',
      usage: 'testimport [--dry-run]',
      summary: 'test only: count the rows of the attached CSV',
      role: 'operator',
      args: { flags: { 'dry-run': {} } },
      async run(ctx) {
        const f = ctx.incoming.files[0];
        if (!f) throw new UserError('attach a CSV file');
        const rows = parse(await f.fetch(), { columns: true, skip_empty_lines: true }) as unknown[];
        return `Read ${rows.length} rows from ${f.name}`;
      },
    },
    {
      name: 'testdiscard',
      usage: 'testdiscard',
      summary: 'test only: remove the attached file from the chat',
      role: 'operator',
      async run(ctx) {
        const f = ctx.incoming.files[0];
        if (!f) throw new UserError('attach a file');
        return `discarded ${f.name}: ${f.discard ? await f.discard() : 'unsupported'}`;
      },
    },
    {
      name: 'testfile',
      usage: 'testfile',
      summary: 'test only: reply with a file and an ephemeral note',
      role: 'none',
      async run() {
        return { text: 'here is the report', files: [{ name: 'report.csv', data: Buffer.from('a,b\n1,2\n'), mime: 'text/csv' }] };
      },
    },
    {
      name: 'testsecret',
      usage: 'testsecret',
      summary: 'test only: an ephemeral reply',
      role: 'none',
      async run() {
        return { text: 'only you can see this', ephemeral: true };
      },
    },
    {
      name: 'testlong',
      usage: 'testlong',
      summary: 'test only: a reply longer than every platform limit, with markup',
      role: 'none',
      async run() {
        const lines = Array.from({ length: 300 }, (_, i) => `line ${String(i).padStart(3, '0')} <tag> & "quote" ${'x'.repeat(20)}`);
        return `Long output:\n\`\`\`\n${lines.join('\n')}\n\`\`\``;
      },
    },
  ];
  for (const c of cmds) if (!app.registry.get(c.name)) app.registry.add(c);
}

export async function auditRows(app: RunningApp, platform: string) {
  return app.db.selectFrom('audit_log').selectAll().where('platform', '=', platform).execute();
}
