// `provision …`: phones from a sheet (or one inline), their files, fetch log, re-sync and reboot.
import crypto from 'node:crypto';
import type { Command, CommandContext, JobContext, JobKind } from '../src/app-types.js';
import { UserError, UsageError } from '../src/core/command.js';
import type { SbCode } from '../src/util/errors.js';
import { insertedId } from '../src/store/db.js';
import { ago, table, when } from '../src/core/format.js';
import { readSheet, SheetError } from '../src/util/sheet.js';
import { AttachmentError, readAttachment } from '../src/core/attachment.js';
import { safeCsv } from '../src/util/csv.js';
import type { IncomingFile } from '../src/core/types.js';
import { COMMON_COLUMNS, draftFromCells, draftsFromSheet, formatProblems, type PhoneDraft, type RowProblem } from '../src/provision/rows.js';
import { fmtMac } from '../src/util/mac.js';
import type { BatchOutcome, PhoneRecord, ProvisionService } from '../src/provision/service.js';
import { notifyLine, notifyOne, pool } from '../src/provision/resync.js';
import { structured, tablePart } from '../src/core/message.js';

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
  const head = `${opts.dryRun ? 'Dry run, nothing written' : 'Provisioned'}: ${out.results.length} phone${out.results.length === 1 ? '' : 's'} (${models || 'none'}) from ${opts.file ?? 'the command'}: ${n('added')} new, ${n('updated')} updated, ${n('unchanged')} unchanged` +
    (out.dhcp.added + out.dhcp.changed ? `; DHCP reservations: ${opts.dryRun ? `${out.dhcp.added} to write` : `${out.dhcp.added} added, ${out.dhcp.changed} changed`}` : '') + '.';
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
  return new UserError(`Nothing provisioned: ${problems.length} problem${problems.length === 1 ? '' : 's'}${file ? ` in ${file}` : ''}:\n${formatProblems(problems, SHOWN_PROBLEMS, more)}${note ? `\n${note}` : ''}`);
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

/** A stored phone that is not served because its sealed password cannot be opened, said plainly. */
function unreadableText(s: ProvisionService, u: { rec: PhoneRecord; reason: string }): string {
  return `⚠ ${s.label(u.rec)} ${fmtMac(u.rec.mac)} (ext ${u.rec.extension}): ${u.reason}.`;
}

function needOne(ctx: CommandContext, key: string): PhoneRecord {
  const found = svc(ctx).lookup(key);
  const unreadable = found.length ? [] : svc(ctx).unreadablePhones(key);
  if (unreadable.length) throw new UserError(unreadable.map((u) => unreadableText(svc(ctx), u)).join('\n'));
  if (!found.length) throw new UserError(`No provisioned phone with MAC or extension "${key}".`, 'SB_NOT_FOUND');
  if (found.length > 1) throw new UserError(`Extension ${key} is on ${found.length} phones (${found.map((p) => fmtMac(p.mac)).join(', ')}); name the MAC.`);
  return found[0]!;
}

/** Like needOne, but a phone set aside as unreadable counts too (it can still be removed). */
function needStored(ctx: CommandContext, key: string): PhoneRecord {
  const u = svc(ctx).unreadablePhones(key);
  if (u.length === 1 && !svc(ctx).lookup(key).length) return u[0]!.rec;
  return needOne(ctx, key);
}

function targets(ctx: CommandContext, key: string): PhoneRecord[] {
  if (key === 'all') {
    const all = svc(ctx).all();
    if (!all.length) throw new UserError('No phones are provisioned.');
    return all;
  }
  const found = svc(ctx).lookup(key);
  if (!found.length) throw new UserError(`No provisioned phone with MAC or extension "${key}".`, 'SB_NOT_FOUND');
  return found;
}

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
    return { text: note ? `${text}\n${note}` : text, files: csv ? [{ name: 'provisioned.csv', title: 'the result for each phone', data: Buffer.from(csv), mime: 'text/csv' }] : undefined, data: { phones: out.results.length, dhcp: out.dhcp } };
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
      await tx.deleteFrom('provision_batches').where('id', '=', a.batch).execute();
      await ctx.committed(report(stored), tx);
    },
  });
  const problems = [...b.problems, ...out.problems].sort((x, y) => x.row - y.row);
  if (problems.length) {
    if (problems.length > SHOWN_PROBLEMS) {
      try {
        await ctx.post({ text: `Job #${ctx.id}: all ${problems.length} problems in ${a.file ?? 'the sheet'}`, files: [{ name: PROBLEMS_CSV, data: Buffer.from(problemsCsv(problems)), mime: 'text/csv' }] });
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
      const row = await ctx.app.db.selectFrom('provision_batches').select('data').where('id', '=', a.batch).executeTakeFirst();
      if (!row) throw new UserError('the validated rows of this job are gone (it was interrupted); send the sheet again');
      try {
        return await runBatch(ctx, s, a, JSON.parse(row.data) as Batch);
      } finally {
        await ctx.app.db.deleteFrom('provision_batches').where('id', '=', a.batch).execute();
      }
    },
  },
  'provision-notify': {
    title: (a: { macs: string[]; reboot?: boolean }) => `${a.reboot ? 'reboot' : 're-sync'} ${a.macs.length} phones`,
    async run(ctx) {
      const a = ctx.args as { macs: string[]; reboot: boolean };
      const s = svc(ctx);
      await s.refreshFetches();
      const phones = a.macs.map((m) => s.get(m)).filter((p): p is PhoneRecord => !!p);
      const res = await pool(phones, 50, (p) => { ctx.throwIfCancelled(); return notifyOne(s, p, a.reboot); }, (d) => ctx.progress(d, phones.length));
      const ok = res.filter((x) => x.r.status !== null && x.r.status < 300).length;
      const lines = res.map(notifyLine);
      return { text: `${a.reboot ? 'Reboot' : 'Re-sync'} sent to ${phones.length} phones: ${ok} answered 2xx, ${phones.length - ok} did not.\n${table(['mac', 'ext', 'address', 'result', 'time'], lines.slice(0, 50))}`, data: { ok, failed: phones.length - ok } };
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
      'Columns (English or Portuguese): ' + COMMON_COLUMNS.map((c) => `${c.aliases.slice(0, 3).join('|')}${c.required ? '' : '?'}`).join(', ') +
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
      const ins = await ctx.app.db.insertInto('provision_batches').values({ data: JSON.stringify(batch), created_at: Date.now() }).executeTakeFirst();
      const jobArgs: BatchArgs & { batch: number } = { batch: insertedId(ins), rows: sheet.rows.length, file: file.name, dryRun, upload };
      await ctx.startJob('provision', jobArgs, { total: sheet.rows.length, note: 'queued' });
    },
  },
  {
    name: 'provision models',
    usage: 'provision models',
    example: 'provision models',
    summary: 'phone models Switchboard can provision, and the sheet columns they read',
    role: 'viewer',
    async run(ctx) {
      const s = svc(ctx);
      const rows = s.drivers.list.map((d) => [d.id, d.label, d.aliases.slice(0, 4).join(', '), d.ouis.map((o) => o.match(/../g)!.join(':')).join(' '), String(d.maxLines), d.fileNames('0c383e000000').map((f) => f.replace('0c383e000000', '<mac>').replace('0C383E000000', '<MAC>')).join(' '), d.sampleUserAgent ?? '']);
      const cols = COMMON_COLUMNS.map((c) => `${c.required ? '' : '['}${c.aliases.join('|')}${c.required ? '' : ']'}`).join(' ');
      const extras = s.drivers.list.filter((d) => d.columns.length).map((d) => `${d.id} also reads: ${d.columns.map((c) => c.name).join(', ')}`);
      return [
        `${s.drivers.list.length} model${s.drivers.list.length === 1 ? '' : 's'}:`,
        table(['id', 'model', 'aliases', 'OUI', 'lines', 'files', 'user agent (example)'], rows),
        `Sheet columns: ${cols}`,
        ...extras,
        `Phones fetch from ${s.rootUrl()}${s.cfg.tokenUrls ? 't/<token>/' : ''}${s.cfg.auth ? ' with basic auth' : ''}.`,
        'Override keys (provision set <scope> <key>=<value>):',
        ...s.drivers.list.map((d) => `• ${d.id}: ${d.overrides ? d.overrides.describe : 'takes no overrides'}`),
      ].join('\n');
    },
  },
  {
    name: 'provision list',
    usage: 'provision list [filter]',
    example: 'provision list 201',
    summary: 'provisioned phones (filter on MAC, extension, name, room, model or IP)',
    role: 'viewer',
    args: { positional: [{ name: 'filter', rest: true }] },
    async run(ctx, args) {
      const f = ([] as string[]).concat((args.filter as string[] | undefined) ?? []).join(' ').toLowerCase();
      const fhex = f.replace(/[^0-9a-f]/g, '');
      await svc(ctx).refreshFetches(); // last fetches other processes served
      let ps = svc(ctx).all();
      if (f) ps = ps.filter((p) => [p.extension, p.name, p.room ?? '', p.model, p.ip ?? '', p.lastFetchIp ?? ''].some((x) => x.toLowerCase().includes(f)) || (fhex.length >= 4 && p.mac.includes(fhex)));
      if (!ps.length) return f ? `No provisioned phone matches "${f}".` : 'No phones are provisioned.';
      const rows = ps.slice(0, 100).map((p) => [fmtMac(p.mac), svc(ctx).label(p), p.extension, p.name, p.room ?? '', p.ip ?? '', String(p.version), p.lastFetchAt ? `${ago(p.lastFetchAt)} from ${p.lastFetchIp}` : 'never']);
      const unreadable = svc(ctx).unreadablePhones();
      const warn = unreadable.length ? `\n⚠ ${unreadable.length} more phone${unreadable.length === 1 ? ' is' : 's are'} stored but not served: ${unreadable.length === 1 ? 'its' : 'their'} sealed SIP password cannot be opened with this key (${unreadable.slice(0, 10).map((u) => fmtMac(u.rec.mac)).join(', ')}${unreadable.length > 10 ? ', …' : ''}; see provision show <mac>).` : '';
      return structured([`${ps.length} phone${ps.length === 1 ? '' : 's'}:`, tablePart(['mac', 'model', 'ext', 'name', 'room', 'ip', 'v', 'last fetch'], rows, { align: ['left', 'left', 'left', 'left', 'left', 'left', 'right', 'left'] }), ...(ps.length > 100 ? [`… ${ps.length - 100} more; give a filter`] : []), ...(warn ? [warn.replace(/^\n/, '')] : [])]);
    },
  },
  {
    name: 'provision show',
    usage: 'provision show <mac|ext>',
    example: 'provision show 201',
    summary: "one phone's record, files and recent requests",
    role: 'viewer',
    args: { positional: [{ name: 'key', required: true }] },
    async run(ctx, args) {
      const s = svc(ctx);
      await s.refreshFetches();
      const p = needOne(ctx, String(args.key));
      const log = await s.log.recent({ mac: p.mac, limit: 5 });
      return [
        `${s.label(p)} ${fmtMac(p.mac)}: ext ${p.extension} "${p.name}"${p.room ? `, room ${p.room}` : ''}`,
        `registrar ${p.server}:${p.port}, line ${p.line}, auth user ${p.authUser}; password sealed at rest`,
        `files: ${p.files.map((f) => `${s.configUrl(p.token)}${f}`).join(' ')} (version ${p.version}, generated ${when(p.generatedAt)})`,
        `DHCP ip: ${p.ip ?? '-'}   last fetch: ${p.lastFetchAt ? `${when(p.lastFetchAt)} from ${p.lastFetchIp} (${p.lastFetchUa ?? 'no user agent'})` : 'never'}`,
        `changed by ${p.updatedBy} at ${when(p.updatedAt)}`,
        ...(log.length ? ['recent requests:', table(['when', 'from', 'file', 'status', 'reason'], log.map((e) => [when(e.at), e.ip, e.file ?? '', String(e.status), e.reason ?? e.decision]))] : []),
      ].join('\n');
    },
  },
  {
    name: 'provision rm',
    usage: 'provision rm <mac>',
    example: 'provision rm 0c:38:3e:12:34:57',
    summary: "forget a phone and delete its files (its DHCP reservation stays; see dhcp rm)",
    role: 'operator',
    args: { positional: [{ name: 'mac', required: true }] },
    confirm(args, ctx) {
      const p = needStored(ctx, String(args.mac));
      return `remove ${svc(ctx).label(p)} ${fmtMac(p.mac)} (ext ${p.extension}) and delete ${p.files.join(', ')}`;
    },
    async run(ctx, args) {
      const p = needStored(ctx, String(args.mac));
      await svc(ctx).remove(p.mac);
      const host = await ctx.app.services.dhcp.getByMac(fmtMac(p.mac));
      return `Removed ${svc(ctx).label(p)} ${fmtMac(p.mac)} (ext ${p.extension}); deleted ${p.files.join(', ')}.${host ? ` Its DHCP reservation ${host.hostname} ${host.ip} stays (dhcp rm ${host.mac} to remove it).` : ''}`;
    },
  },
  {
    name: 'provision regenerate',
    usage: 'provision regenerate <mac|ext|all>',
    example: 'provision regenerate 201',
    summary: 're-render phone files from the store (after a config or driver change); versions rise where files change',
    role: 'operator',
    args: { positional: [{ name: 'key', required: true }] },
    async run(ctx, args) {
      const s = svc(ctx);
      const key = String(args.key);
      const unreadable = key === 'all' ? s.unreadablePhones() : s.unreadablePhones(key);
      const served = key === 'all' ? s.all() : s.lookup(key);
      const list = served.length || unreadable.length ? served : targets(ctx, key); // targets() says what is wrong
      const macs = [...list.map((p) => p.mac), ...unreadable.map((u) => u.rec.mac)];
      const r = await s.regenerate(macs, by(ctx));
      const n = r.changed.length + r.unchanged.length;
      const text = `Regenerated ${n} phone${n === 1 ? '' : 's'}: ${r.changed.length} changed (version raised), ${r.unchanged.length} unchanged.${r.changed.length ? ` Changed: ${r.changed.slice(0, 20).map(fmtMac).join(', ')}${r.changed.length > 20 ? ' …' : ''}. Run provision resync to have them fetch now.` : ''}`;
      if (!r.failed.length) return text;
      const failed = r.failed.map((f) => `• ${fmtMac(f.mac)} (ext ${f.extension}): ${f.reason}.`);
      const tail = `${r.failed.length} phone${r.failed.length === 1 ? '' : 's'} not regenerated and not served:\n${failed.slice(0, 20).join('\n')}${failed.length > 20 ? `\n… and ${failed.length - 20} more` : ''}`;
      throw new UserError(`${text}\n${tail}`);
    },
  },
  {
    name: 'provision stale',
    usage: 'provision stale [days]',
    example: 'provision stale 7',
    summary: 'phones that have not fetched their config in N days (default 7), never-fetched ones included',
    role: 'viewer',
    args: { positional: [{ name: 'days', type: 'integer', minimum: 1, maximum: 3650 }] },
    async run(ctx, args) {
      const days = args.days === undefined ? 7 : Number(args.days);
      await svc(ctx).refreshFetches(); // fetches other processes served
      const cutoff = Date.now() - days * 86_400_000;
      const stale = svc(ctx).all().filter((p) => (p.lastFetchAt ?? 0) < cutoff).sort((a, b) => (a.lastFetchAt ?? 0) - (b.lastFetchAt ?? 0) || a.mac.localeCompare(b.mac));
      if (!stale.length) return `Every provisioned phone fetched its config within ${days} day${days === 1 ? '' : 's'}.`;
      const rows = stale.slice(0, 100).map((p) => [fmtMac(p.mac), svc(ctx).label(p), p.extension, p.name, p.room ?? '', p.lastFetchAt ? `${ago(p.lastFetchAt)} from ${p.lastFetchIp}` : 'never', `v${p.version} ${ago(p.generatedAt)}`]);
      return `${stale.length} phone${stale.length === 1 ? ' has' : 's have'} not fetched in ${days} day${days === 1 ? '' : 's'}:\n${table(['mac', 'model', 'ext', 'name', 'room', 'last fetch', 'config'], rows)}${stale.length > 100 ? `\n… ${stale.length - 100} more` : ''}`;
    },
  },
  {
    name: 'provision log',
    usage: 'provision log [mac|ext] [n]   (or n=… for the count: a lone number that is a provisioned extension is read as that extension)',
    example: 'provision log 201 20',
    summary: 'recent requests to the config server, served or refused, with the reason',
    role: 'viewer',
    args: { positional: [{ name: 'mac' }, { name: 'count', type: 'integer', minimum: 1, maximum: 500 }], named: { n: { type: 'integer', minimum: 1, maximum: 500, description: 'how many requests (default 20)' } } },
    async run(ctx, args) {
      let mac: string | undefined;
      let n = 20;
      if (args.count !== undefined && args.n !== undefined) throw new UsageError('give the count once: provision log [mac|ext] [n] or n=…');
      const count = args.count ?? args.n;
      if (args.mac !== undefined) {
        const m = String(args.mac);
        // "provision log 101": extension 101 when such a phone exists, else the last 101 requests.
        if (/^\d{1,3}$/.test(m) && count === undefined && !svc(ctx).lookup(m).length) n = Number(m);
        else {
          mac = m.toLowerCase().replace(/[^0-9a-f]/g, '');
          if (mac.length !== 12) {
            const p = svc(ctx).lookup(m);
            if (!p.length) throw new UserError(`"${m}" is not a MAC address or a provisioned extension.`);
            mac = p[0]!.mac;
          }
        }
      }
      if (count !== undefined) n = Number(count);
      const rows = await svc(ctx).log.recent({ mac, limit: n });
      if (!rows.length) return mac ? `No requests for ${fmtMac(mac)} yet.` : 'No requests yet.';
      return `${table(['when', 'from', 'mac', 'file', 'status', 'decision', 'reason', 'user agent'], rows.map((e) => [when(e.at), e.ip, e.mac ? fmtMac(e.mac) : '', e.file ?? e.path, String(e.status), e.decision, e.reason ?? '', (e.userAgent ?? '').slice(0, 40)]))}`;
    },
  },
  ...(['resync', 'reboot'] as const).map(
    (verb): Command => ({
      name: `provision ${verb}`,
      usage: `provision ${verb} <mac|ext|all>`,
      example: `provision ${verb} 201`,
      summary: verb === 'resync' ? 'SIP NOTIFY check-sync: the phone re-fetches its config now' : 'SIP NOTIFY check-sync;reboot=true: the phone re-fetches its config and reboots',
      role: 'operator',
      args: { positional: [{ name: 'key', required: true }] },
      // A reboot always asks; a re-sync asks when it goes to every phone (each one re-fetches at once).
      confirm: (args, ctx) => {
        const all = String(args.key) === 'all';
        if (verb === 'resync' && !all) return null;
        const l = targets(ctx, String(args.key));
        const which = `${all ? 'all ' : ''}${l.length} phone${l.length === 1 ? '' : 's'} (${l.slice(0, 5).map((p) => p.extension).join(', ')}${l.length > 5 ? ', …' : ''})`;
        return verb === 'reboot' ? `reboot ${which}` : `re-sync ${which}: each re-fetches its config now`;
      },
      async run(ctx, args) {
        await svc(ctx).refreshFetches(); // the address a phone last fetched from, on any replica
        const list = targets(ctx, String(args.key));
        if (list.length > 5) {
          await ctx.startJob('provision-notify', { macs: list.map((p) => p.mac), reboot: verb === 'reboot' }, { total: list.length });
          return;
        }
        const res = await Promise.all(list.map((p) => notifyOne(svc(ctx), p, verb === 'reboot')));
        const ok = res.every((x) => x.r.status !== null && x.r.status < 300);
        const text = `${verb === 'reboot' ? 'Reboot' : 'Re-sync'} (SIP NOTIFY Event: check-sync${verb === 'reboot' ? ';reboot=true' : ''}):\n${table(['mac', 'ext', 'address', 'result', 'time'], res.map(notifyLine))}`;
        if (!ok) throw new UserError(text);
        return text;
      },
    }),
  ),
];
