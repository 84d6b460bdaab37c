// The core's ports: the narrow interfaces the dispatcher and the job runner need from the app around them.
// The core owns them and names nothing above itself; src/app-types.ts composes App from them (App satisfies
// DispatcherPorts<App> and JobRunnerPorts<App>), and src/app.ts builds it. `A` is the app a command or job
// handler gets as `ctx.app`: the core passes it through without looking into it.
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { DB } from '../store/db.js';
import type { ButtonStore } from './buttons.js';
import type { RoleReq } from './command.js';
import type { JobKind } from './job-types.js';
import type { Registry } from './registry.js';
import type { MessageRef, OutMessage, Target } from './types.js';

export type AppMode = 'server' | 'exec' | 'test';

/** A counter by labels (a prom-client Counter fits). */
export interface LabelledCounter<L extends string> {
  inc(labels: Partial<Record<L, string | number>>): void;
}

/** The counters the core writes. */
export interface CoreMetrics {
  commands: LabelledCounter<'command' | 'outcome'>;
  jobs: LabelledCounter<'kind' | 'status'>;
}

/** Sends, edits and DMs on any connected platform (src/core/notifier.ts). */
export interface NotifierPort {
  send(target: Target, msg: OutMessage): Promise<MessageRef>;
  update(ref: MessageRef, msg: OutMessage): Promise<void>;
  dm(platform: string, userId: string, msg: OutMessage, opts?: { secret?: boolean }): Promise<void>;
}

/** Who may run what (src/core/roles.ts). */
export interface RolesPort {
  roleOf(platform: string, userId: string): Promise<RoleReq>;
}

/** Seals text with the store key (src/store/sealer.ts). */
export interface SealerPort {
  seal(plain: string): string;
  open(sealed: string): string;
}

export interface EnqueueOptions {
  platform: string;
  userId: string;
  target: Target | null;
  total?: number;
  note?: string;
}

/** Where commands start durable jobs (src/core/jobs.ts). */
export interface JobQueue {
  enqueue(kind: string, args: unknown, opts: EnqueueOptions): Promise<number>;
}

/** What the dispatcher uses (src/core/dispatcher.ts). */
export interface DispatcherPorts<A> {
  log: Logger;
  db: DB;
  roles: RolesPort;
  registry: Pick<Registry<A>, 'resolve' | 'suggest' | 'bind'>;
  notifier: NotifierPort;
  jobs: JobQueue;
  metrics: Pick<CoreMetrics, 'commands'>;
  sealer: SealerPort;
  /** The commands behind pressed buttons (src/core/buttons.ts). */
  buttons: Pick<ButtonStore, 'open' | 'take' | 'usedBy' | 'release' | 'ttlMs'>;
}

/** What the job runner uses (src/core/jobs.ts). */
export interface JobRunnerPorts<A> {
  mode: AppMode;
  config: Pick<Config, 'jobs'>;
  log: Logger;
  db: DB;
  registry: { readonly jobKinds: ReadonlyMap<string, JobKind<A>> };
  notifier: NotifierPort;
  metrics: Pick<CoreMetrics, 'jobs'>;
}
