// Routes outgoing messages to the adapter of their platform. Targets are written `platform:channel`;
// a target whose platform is not connected falls back to the console's default room, so the bot is
// useful with no chat platform configured. Channel text passes the secret scrubber; only DMs marked
// secret (e.g. a new account's password for its requester) bypass it.
import type { Logger } from '../log.js';
import { scrub } from '../secrets.js';
import { parseTarget, type ChatAdapter, type MessageRef, type OutMessage, type Target } from './types.js';

function scrubbed(msg: OutMessage): OutMessage {
  return { ...msg, text: scrub(msg.text) };
}

export class Notifier {
  private adapters = new Map<string, ChatAdapter>();

  constructor(private log: Logger, private opts: { defaultTargets: string[]; fallback: Target }) {}

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
    if (r.rerouted) m.text = `[for ${target.platform}:${target.channel}] ${m.text}`;
    return r.adapter.send(r.target, m);
  }

  async update(ref: MessageRef, msg: OutMessage): Promise<void> {
    const a = this.adapters.get(ref.platform);
    if (!a) return;
    await a.update(ref, scrubbed(msg));
  }

  async dm(platform: string, userId: string, msg: OutMessage, opts: { secret?: boolean } = {}): Promise<void> {
    const a = this.adapters.get(platform);
    if (!a) throw new Error(`no chat adapter for platform "${platform}"`);
    await a.dm(userId, opts.secret ? msg : scrubbed(msg), opts);
  }

  /** Post to notification targets (given, else config notify.default, else the console's default room). Never throws. */
  async notify(targets: string[] | undefined, msg: OutMessage): Promise<MessageRef[]> {
    const list = targets && targets.length ? targets : this.opts.defaultTargets.length ? this.opts.defaultTargets : [`${this.opts.fallback.platform}:${this.opts.fallback.channel}`];
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
