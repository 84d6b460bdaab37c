// The chat-platform contract. A platform is one file `src/chat/platforms/<name>.ts` exporting
// `platform: ChatPlatform`; the chat feature (feature.ts) finds the files with the plugin loader, builds the
// `chat.<name>` config section from each descriptor's fragment, builds the enabled platforms' adapters and
// connects them (through a lease where only one replica may hold the connection). The file name is the
// platform's name: its config key, its notifier targets (`<name>:<channel>`) and its adapter's `platform`.
import type { App } from '../app-types.js';
import type { Logger } from '../log.js';
import type { ChatAdapter } from '../core/types.js';
import type { InboundClaim } from './inbound-checks.js';

/**
 * Each platform's `chat.<name>` section as a type, merged in by declaration merging from its descriptor file
 * (`declare module '../platform.js' { interface ChatPlatformConfigs { slack: SlackConfig } }`).
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface ChatPlatformConfigs {}

/** Each platform's adapter class, merged in the same way (typed `app.services.chat.platforms.<name>`). */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface ChatPlatformAdapters {}

/** What a platform's `build` gets. */
export interface ChatPlatformContext<C> {
  app: App;
  /** The platform's name (its file name), e.g. `slack`. */
  name: string;
  /** `chat.<name>`, validated and filled with its schema's defaults. */
  config: C;
  /** The ids on the platform's allow-list (comma lists split). */
  allowList: string[];
  /** `chat.reconnect`: the back-off of every platform's reconnects. */
  reconnect: { baseMs: number; maxMs: number };
  /** `uploads.maxBytes`: the cap on a file people send. */
  maxBytes: number;
  log: Logger;
  /** Claims an inbound event (by the platform's event id) for the whole cluster: dispatch only when true. */
  claimInbound: InboundClaim;
  /** How to name a key of the section to a person, with its env variable: `SLACK_BOT_TOKEN (chat.slack.botToken)`. */
  setting(key: string): string;
}

export interface ChatPlatform<C = Record<string, unknown>, A extends ChatAdapter = ChatAdapter> {
  /**
   * The `chat.<name>` section: JSON-schema `properties` (defaults in the schema; the section itself is an
   * object with no other keys), the env variables that set a key of it, and the keys that hold secrets
   * (redacted in `config show`, masked in logs).
   */
  config: { properties: Record<string, unknown>; env?: Record<string, string>; secrets?: string[] };
  /** The key of the allow-list (the workspaces / chats / guilds that may use the bot); start-up warns when it is empty. */
  allowList: string;
  /** Whether the platform is on (default: `enabled`, else whether `botToken` is set). */
  enabled?(config: C): boolean;
  /**
   * The id of a connection only one replica may hold (Discord's gateway, Telegram's long polling): the chat
   * feature connects it through the lease `chat:<name>:<id>`. Undefined: every replica connects.
   */
  singleConnection?(config: C, adapter: A): string | undefined;
  /** Checks the section (an error names the missing setting) and builds the adapter, importing its SDK here, lazily. */
  build(ctx: ChatPlatformContext<C>): Promise<A>;
  /**
   * `switchboard doctor`'s rows for the platform when it is on: whether its API accepts the token (one read-only
   * call against the configured API base) and whether its allow-list names anyone. Tokens go to their own API only.
   */
  doctor?(config: C, report: DoctorReport, timeoutMs: number): Promise<void>;
}

/** One `doctor` row: what was checked, its verdict, what was seen, and (not OK) what to do. */
export type DoctorReport = (check: string, status: 'OK' | 'WARN' | 'FAIL', detail: string, fix?: string) => void;

/** Whether a platform is on: its own rule, else `enabled`, else whether a bot token is set. */
export function platformEnabled(platform: ChatPlatform<never>, config: Record<string, unknown>): boolean {
  return platform.enabled ? platform.enabled(config as never) : ((config.enabled as boolean | undefined) ?? Boolean(config.botToken));
}

/** A JSON GET for doctor probes: the status and the parsed body (`{}` when it is not JSON). */
export async function probeJson(url: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: res.status, body };
}

/** Why a probe could not reach its API, in a word where the system gives one (ECONNREFUSED, ENOTFOUND …). */
export function probeFailure(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message;
}

/** A platform as the loader found it. */
export interface NamedChatPlatform {
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: a list of platforms each with its own config and adapter types
  platform: ChatPlatform<any, any>;
}
