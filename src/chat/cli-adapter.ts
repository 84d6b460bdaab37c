// `switchboard exec`: the terminal as a chat platform. Messages are collected and printed as plain text
// when the command (and any job it started) is done; edits replace the message they edit.
import type { ChatAdapter, Incoming, MessageRef, OutMessage, Target } from '../core/types.js';

export interface CliMessage {
  id: number;
  text: string;
  files: string[];
  dm: boolean;
}

/** A terminal shows monospace anyway: the ``` fence lines, the only markup in OutMessage text, are dropped. */
export function plainText(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^\s*```[\w-]*\s*$/.test(line))
    .map((line) => line.replace(/```/g, ''))
    .join('\n');
}

export class CliAdapter implements ChatAdapter {
  readonly platform = 'cli';
  readonly messages: CliMessage[] = [];
  private seq = 0;

  constructor(private opts: { fileSink?: (name: string, data: Buffer) => string; progress?: (text: string) => void } = {}) {}

  async start(_sink: (incoming: Incoming) => Promise<void>): Promise<void> {}
  async stop(): Promise<void> {}

  private files(msg: OutMessage): string[] {
    return (msg.files ?? []).map((f) => (this.opts.fileSink ? this.opts.fileSink(f.name, f.data) : f.name));
  }

  async send(_target: Target, msg: OutMessage): Promise<MessageRef> {
    const id = ++this.seq;
    this.messages.push({ id, text: msg.text, files: this.files(msg), dm: false });
    return { platform: 'cli', channel: 'terminal', id: String(id) };
  }

  async update(ref: MessageRef, msg: OutMessage): Promise<void> {
    const m = this.messages.find((x) => String(x.id) === ref.id);
    if (m) m.text = msg.text;
    this.opts.progress?.(msg.text);
  }

  async dm(_userId: string, msg: OutMessage): Promise<void> {
    this.messages.push({ id: ++this.seq, text: msg.text, files: this.files(msg), dm: true });
  }

  render(): string {
    return this.messages
      .map((m) => {
        const files = m.files.map((f) => `[file: ${f}]`).join('\n');
        const body = [plainText(m.text), files].filter(Boolean).join('\n');
        return m.dm ? `(direct message)\n${body}` : body;
      })
      .join('\n\n');
  }
}
