// An app wired for tests: temp data dir, SQLite or a fresh MariaDB database, a recording chat adapter.
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { features } from '../../src/features.js';
import type { ChatAdapter, CommandButton, Incoming, MessagePart, MessageRef, OutMessage, Target } from '../../src/core/types.js';
import type { Engine } from '../../src/store/db.js';
import type { Feature } from '../../src/app-types.js';
import { createTestDatabase } from './mysql.js';
import { tmpDir } from './env.js';

export interface Recorded {
  id: string;
  channel: string;
  thread?: string;
  text: string;
  /** The structured form of the message, when it had one. */
  parts?: MessagePart[];
  /** Its command buttons as the notifier stored them (with ids). */
  buttons?: CommandButton[];
  files: { name: string; data: Buffer }[];
  edits: string[];
  dmTo?: string;
  secret?: boolean;
}

/** A chat platform that records what the bot sends; `say` feeds a command in as a user would. */
export class RecordingAdapter implements ChatAdapter {
  readonly messages: Recorded[] = [];
  /** Draws command buttons (so the notifier stores them; `run('', { button: id })` presses one). */
  readonly buttons = true;
  sink?: (i: Incoming) => Promise<void>;
  private seq = 0;
  constructor(readonly platform = 'test') {}
  async start(sink: (i: Incoming) => Promise<void>) {
    this.sink = sink;
  }
  async stop() {}
  async send(target: Target, msg: OutMessage): Promise<MessageRef> {
    const id = String(++this.seq);
    this.messages.push({
      id,
      channel: target.channel,
      thread: target.thread,
      text: msg.text,
      ...(msg.parts ? { parts: msg.parts } : {}),
      ...(msg.buttons ? { buttons: msg.buttons } : {}),
      files: (msg.files ?? []).map((f) => ({ name: f.name, data: f.data })),
      edits: [],
    });
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
    this.messages.push({
      id: String(++this.seq),
      channel: `dm:${userId}`,
      text: msg.text,
      files: (msg.files ?? []).map((f) => ({ name: f.name, data: f.data })),
      edits: [],
      dmTo: userId,
      secret: opts?.secret,
    });
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
  /** The MariaDB database of this app (engine 'mysql'), shared by its replicas. */
  databaseUrl?: string;
  /** Run a command as a user of the test platform; resolves when dispatch (not jobs) is done. */
  run(
    text: string,
    opts?: { user?: string; channel?: string; files?: Incoming['files']; confirmed?: boolean; button?: string },
  ): Promise<{ exitCode: number; outcome: string; replies: string[]; jobIds: number[] }>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  engine?: Engine;
  overrides?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  listen?: boolean;
  admins?: string[];
  /**
   * Join a store another test app already uses (replicas on one MariaDB database); the caller drops it. Give
   * those apps the same `SWITCHBOARD_PROVISION_KEY` in `env`, as replicas must share the store key.
   */
  databaseUrl?: string;
  /**
   * A second replica of this (MariaDB) app: the same database and store key, its own data dir and process
   * state. The database is dropped when the last app on it closes (the first may close before its replicas).
   */
  replicaOf?: TestApp;
  /** SWITCHBOARD_PROVISION_KEY for this app (the store key every replica of one store shares). */
  provisionKey?: string;
  /** The capabilities (default: the shipped ones); their config sections make the config. */
  features?: Feature[];
}

/** Apps open on each scratch MariaDB database this helper created, and how to drop it. */
const scratchDatabases = new Map<string, { open: number; drop(): Promise<void> }>();

export async function makeTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = tmpDir();
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined = opts.databaseUrl;
  if (databaseUrl) {
    // joined as given
  } else if (opts.replicaOf) {
    databaseUrl = opts.replicaOf.databaseUrl;
    if (!databaseUrl) throw new Error('replicaOf needs an app with engine mysql');
    const scratch = scratchDatabases.get(databaseUrl);
    if (scratch) {
      scratch.open++;
      drop = () => release(databaseUrl!);
    }
    // Replicas share the store key (the store's secrets are sealed with it).
    const keyFile = path.join(opts.replicaOf.dataDir, 'provision.key');
    if (fs.existsSync(keyFile)) fs.copyFileSync(keyFile, path.join(dataDir, 'provision.key'));
  } else if (opts.engine === 'mysql') {
    const db = await createTestDatabase();
    databaseUrl = db.url;
    scratchDatabases.set(db.url, { open: 1, drop: db.drop });
    drop = () => release(db.url);
  }
  async function release(url: string): Promise<void> {
    const scratch = scratchDatabases.get(url)!;
    if (--scratch.open > 0) return;
    scratchDatabases.delete(url);
    await scratch.drop();
  }
  const config = loadConfig({
    env: { ...(opts.env ?? {}) },
    sections: (opts.features ?? features).flatMap((f) => (f.config ? [f.config] : [])),
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
  const log = createLogger({
    level: 'debug',
    pretty: false,
    destination: new Writable({
      write(c, _e, cb) {
        logs.push(c.toString());
        cb();
      },
    }),
  });
  const chat = new RecordingAdapter();
  let app: RunningApp;
  try {
    const env = { ...process.env, ...(opts.env ?? {}), ...(opts.provisionKey !== undefined ? { SWITCHBOARD_PROVISION_KEY: opts.provisionKey } : {}) };
    app = await createApp({ mode: opts.listen ? 'server' : 'test', config, log, adapters: [chat], env, ...(opts.features ? { features: opts.features } : {}) });
    if (opts.listen) await app.listen();
  } catch (err) {
    await drop?.();
    throw err;
  }
  return {
    app,
    chat,
    logs,
    dataDir,
    databaseUrl,
    async run(text, o = {}) {
      const before = chat.messages.length;
      const res = await app.dispatcher.handle(
        { platform: 'test', channel: o.channel ?? 'C1', user: { id: o.user ?? 'admin', name: o.user ?? 'admin' }, text, files: o.files ?? [], ...(o.button !== undefined ? { button: o.button } : {}) },
        { confirmed: o.confirmed },
      );
      return { exitCode: res.exitCode, outcome: res.outcome, replies: chat.messages.slice(before).map((m) => m.text), jobIds: res.jobIds };
    },
    async close() {
      await app.close();
      await drop?.();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
