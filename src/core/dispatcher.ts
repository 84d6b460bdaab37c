// Incoming → parse → resolve command → role check → bind/validate args → confirmation → run → reply,
// with one audit row per attempt whatever its outcome.
import crypto from 'node:crypto';
import { now } from '../store/db.js';
import { scrub } from '../secrets.js';
import { writeAudit, redactLine, type Outcome } from './audit.js';
import { codeOf, toMessage, UsageError, UserError, withCode, type Args, type Caller, type Command, type CommandContext } from './command.js';
import { errorRef, SbError, type SbCode } from '../util/errors.js';
import { isStoreUnavailable, storeErrorReason } from '../store/store-errors.js';
import { parseLine, ParseError } from './parser.js';
import { roleAtLeast } from './roles.js';
import type { Incoming, MessageRef, OutMessage, Target } from './types.js';
import type { DispatcherPorts } from './ports.js';
import type { ButtonLookup } from './buttons.js';

declare module '../store/db.js' {
  interface Tables {
    confirmations: {
      code: string;
      platform: string;
      user_id: string;
      incoming: string; // JSON of the original command (text, channel, thread)
      summary: string;
      created_at: number;
      expires_at: number;
    };
  }
}

export interface DispatchResult {
  outcome: Outcome | 'ignored';
  /** 0 ok, 1 failed/denied/needs confirmation, 2 usage error. */
  exitCode: number;
  command?: string;
  jobIds: number[];
}

export interface DispatchOptions {
  confirmed?: boolean;
}

export const CONFIRM_TTL_MS = 60_000;
/** How long an expired confirmation is kept to be named as expired. */
const EXPIRED_CONFIRM_KEPT_MS = 24 * 3600_000;

/** `A` is the app: the dispatcher uses its ports and hands the whole of it to handlers as `ctx.app`. */
export class Dispatcher<A extends DispatcherPorts<A>> {
  constructor(private app: A) {}

  private targetOf(inc: Incoming): Target {
    return { platform: inc.platform, channel: inc.channel, thread: inc.thread };
  }

  async reply(inc: Incoming, msg: OutMessage | string): Promise<MessageRef | undefined> {
    try {
      return await this.app.notifier.send(this.targetOf(inc), toMessage(msg));
    } catch (err) {
      this.app.log.error({ err: String(err), platform: inc.platform }, 'could not send reply');
      return undefined;
    }
  }

  async handle(inc: Incoming, opts: DispatchOptions = {}): Promise<DispatchResult> {
    if (inc.button === undefined) return this.handleLine(inc, opts);
    const pressed = await this.pressed(inc);
    if ('outcome' in pressed) return pressed;
    // From here on a press is the stored command typed by the presser: same role check, audit, confirmation.
    const { button: id, ...typed } = inc;
    // A single-use button is used up only by a press that did what it offers.
    const giveBack = () => this.app.buttons.release(id!, pressed.user).catch((err) => this.app.log.error({ err: String(err) }, 'could not give a single-use button back'));
    let result: DispatchResult;
    try {
      result = await this.handleLine({ ...typed, text: pressed.command }, opts);
    } catch (err) {
      if (pressed.once) await giveBack();
      throw err;
    }
    if (pressed.once && result.outcome !== 'ok') await giveBack();
    return result;
  }

  private async handleLine(inc: Incoming, opts: DispatchOptions): Promise<DispatchResult> {
    const text = inc.text.trim().replace(/^\//, '');
    if (!text) return { outcome: 'ignored', exitCode: 0, jobIds: [] };
    const role = await this.app.roles.roleOf(inc.platform, inc.user.id);
    const caller: Caller = { platform: inc.platform, id: inc.user.id, name: inc.user.name, role };
    // An audit row of a refusal starts its detail with the code: `SB_DHCP_DUPLICATE_MAC: A host with MAC …`.
    const audit = (command: string, outcome: Outcome, detail?: string, cmd?: Command<A>, code?: SbCode) =>
      writeAudit(this.app.db, {
        platform: inc.platform,
        userId: inc.user.id,
        userName: inc.user.name,
        channel: inc.channel,
        command,
        args: redactLine(text, cmd),
        outcome,
        detail: code ? `${code}: ${detail ?? ''}` : detail,
      }).catch((err) => this.app.log.error({ err: String(err) }, 'audit write failed'));
    const jobIds: number[] = [];
    let line;
    try {
      line = parseLine(text);
    } catch (e) {
      const msg = e instanceof ParseError ? e.message : String(e);
      await audit('(unparsed)', 'invalid', msg, undefined, 'SB_COMMAND_UNREADABLE');
      await this.reply(inc, `⚠️ Could not read that command: ${msg}. (SB_COMMAND_UNREADABLE)`);
      return this.done('invalid', 2, undefined, jobIds);
    }
    const resolved = this.app.registry.resolve(line.words);
    if (!resolved) {
      const typed = line.words.slice(0, 2).join(' ') || text.split(/\s+/)[0]!;
      const sug = this.app.registry.suggest(line.words);
      await audit(line.words[0] ?? '(none)', 'invalid', 'unknown command', undefined, 'SB_UNKNOWN_COMMAND');
      await this.reply(inc, `⚠️ Unknown command "${scrub(typed)}".${sug.length ? ` Did you mean ${sug.map((s) => `\`${s}\``).join(' or ')}?` : ''} Type \`help\` for the list. (SB_UNKNOWN_COMMAND)`);
      return this.done('invalid', 2, undefined, jobIds);
    }
    const { cmd, rest } = resolved;
    if (!roleAtLeast(role, cmd.role)) {
      await audit(cmd.name, 'denied', `needs ${cmd.role}, has ${role}`, cmd, 'SB_PERMISSION_DENIED');
      await this.reply(
        inc,
        `⛔ \`${cmd.name}\` needs the ${cmd.role} role; you ${role === 'none' ? 'have no role' : `are ${role}`}. An admin can grant it with \`users grant ${inc.platform}:${inc.user.id} ${cmd.role}\`. (SB_PERMISSION_DENIED)`,
      );
      return this.done('denied', 1, cmd.name, jobIds);
    }
    let args: Args;
    try {
      args = this.app.registry.bind(cmd, rest, line);
    } catch (e) {
      if (e instanceof UsageError) {
        await audit(cmd.name, 'invalid', e.message, cmd, e.code);
        await this.reply(inc, `⚠️ ${withCode(e.message, e.code)}\nUsage: \`${cmd.usage}\``);
        return this.done('invalid', 2, cmd.name, jobIds);
      }
      throw e;
    }
    const ctx: CommandContext<A> = {
      app: this.app,
      incoming: inc,
      caller,
      confirmed: opts.confirmed === true,
      log: this.app.log.child({ cmd: cmd.name, platform: inc.platform, user: inc.user.id }),
      reply: (m) => this.reply(inc, m),
      dm: async (m, o) => {
        await this.app.notifier.dm(inc.platform, inc.user.id, toMessage(m), o);
      },
      startJob: async (kind, jobArgs, o) => {
        const id = await this.app.jobs.enqueue(kind, jobArgs, { platform: inc.platform, userId: inc.user.id, target: this.targetOf(inc), total: o?.total, note: o?.note });
        jobIds.push(id);
        return id;
      },
    };
    try {
      if (cmd.confirm && !ctx.confirmed) {
        const what = await cmd.confirm(args, ctx);
        if (what) {
          const code = await this.createConfirmation(inc, what);
          await audit(cmd.name, 'confirm', what, cmd);
          await this.reply(inc, `❓ ${what}\nTo go ahead, send \`confirm ${code}\` within ${CONFIRM_TTL_MS / 1000} s.`);
          return this.done('confirm', 1, cmd.name, jobIds);
        }
      }
      const out = await cmd.run(ctx, args);
      if (out) await this.reply(inc, out);
      await audit(cmd.name, 'ok', jobIds.length ? `job ${jobIds.join(',')}` : undefined, cmd);
      this.app.metrics.commands.inc({ command: cmd.name, outcome: 'ok' });
      return this.done('ok', 0, cmd.name, jobIds);
    } catch (e) {
      if (e instanceof UsageError) {
        await audit(cmd.name, 'invalid', e.message, cmd, e.code);
        await this.reply(inc, `⚠️ ${withCode(e.message, e.code)}\nUsage: \`${e.usage ?? cmd.usage}\``);
        return this.done('invalid', 2, cmd.name, jobIds);
      }
      // A UserError, or a coded refusal thrown below the command (a service, the store layer).
      if (e instanceof SbError) {
        const code = codeOf(e, cmd.name);
        ctx.log.info({ code }, 'command refused');
        await audit(cmd.name, 'failed', e.message, cmd, code);
        await this.reply(inc, `❌ ${withCode(e.message, code)}`);
        return this.done('failed', 1, cmd.name, jobIds);
      }
      if (isStoreUnavailable(e)) {
        ctx.log.warn({ code: 'SB_STORE_UNAVAILABLE', reason: storeErrorReason(e) }, 'command failed: store unavailable');
        await audit(cmd.name, 'failed', storeErrorReason(e), cmd, 'SB_STORE_UNAVAILABLE');
        await this.reply(inc, `❌ \`${cmd.name}\` could not reach the store (database) right now, so it may not have run; try again shortly. (SB_STORE_UNAVAILABLE)`);
        return this.done('failed', 1, cmd.name, jobIds);
      }
      const ref = errorRef();
      this.app.log.error({ err: e, ref, code: 'SB_INTERNAL', cmd: cmd.name }, 'command failed');
      await audit(cmd.name, 'failed', `internal error ref ${ref}: ${(e as Error)?.message ?? String(e)}`, cmd, 'SB_INTERNAL');
      await this.reply(inc, `❌ \`${cmd.name}\` failed with an internal error (ref ${ref}); the details are in the bot's log. (SB_INTERNAL)`);
      return this.done('failed', 1, cmd.name, jobIds);
    }
  }

  /**
   * The command behind a pressed button, or the refusal already answered and audited (an id the bot never made
   * for this platform and channel, an expired button, one this process's store key cannot open).
   */
  private async pressed(inc: Incoming): Promise<{ command: string; once: boolean; user: string } | DispatchResult> {
    let found: ButtonLookup;
    // Who used a single-use button, as its row keeps it (platform and user id, and the name when known).
    const user = `${inc.platform}:${inc.user.id}${inc.user.name && inc.user.name !== inc.user.id ? ` (${inc.user.name})` : ''}`;
    try {
      found = await this.app.buttons.open(inc.button!, inc.platform, inc.channel);
      if (found.ok && found.once && !(await this.app.buttons.take(inc.button!, user))) {
        const used = await this.app.buttons.usedBy(inc.button!);
        found = { ok: false, reason: 'used', command: found.command, usedBy: used?.usedBy ?? 'someone else', usedAt: used?.usedAt ?? Date.now() };
      }
    } catch (err) {
      this.app.log.error({ err: String(err), platform: inc.platform }, 'could not look up a pressed button');
      await this.reply(inc, '❌ The store could not be asked what this button runs, so nothing was run; press it again in a moment or type the command. (SB_STORE_UNAVAILABLE)');
      return this.done('failed', 1, undefined, []);
    }
    if (found.ok) return { command: found.command, once: found.once, user };
    const refuse = async (detail: string, answer: string, code: SbCode) => {
      await writeAudit(this.app.db, {
        platform: inc.platform,
        userId: inc.user.id,
        userName: inc.user.name,
        channel: inc.channel,
        command: '(button)',
        args: '',
        outcome: 'invalid',
        detail: `${code}: ${detail}`,
      }).catch((err) => this.app.log.error({ err: String(err) }, 'audit write failed'));
      await this.reply(inc, `${answer} (${code})`);
      return this.done('invalid', 1, undefined, []);
    };
    if (found.reason === 'expired') {
      const days = Math.round(this.app.buttons.ttlMs / 86_400_000);
      // The command as the bot offered it (its message showed it too; the notifier's scrubber still applies).
      const line = found.command?.replace(/`/g, "'") ?? '';
      return refuse(
        'button expired',
        `⌛ This button has expired (buttons work for ${days} day${days === 1 ? '' : 's'}), so nothing was run.${line ? ` Type the command instead: \`${line}\`` : ' Type the command instead.'}`,
        'SB_BUTTON_EXPIRED',
      );
    }
    if (found.reason === 'used') {
      const ago = Math.round((Date.now() - found.usedAt) / 60_000);
      const when = ago < 1 ? 'just now' : ago < 120 ? `${ago} min ago` : ago < 2880 ? `${Math.round(ago / 60)} h ago` : `${Math.round(ago / 1440)} days ago`;
      return refuse(
        'button already used',
        `✔️ This button was already used by ${found.usedBy} ${when}, so nothing was run again. To run it anyway, type the command: \`${found.command.replace(/`/g, "'")}\``,
        'SB_BUTTON_USED',
      );
    }
    if (found.reason === 'unreadable')
      return refuse('button unreadable with this store key', "❌ This button cannot be read with this process's store key, so nothing was run; type the command instead.", 'SB_CONFIRM_UNREADABLE');
    return refuse('unknown button', '⚠️ This button is not one the bot made for this chat (or it was removed), so nothing was run. Type the command instead.', 'SB_BUTTON_UNKNOWN');
  }

  private done(outcome: Outcome, exitCode: number, command: string | undefined, jobIds: number[]): DispatchResult {
    if (outcome !== 'ok') this.app.metrics.commands.inc({ command: command ?? '(unknown)', outcome });
    return { outcome, exitCode, command, jobIds };
  }

  private async createConfirmation(inc: Incoming, summary: string): Promise<string> {
    const code = crypto.randomBytes(4).toString('hex').slice(0, 6).toUpperCase();
    const t = now();
    // Expired codes are kept a day, so that `confirm` can say a late code expired rather than that it is unknown.
    await this.app.db
      .deleteFrom('confirmations')
      .where('expires_at', '<', t - EXPIRED_CONFIRM_KEPT_MS)
      .execute();
    await this.app.db
      .insertInto('confirmations')
      .values({
        code,
        platform: inc.platform,
        user_id: inc.user.id,
        // Sealed with the store key: the command line may carry a secret (a password, an override's value).
        incoming: this.app.sealer.seal(JSON.stringify({ text: inc.text, channel: inc.channel, thread: inc.thread, user: inc.user, direct: inc.direct })),
        summary,
        created_at: t,
        expires_at: t + CONFIRM_TTL_MS,
      })
      .execute();
    return code;
  }

  /** A stored confirmation's original request (sealed; rows from before sealing are plain JSON); null when it cannot be opened. */
  private openIncoming(stored: string): Pick<Incoming, 'text' | 'channel' | 'thread' | 'user' | 'direct'> | null {
    try {
      return JSON.parse(stored.startsWith('{') ? stored : this.app.sealer.open(stored)) as Pick<Incoming, 'text' | 'channel' | 'thread' | 'user' | 'direct'>;
    } catch {
      return null;
    }
  }

  /** Run a pending confirmation of this caller. Files attached to the original request are not kept. */
  async confirm(inc: Incoming, code: string): Promise<DispatchResult | UserError> {
    const row = await this.app.db.selectFrom('confirmations').selectAll().where('code', '=', code.toUpperCase()).executeTakeFirst();
    if (!row || row.platform !== inc.platform || row.user_id !== inc.user.id) return new UserError(`No pending confirmation ${code} of yours.`, 'SB_CONFIRM_UNKNOWN');
    const orig = this.openIncoming(row.incoming);
    if (row.expires_at < now()) {
      const line = orig?.text ?? '';
      const ago = Math.max(1, Math.round((now() - row.expires_at) / 1000));
      const cmd = line ? this.app.registry.resolve(parseLine(line).words)?.cmd : undefined;
      return new UserError(
        `Code ${row.code} expired ${ago < 120 ? `${ago} s` : `${Math.round(ago / 60)} min`} ago (codes are good for ${CONFIRM_TTL_MS / 1000} s), so nothing was done. Run the command again for a new code${line ? `: \`${redactLine(line, cmd)}\`` : ''}.`,
        'SB_CONFIRM_EXPIRED',
      );
    }
    await this.app.db.deleteFrom('confirmations').where('code', '=', row.code).execute();
    if (!orig) return new UserError(`Confirmation ${row.code} cannot be read with this process's store key, so nothing was done; run the command again.`, 'SB_CONFIRM_UNREADABLE');
    return this.handle({ ...orig, platform: inc.platform, files: [] }, { confirmed: true });
  }
}
