// Incoming → parse → resolve command → role check → bind/validate args → confirmation → run → reply,
// with one audit row per attempt whatever its outcome.
import crypto from 'node:crypto';
import type { App } from '../app-types.js';
import { now } from '../store/db.js';
import { scrub } from '../secrets.js';
import { writeAudit, redactLine, type Outcome } from './audit.js';
import { toMessage, UsageError, UserError, type Args, type Caller, type Command, type CommandContext } from './command.js';
import { parseLine, ParseError } from './parser.js';
import { roleAtLeast } from './roles.js';
import type { Incoming, MessageRef, OutMessage, Target } from './types.js';

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

export class Dispatcher {
  constructor(private app: App) {}

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
    const text = inc.text.trim().replace(/^\//, '');
    if (!text) return { outcome: 'ignored', exitCode: 0, jobIds: [] };
    const role = await this.app.roles.roleOf(inc.platform, inc.user.id);
    const caller: Caller = { platform: inc.platform, id: inc.user.id, name: inc.user.name, role };
    const audit = (command: string, outcome: Outcome, detail?: string, cmd?: Command) =>
      writeAudit(this.app.db, { platform: inc.platform, userId: inc.user.id, userName: inc.user.name, channel: inc.channel, command, args: redactLine(text, cmd), outcome, detail }).catch((err) =>
        this.app.log.error({ err: String(err) }, 'audit write failed'),
      );
    const jobIds: number[] = [];
    let line;
    try {
      line = parseLine(text);
    } catch (e) {
      const msg = e instanceof ParseError ? e.message : String(e);
      await audit('(unparsed)', 'invalid', msg);
      await this.reply(inc, `⚠️ Could not read that command: ${msg}.`);
      return this.done('invalid', 2, undefined, jobIds);
    }
    const resolved = this.app.registry.resolve(line.words);
    if (!resolved) {
      const typed = line.words.slice(0, 2).join(' ') || text.split(/\s+/)[0]!;
      const sug = this.app.registry.suggest(line.words);
      await audit(line.words[0] ?? '(none)', 'invalid', 'unknown command');
      await this.reply(inc, `⚠️ Unknown command "${scrub(typed)}".${sug.length ? ` Did you mean ${sug.map((s) => `\`${s}\``).join(' or ')}?` : ''} Type \`help\` for the list.`);
      return this.done('invalid', 2, undefined, jobIds);
    }
    const { cmd, rest } = resolved;
    if (!roleAtLeast(role, cmd.role)) {
      await audit(cmd.name, 'denied', `needs ${cmd.role}, has ${role}`, cmd);
      await this.reply(inc, `⛔ \`${cmd.name}\` needs the ${cmd.role} role; you ${role === 'none' ? 'have no role' : `are ${role}`}. An admin can grant it with \`users grant ${inc.platform}:${inc.user.id} ${cmd.role}\`.`);
      return this.done('denied', 1, cmd.name, jobIds);
    }
    let args: Args;
    try {
      args = this.app.registry.bind(cmd, rest, line);
    } catch (e) {
      if (e instanceof UsageError) {
        await audit(cmd.name, 'invalid', e.message, cmd);
        await this.reply(inc, `⚠️ ${e.message}\nUsage: \`${cmd.usage}\``);
        return this.done('invalid', 2, cmd.name, jobIds);
      }
      throw e;
    }
    const ctx: CommandContext = {
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
        await audit(cmd.name, 'invalid', e.message, cmd);
        await this.reply(inc, `⚠️ ${e.message}\nUsage: \`${e.usage ?? cmd.usage}\``);
        return this.done('invalid', 2, cmd.name, jobIds);
      }
      if (e instanceof UserError) {
        await audit(cmd.name, 'failed', e.message, cmd);
        await this.reply(inc, `❌ ${e.message}`);
        return this.done('failed', 1, cmd.name, jobIds);
      }
      const ref = crypto.randomBytes(3).toString('hex');
      this.app.log.error({ err: e, ref, cmd: cmd.name }, 'command failed');
      await audit(cmd.name, 'failed', `internal error ref ${ref}: ${(e as Error)?.message ?? String(e)}`, cmd);
      await this.reply(inc, `❌ \`${cmd.name}\` failed with an internal error (ref ${ref}); the details are in the bot's log.`);
      return this.done('failed', 1, cmd.name, jobIds);
    }
  }

  private done(outcome: Outcome, exitCode: number, command: string | undefined, jobIds: number[]): DispatchResult {
    if (outcome !== 'ok') this.app.metrics.commands.inc({ command: command ?? '(unknown)', outcome });
    return { outcome, exitCode, command, jobIds };
  }

  private async createConfirmation(inc: Incoming, summary: string): Promise<string> {
    const code = crypto.randomBytes(4).toString('hex').slice(0, 6).toUpperCase();
    const t = now();
    await this.app.db.deleteFrom('confirmations').where('expires_at', '<', t).execute();
    await this.app.db
      .insertInto('confirmations')
      .values({
        code,
        platform: inc.platform,
        user_id: inc.user.id,
        incoming: JSON.stringify({ text: inc.text, channel: inc.channel, thread: inc.thread, user: inc.user, direct: inc.direct }),
        summary,
        created_at: t,
        expires_at: t + CONFIRM_TTL_MS,
      })
      .execute();
    return code;
  }

  /** Run a pending confirmation of this caller. Files attached to the original request are not kept. */
  async confirm(inc: Incoming, code: string): Promise<DispatchResult | string> {
    const row = await this.app.db.selectFrom('confirmations').selectAll().where('code', '=', code.toUpperCase()).executeTakeFirst();
    if (!row || row.platform !== inc.platform || row.user_id !== inc.user.id) return `No pending confirmation ${code} of yours.`;
    await this.app.db.deleteFrom('confirmations').where('code', '=', row.code).execute();
    if (row.expires_at < now()) return `Confirmation ${row.code} expired; run the command again.`;
    const orig = JSON.parse(row.incoming) as Pick<Incoming, 'text' | 'channel' | 'thread' | 'user' | 'direct'>;
    return this.handle({ ...orig, platform: inc.platform, files: [] }, { confirmed: true });
  }
}
