// Routes outgoing messages to the adapter of their platform. Targets are written `platform:channel`;
// a target whose platform is not connected falls back to the console's default room, so the bot is
// useful with no chat platform configured. Channel text passes the secret scrubber; only DMs marked
// secret (e.g. a new account's password for its requester) bypass it. Command buttons are stored here (one
// store for every replica, see buttons.ts) for adapters that draw them, and dropped for the others: the text
// carries the command as well.
import type { Logger } from '../log.js';
import { MAX_BUTTONS, type ButtonStore } from './buttons.js';
import { scrub } from '../secrets.js';
import { mapMessageText } from './message.js';
import { parseTarget, type ChatAdapter, type MessageRef, type OutMessage, type Target } from './types.js';

function scrubbed(msg: OutMessage): OutMessage {
  return mapMessageText(msg, scrub);
}

export class Notifier {
  private adapters = new Map<string, ChatAdapter>();

  constructor(
    private log: Logger,
    private opts: { defaultTargets: string[]; fallback: Target; buttons?: ButtonStore },
  ) {}

  /**
   * The message as this adapter gets it: buttons stored with their ids where the adapter draws them, none
   * otherwise. A button that cannot be stored is left out (logged); the message still goes, its text names the command.
   */
  private async withButtons(adapter: ChatAdapter, channel: string | null, msg: OutMessage): Promise<OutMessage> {
    if (!msg.buttons) return msg;
    const { buttons, ...rest } = msg;
    if (!buttons.length || !adapter.buttons || !this.opts.buttons) return rest;
    if (buttons.length > MAX_BUTTONS) this.log.warn({ buttons: buttons.length, kept: MAX_BUTTONS }, 'a message had more buttons than a row holds; the first ones are kept');
    try {
      return { ...rest, buttons: await this.opts.buttons.create(adapter.platform, channel, buttons.slice(0, MAX_BUTTONS)) };
    } catch (err) {
      this.log.error({ err: String(err), platform: adapter.platform }, 'could not store the buttons of a message; sending it without them');
      return rest;
    }
  }

  register(adapter: ChatAdapter): void {
    this.adapters.set(adapter.platform, adapter);
  }

  unregister(platform: string): void {
    this.adapters.delete(platform);
  }

  adapter(platform: string): ChatAdapter | undefined {
    return this.adapters.get(platform);
  }

  platforms(): string[] {
    return [...this.adapters.keys()];
  }

  private route(target: Target): { adapter: ChatAdapter; target: Target; rerouted: boolean } {
    const a = this.adapters.get(target.platform);
    if (a) return { adapter: a, target, rerouted: false };
    const fb = this.adapters.get(this.opts.fallback.platform);
    if (!fb) throw new Error(`no chat adapter for platform "${target.platform}" and no fallback`);
    return { adapter: fb, target: this.opts.fallback, rerouted: true };
  }

  async send(target: Target, msg: OutMessage): Promise<MessageRef> {
    const r = this.route(target);
    const m = scrubbed(msg);
    if (r.rerouted) {
      const note = `[for ${target.platform}:${target.channel}] `;
      m.text = note + m.text;
      if (m.parts) m.parts = [{ kind: 'text', text: note.trim() }, ...m.parts];
    }
    return r.adapter.send(r.target, await this.withButtons(r.adapter, r.target.channel, m));
  }

  async update(ref: MessageRef, msg: OutMessage): Promise<void> {
    const a = this.adapters.get(ref.platform);
    if (!a) return;
    // Buttons go out with new messages only (job progress edits carry none).
    const { buttons: _buttons, ...rest } = scrubbed(msg);
    await a.update(ref, rest);
  }

  async dm(platform: string, userId: string, msg: OutMessage, opts: { secret?: boolean } = {}): Promise<void> {
    const a = this.adapters.get(platform);
    if (!a) throw new Error(`no chat adapter for platform "${platform}"`);
    await a.dm(userId, await this.withButtons(a, null, opts.secret ? msg : scrubbed(msg)), opts);
  }

  /** Post to notification targets (given, else config notify.default, else the console's default room). Never throws. */
  async notify(targets: string[] | undefined, msg: OutMessage): Promise<MessageRef[]> {
    const list = targets?.length ? targets : this.opts.defaultTargets.length ? this.opts.defaultTargets : [`${this.opts.fallback.platform}:${this.opts.fallback.channel}`];
    const refs: MessageRef[] = [];
    for (const t of list) {
      try {
        refs.push(await this.send(parseTarget(t), msg));
      } catch (err) {
        this.log.error({ err: String(err), target: t }, 'notification failed');
      }
    }
    return refs;
  }
}
