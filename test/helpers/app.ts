// An app wired for tests: temp data dir, SQLite or a fresh MariaDB database, a recording chat adapter.
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { createApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { features } from '../../src/features.js';
import type { ChatAdapter, Incoming, MessageRef, OutMessage, Target } from '../../src/core/types.js';
import type { Engine } from '../../src/store/db.js';
import { createTestDatabase } from './mysql.js';
import { tmpDir } from './env.js';

export interface Recorded {
  id: string;
  channel: string;
  thread?: string;
  text: string;
  files: { name: string; data: Buffer }[];
  edits: string[];
  dmTo?: string;
  secret?: boolean;
}

/** A chat platform that records what the bot sends; `say` feeds a command in as a user would. */
export class RecordingAdapter implements ChatAdapter {
  readonly messages: Recorded[] = [];
  sink?: (i: Incoming) => Promise<void>;
  private seq = 0;
  constructor(readonly platform = 'test') {}
  async start(sink: (i: Incoming) => Promise<void>) {
    this.sink = sink;
  }
  async stop() {}
  async send(target: Target, msg: OutMessage): Promise<MessageRef> {
    const id = String(++this.seq);
    this.messages.push({ id, channel: target.channel, thread: target.thread, text: msg.text, files: (msg.files ?? []).map((f) => ({ name: f.name, data: f.data })), edits: [] });
    return { platform: this.platform, channel: target.channel, id };
  }
  async update(ref: MessageRef, msg: OutMessage) {
    const m = this.messages.find((x) => x.id === ref.id);
    if (m) {
      m.edits.push(msg.text);
      m.text = msg.text;
    }
  }
  async dm(userId: string, msg: OutMessage, opts?: { secret?: boolean }) {
    this.messages.push({ id: String(++this.seq), channel: `dm:${userId}`, text: msg.text, files: (msg.files ?? []).map((f) => ({ name: f.name, data: f.data })), edits: [], dmTo: userId, secret: opts?.secret });
  }
  texts(channel?: string): string[] {
    return this.messages.filter((m) => !channel || m.channel === channel).map((m) => m.text);
  }
  last(): Recorded | undefined {
    return this.messages[this.messages.length - 1];
  }
  clear() {
    this.messages.length = 0;
  }
}

export interface TestApp {
  app: RunningApp;
  chat: RecordingAdapter;
  logs: string[];
  dataDir: string;
  /** Run a command as a user of the test platform; resolves when dispatch (not jobs) is done. */
  run(text: string, opts?: { user?: string; channel?: string; files?: Incoming['files']; confirmed?: boolean }): Promise<{ exitCode: number; outcome: string; replies: string[]; jobIds: number[] }>;
  close(): Promise<void>;
}

export async function makeTestApp(opts: { engine?: Engine; overrides?: Record<string, unknown>; env?: NodeJS.ProcessEnv; listen?: boolean; admins?: string[] } = {}): Promise<TestApp> {
  const dataDir = tmpDir();
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;
  if (opts.engine === 'mysql') {
    const db = await createTestDatabase();
    databaseUrl = db.url;
    drop = db.drop;
  }
  const config = loadConfig({
    env: { ...(opts.env ?? {}) },
    sections: features.flatMap((f) => (f.config ? [f.config] : [])),
    overrides: {
      dataDir,
      ...(databaseUrl ? { databaseUrl } : {}),
      'http.port': 0,
      'jobs.editIntervalMs': 50,
      'auth.admins': opts.admins ?? ['test:admin'],
      ...(opts.overrides ?? {}),
    },
  });
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', pretty: false, destination: new Writable({ write(c, _e, cb) { logs.push(c.toString()); cb(); } }) });
  const chat = new RecordingAdapter();
  const app = await createApp({ mode: opts.listen ? 'server' : 'test', config, log, adapters: [chat] });
  if (opts.listen) await app.listen();
  return {
    app,
    chat,
    logs,
    dataDir,
    async run(text, o = {}) {
      const before = chat.messages.length;
      const res = await app.dispatcher.handle({ platform: 'test', channel: o.channel ?? 'C1', user: { id: o.user ?? 'admin', name: o.user ?? 'admin' }, text, files: o.files ?? [] }, { confirmed: o.confirmed });
      return { exitCode: res.exitCode, outcome: res.outcome, replies: chat.messages.slice(before).map((m) => m.text), jobIds: res.jobIds };
    },
    async close() {
      await app.close();
      await drop?.();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
