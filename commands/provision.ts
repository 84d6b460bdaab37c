// `provision <model>`: phones from an attached sheet (run as a job, all rows or none) or one phone inline.
// The other `provision …` commands: provision-phones.ts (list, show, rm, …), provision-notify.ts (resync, reboot).
import crypto from 'node:crypto';
import type { Command, CommandContext, JobContext, JobKind } from '../src/app-types.js';
import { UserError, UsageError } from '../src/core/command.js';
import type { SbCode } from '../src/util/errors.js';
import { table } from '../src/core/format.js';
import { readSheet, SheetError } from '../src/util/sheet.js';
import { AttachmentError, readAttachment } from '../src/core/attachment.js';
import { safeCsv } from '../src/util/csv.js';
import type { IncomingFile } from '../src/core/types.js';
import { COMMON_COLUMNS, draftFromCells, draftsFromSheet, formatProblems, type PhoneDraft, type RowProblem } from '../src/provision/rows.js';
import { fmtMac } from '../src/util/mac.js';
import type { BatchOutcome, ProvisionService } from '../src/provision/service.js';

const svc = (ctx: { app: CommandContext['app'] }) => ctx.app.services.provision as ProvisionService;
const by = (ctx: CommandContext) => `${ctx.caller.platform}:${ctx.caller.id}`;

/** Drafts travel in job arguments with the password sealed. */
type SealedDraft = Omit<PhoneDraft, 'driver' | 'password'> & { model: string; sealed: string };

function seal(s: ProvisionService, d: PhoneDraft): SealedDraft {
  const { driver, password, sealed: _s, ...rest } = d;
  return { ...rest, model: driver.id, sealed: s.sealer.seal(password) };
}

function unseal(s: ProvisionService, d: SealedDraft): PhoneDraft {
  const { model, sealed, ...rest } = d;
  const driver = s.drivers.get(model);
  if (!driver) throw new UserError(`row ${d.row}: the ${model} driver is no longer installed`);
  return { ...rest, driver, password: s.sealer.open(sealed), sealed };
}

function resultText(out: BatchOutcome, opts: { dryRun?: boolean; file?: string; ignored?: string[]; s: ProvisionService; loopback?: string }): { text: string; csv?: string } {
  const n = (a: string) => out.results.filter((r) => r.action === a).length;
  const models = [...new Set(out.results.map((r) => opts.s.label(r)))].join(', ');
  const head =
    `${opts.dryRun ? 'Dry run, nothing written' : 'Provisioned'}: ${out.results.length} phone${out.results.length === 1 ? '' : 's'} (${models || 'none'}) from ${opts.file ?? 'the command'}: ${n('added')} new, ${n('updated')} updated, ${n('unchanged')} unchanged` +
    (out.dhcp.added + out.dhcp.changed ? `; DHCP reservations: ${opts.dryRun ? `${out.dhcp.added} to write` : `${out.dhcp.added} added, ${out.dhcp.changed} changed`}` : '') +
    '.';
  const rows = out.results.map((r) => [String(r.row), fmtMac(r.mac), r.extension, r.name, r.room ?? '', r.ip ?? '', r.files.join(' '), String(r.version), r.action]);
  const head2 = ['row', 'mac', 'ext', 'name', 'room', 'ip', 'file', 'v', 'result'];
  const shown = rows.slice(0, 50);
  const notes: string[] = [];
  if (out.warnings?.length) notes.push(...out.warnings.slice(0, 20).map((w) => `⚠ ${w}`), ...(out.warnings.length > 20 ? [`⚠ … ${out.warnings.length - 20} more`] : []));
  if (opts.ignored?.length) notes.push(`Ignored column${opts.ignored.length > 1 ? 's' : ''}: ${opts.ignored.join(', ')}.`);
  if (opts.loopback) notes.push(opts.loopback);
  const text = [head, table(head2, shown), ...(rows.length > shown.length ? [`… ${rows.length - shown.length} more rows in the attached CSV.`] : []), ...notes].join('\n');
  const csv = rows.length > shown.length ? safeCsv([head2, ...rows]) : undefined;
  return { text, csv };
}

/** Problems listed in a message; past this many, every one of them goes into an attached CSV as well. */
const SHOWN_PROBLEMS = 50;
const PROBLEMS_CSV = 'provision-problems.csv';

/** Every bad row (number, field, reason) as a CSV a spreadsheet opens safely. Reasons never carry a password. */
export function problemsCsv(problems: RowProblem[]): string {
  return safeCsv([['row', 'field', 'reason'], ...problems.map((p) => [p.row, p.field ?? '', p.message])]);
}

function failure(problems: RowProblem[], file: string | undefined, note?: string): UserError {
  const more = problems.length > SHOWN_PROBLEMS ? ` in the attached ${PROBLEMS_CSV}, which lists every one` : '';
  return new UserError(
    `Nothing provisioned: ${problems.length} problem${problems.length === 1 ? '' : 's'}${file ? ` in ${file}` : ''}:\n${formatProblems(problems, SHOWN_PROBLEMS, more)}${note ? `\n${note}` : ''}`,
  );
}

type Removal = 'removed' | 'kept' | undefined;

/** Remove the upload from the chat (it holds SIP passwords in clear) where the platform keeps a copy. */
async function discardUpload(file: IncomingFile): Promise<Removal> {
  if (!file.discard) return undefined;
  try {
    return (await file.discard()) ? 'removed' : 'kept';
  } catch {
    return 'kept';
  }
}

function removalNote(r: Removal, name: string): string | undefined {
  if (r === 'removed') return `${name} was removed from the channel (it holds SIP passwords).`;
  if (r === 'kept') return `⚠ ${name} could not be removed from the channel: delete it by hand, it holds SIP passwords.`;
  return undefined;
}

const mb = (n: number) => (n / 1048576).toFixed(1);

type Batch = { drafts: SealedDraft[]; problems: RowProblem[]; ignored: string[] };
type BatchArgs = { rows: number; file?: string; dryRun?: boolean; upload?: Removal };

async function runBatch(ctx: JobContext, s: ProvisionService, a: BatchArgs & { batch: number }, b: Batch) {
  const total = a.rows;
  ctx.progress(0, total, `0/${total} rows validated`);
  const drafts = b.drafts.map((d) => unseal(s, d));
  // Rows the sheet reader or the row checks already refused count as validated too.
  const bad = total - drafts.length;
  const validated = `${total}/${total} rows validated`;
  const note = removalNote(a.upload, a.file ?? 'the sheet');
  // Asked once, before the store transaction (the note claims its hourly slot in the store).
  const loopback = await s.loopbackNote(ctx.target);
  const report = (out: BatchOutcome) => {
    const { text, csv } = resultText(out, { dryRun: a.dryRun, file: a.file, ignored: b.ignored, s, loopback });
    return {
      text: note ? `${text}\n${note}` : text,
      files: csv ? [{ name: 'provisioned.csv', title: 'the result for each phone', data: Buffer.from(csv), mime: 'text/csv' }] : undefined,
      data: { phones: out.results.length, dhcp: out.dhcp },
    };
  };
  const out = await s.provision(drafts, {
    by: `${ctx.requester.platform}:${ctx.requester.userId}`,
    target: ctx.target,
    dryRun: a.dryRun || b.problems.length > 0,
    onValidated: (i) => ctx.progress(bad + i, total, `${bad + i}/${total} rows validated`),
    // Counted against the files to write (a phone may have several, an unchanged phone none).
    onWritten: (i, files) => ctx.progress(i, files, `${validated}, ${i}/${files} files written`),
    // In the transaction that stores the phones: the batch (sealed passwords) goes, and the result stands.
    onStored: async (tx, stored) => {
      await s.pending.drop(a.batch, tx);
      await ctx.committed(report(stored), tx);
    },
  });
  const problems = [...b.problems, ...out.problems].sort((x, y) => x.row - y.row);
  if (problems.length) {
    if (problems.length > SHOWN_PROBLEMS) {
      try {
        await ctx.post({
          text: `Job #${ctx.id}: all ${problems.length} problems in ${a.file ?? 'the sheet'}`,
          files: [{ name: PROBLEMS_CSV, data: Buffer.from(problemsCsv(problems)), mime: 'text/csv' }],
        });
      } catch (err) {
        ctx.log.warn({ err: String(err) }, 'could not upload the list of problems');
      }
    }
    throw failure(problems, a.file, note);
  }
  return report(out);
}

export const jobKinds: Record<string, JobKind> = {
  provision: {
    title: (a: { rows: number; file?: string; dryRun?: boolean }) => `provision ${a.rows} row${a.rows === 1 ? '' : 's'}${a.file ? ` from ${a.file}` : ''}${a.dryRun ? ' (dry run)' : ''}`,
    async run(ctx) {
      const a = ctx.args as BatchArgs & { batch: number };
      const s = svc(ctx);
      const batch = await s.pending.load<Batch>(a.batch);
      if (!batch) throw new UserError('the validated rows of this job are gone (it was interrupted); send the sheet again');
      try {
        return await runBatch(ctx, s, a, batch);
      } finally {
        await s.pending.drop(a.batch);
      }
    },
  },
};

/** 20 letters and digits (about 119 bits): every driver's format carries them as they are. */
function generatePassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  return Array.from({ length: 20 }, () => alphabet[crypto.randomInt(alphabet.length)]).join('');
}

const INLINE_KEYS = new Set(['mac', 'ext', 'extension', 'ramal', 'name', 'nome', 'password', 'senha', 'ip', 'server', 'servidor', 'room', 'sala', 'line', 'port', 'auth_user']);
const ALIAS: Record<string, string> = { ext: 'extension', ramal: 'extension', nome: 'name', senha: 'password', servidor: 'server', sala: 'room' };
export const commands: Command[] = [
  {
    name: 'provision',
    usage: 'provision <model> [--dry-run]  (attach a CSV/XLSX)   or   provision <model> mac=… ext=… password=… [name="…"] [ip=<ip|auto>] [server=…] [room=…] [line=N]',
    example: 'provision fanvil mac=0c:38:3e:12:34:56 ext=202 password=Desk-202-pass name="Back office" --dry-run',
    summary: 'provision phones from an attached sheet, or one phone inline',
    details:
      'Columns (English or Portuguese): ' +
      COMMON_COLUMNS.map((c) => `${c.aliases.slice(0, 3).join('|')}${c.required ? '' : '?'}`).join(', ') +
      '. Every row is checked first; the job provisions all rows or none. A row with ip (or ip=auto) also gets a DHCP reservation carrying the provisioning URL as option 66. `provision models` lists the models.',
    role: 'operator',
    args: {
      positional: [{ name: 'model', description: 'driver id or alias (see provision models); optional when the sheet has a model column' }],
      named: { password: { type: 'string', secret: true }, senha: { type: 'string', secret: true } },
      flags: { 'dry-run': { description: 'check everything and show what would happen, write nothing' } },
      allowUnknownNamed: true,
    },
    async run(ctx, args) {
      const s = svc(ctx);
      const modelName = args.model === undefined ? undefined : String(args.model);
      const driver = modelName ? s.drivers.find(modelName) : undefined;
      if (modelName && !driver) throw new UsageError(`unknown model "${modelName}"; known: ${s.drivers.list.map((d) => `${d.id} (${d.label})`).join(', ')}`, undefined, 'SB_PROVISION_MODEL_UNKNOWN');
      const named = Object.fromEntries(Object.entries(args).filter(([k]) => k !== 'flags' && k !== 'model'));
      const unknown = Object.keys(named).filter((k) => !INLINE_KEYS.has(k) && !s.drivers.list.some((d) => d.columns.some((c) => c.name === k)));
      if (unknown.length) throw new UsageError(`unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
      const dryRun = !!args.flags['dry-run'];
      const defaults = { driver, server: s.cfg.defaultServer, port: s.cfg.sipPort };
      const file = ctx.incoming.files[0];

      if (!file) {
        if (!Object.keys(named).length) throw new UsageError('attach a CSV or XLSX sheet of phones, or give one phone as mac=… ext=… password=…');
        if (!driver) throw new UsageError('name the model: provision <model> mac=… ext=… password=…');
        const cells: Record<string, string> = {};
        for (const [k, v] of Object.entries(named)) cells[ALIAS[k] ?? k] = String(v);
        // password=auto (the command an unknown-phone announcement offers): a generated SIP password, told
        // to the requester privately once provisioned; never in the channel.
        const generated = cells.password?.toLowerCase() === 'auto' ? generatePassword() : undefined;
        if (generated) cells.password = generated;
        const { draft, problems } = draftFromCells(1, cells, s.drivers, defaults);
        if (!draft) throw new UserError(`Not provisioned:\n${problems.map((p) => `• ${p.field ? `${p.field}: ` : ''}${p.message}`).join('\n')}`);
        const out = await s.provision([draft], { by: by(ctx), target: { platform: ctx.incoming.platform, channel: ctx.incoming.channel, thread: ctx.incoming.thread }, dryRun });
        if (!out.ok) throw new UserError(`Not provisioned:\n${out.problems.map((p) => `• ${p.field ? `${p.field}: ` : ''}${p.message}`).join('\n')}`);
        const text = resultText(out, { dryRun, s, loopback: await s.loopbackNote(ctx.incoming) }).text;
        if (!generated || dryRun) return text;
        await ctx.dm({ text: `SIP password generated for ${fmtMac(draft.mac)} (ext ${draft.extension}), to set on the registrar:\n\`\`\`\n${generated}\n\`\`\`` }, { secret: true });
        return `${text}\nIts SIP password was generated and sent to you in a direct message.`;
      }

      if (Object.keys(named).length) throw new UsageError('give either an attached sheet or one phone inline, not both');
      // The upload is read into memory once and never written anywhere: only the sealed rows go on. The
      // chat's copy holds the passwords in clear, so it goes too, whatever the sheet holds or whether it
      // could be read at all (dry runs as well: the real run needs the sheet attached again anyway).
      const refuse = async (why: string, code: SbCode) => {
        const gone = removalNote(await discardUpload(file), file.name);
        return new UserError(`Nothing provisioned: ${why}${gone ? `\n${gone}` : ''}`, code);
      };
      // The platform tells the size: do not download a file that is too big to be read anyway.
      if (file.size !== undefined && file.size > s.cfg.maxSheetBytes) throw await refuse(`${file.name} is ${mb(file.size)} MB; the limit is ${mb(s.cfg.maxSheetBytes)} MB.`, 'SB_ATTACHMENT_TOO_LARGE');
      let data: Buffer;
      try {
        data = await readAttachment(file, s.cfg.maxSheetBytes);
      } catch (err) {
        // A download failure ends with the platform's own words; our sentences get their full stop.
        const why = err instanceof AttachmentError ? err.message : `cannot download ${file.name}: ${(err as Error).message}`;
        throw await refuse(/^cannot download /.test(why) ? why : `${why}.`, err instanceof AttachmentError ? err.code : 'SB_ATTACHMENT_UNREADABLE');
      }
      const upload = await discardUpload(file);
      const note = removalNote(upload, file.name);
      let sheet;
      try {
        sheet = await readSheet(data, file.name, { maxBytes: s.cfg.maxSheetBytes, maxRows: s.cfg.maxRows });
      } catch (err) {
        const why = err instanceof SheetError ? `${err.message}.` : `cannot read ${file.name}: ${(err as Error).message}`;
        throw new UserError(`Nothing provisioned: ${why}${note ? `\n${note}` : ''}`, 'SB_SHEET_BAD_ROW');
      }
      const { drafts, problems, ignored } = draftsFromSheet(sheet, s.drivers, defaults);
      if (problems.some((p) => p.row === 1 && !p.field)) throw failure(problems, file.name, note);
      const batch: Batch = { drafts: drafts.map((d) => seal(s, d)), problems, ignored };
      const jobArgs: BatchArgs & { batch: number } = { batch: await s.pending.save(batch), rows: sheet.rows.length, file: file.name, dryRun, upload };
      await ctx.startJob('provision', jobArgs, { total: sheet.rows.length, note: 'queued' });
    },
  },
];
