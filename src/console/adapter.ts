// The web console as a chat platform: channels are rooms, direct messages go to the room "@username".
import type { ChatAdapter, Incoming, MessageRef, OutMessage, Target } from '../core/types.js';
import { dmRoom, type ConsoleHub } from './hub.js';

export class ConsoleAdapter implements ChatAdapter {
  readonly platform = 'console';
  /** Bot messages show their command buttons; a click posts the button's id to /console/api/command. */
  readonly buttons = true;
  sink?: (incoming: Incoming) => Promise<void>;

  constructor(private hub: ConsoleHub) {}

  async start(sink: (incoming: Incoming) => Promise<void>): Promise<void> {
    this.sink = sink;
  }

  async stop(): Promise<void> {}

  async send(target: Target, msg: OutMessage): Promise<MessageRef> {
    const id = await this.hub.postMessage(target.channel, msg);
    return { platform: 'console', channel: target.channel, id: String(id) };
  }

  async update(ref: MessageRef, msg: OutMessage): Promise<void> {
    await this.hub.edit(Number(ref.id), msg.text, msg.parts);
  }

  async dm(userId: string, msg: OutMessage): Promise<void> {
    await this.hub.postMessage(dmRoom(userId), msg);
  }
}
