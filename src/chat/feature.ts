// The `chat` feature: finds the chat platforms (one file each in src/chat/platforms/, see platform.ts) with the
// plugin loader, assembles the `chat` config section from their fragments, builds the enabled platforms'
// adapters, registers them with the notifier (so `slack:C0123`-style targets work) and connects them on start.
// One platform failing to connect never stops the others: each adapter retries with back-off in the
// background. Across replicas: a connection only one replica may hold (a platform's `singleConnection`: the
// Discord gateway, Telegram long polling) goes through a lease (connection-lease.ts), and every inbound event
// is claimed in the store by its platform id, so it is dispatched once.
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App, Feature } from '../app-types.js';
import type { ConfigSection } from '../config.js';
import type { ChatAdapter } from '../core/types.js';
import { registerSecret } from '../secrets.js';
import { Leases } from '../core/leases.js';
import { OWNER } from '../core/jobs.js';
import { importPlugins } from '../util/plugin-dir.js';
import { ConnectionLease } from './connection-lease.js';
import type { InboundClaim } from './inbound-checks.js';
import { platformEnabled, type ChatPlatform, type ChatPlatformAdapters, type ChatPlatformConfigs, type NamedChatPlatform } from './platform.js';

/** Where the shipped platforms are: one descriptor file each. */
export const PLATFORMS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'platforms');

export type ChatConfig = { reconnect: { baseMs: number; maxMs: number } } & ChatPlatformConfigs;

declare module '../config.js' {
  interface ConfigSections {
    chat: ChatConfig;
  }
}

export interface ChatService {
  adapters: ChatAdapter[];
  /** The adapter of each enabled platform, by platform name. */
  platforms: Partial<ChatPlatformAdapters> & Record<string, ChatAdapter | undefined>;
  /** The connections held through a lease (server mode), by platform name: Discord's gateway, Telegram's long polling. */
  leases: Record<string, ConnectionLease | undefined>;
}

declare module '../app-types.js' {
  interface Services {
    chat: ChatService;
  }
}

/** Inbound events are remembered this long: Slack retries an event for about 5 minutes after the first try. */
export const INBOUND_CLAIM_TTL_MS = 60 * 60_000;

/** A lease name within the store's 64 characters (ids are short; anything odd is hashed). */
function leaseName(platform: string, id: string): string {
  const name = `chat:${platform}:${id}`;
  return name.length <= 64 ? name : `chat:${platform}:${crypto.createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

/** The platform descriptors in `dir` (`export const platform`), named by their files. */
export async function loadChatPlatforms(dir: string): Promise<NamedChatPlatform[]> {
  const found = await importPlugins<{ platform?: ChatPlatform }>(dir, { what: 'chat platform' });
  return found.map(({ name, path: file, mod }) => {
    if (!mod.platform || typeof mod.platform.build !== 'function') throw new Error(`chat platform file ${file} does not export \`platform\` (a ChatPlatform with build())`);
    return { name, platform: mod.platform };
  });
}

/** The `chat` config section: `reconnect` plus one `chat.<name>` object per platform, with its env names and secrets. */
export function chatConfigSectionFor(platforms: NamedChatPlatform[]): ConfigSection {
  const properties: Record<string, unknown> = {
    reconnect: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { baseMs: { type: 'integer', minimum: 10, default: 1000 }, maxMs: { type: 'integer', minimum: 100, default: 60000 } },
    },
  };
  const env: Record<string, string> = {};
  const secrets: string[] = [];
  for (const { name, platform } of platforms) {
    if (properties[name]) throw new Error(`chat platform "${name}" clashes with the config key chat.${name}`);
    properties[name] = { type: 'object', additionalProperties: false, default: {}, properties: platform.config.properties };
    for (const [variable, key] of Object.entries(platform.config.env ?? {})) {
      if (env[variable]) throw new Error(`chat platforms "${env[variable]!.split('.')[0]}" and "${name}" both read ${variable}`);
      env[variable] = `${name}.${key}`;
    }
    for (const key of platform.config.secrets ?? []) secrets.push(`${name}.${key}`);
  }
  return { key: 'chat', schema: { type: 'object', additionalProperties: false, properties }, env, secrets };
}

/** "a,b" values in a config file arrive as one string; accept comma lists. */
const ids = (l: unknown): string[] =>
  (Array.isArray(l) ? l : [])
    .flatMap((s) => String(s).split(','))
    .map((s) => s.trim())
    .filter(Boolean);

/** The chat feature over these platforms (the shipped feature: the files of PLATFORMS_DIR). */
export function chatFeatureFor(platforms: NamedChatPlatform[]): Feature {
  const config = chatConfigSectionFor(platforms);
  /** The platforms built in each app's init, by app (start needs their descriptors and configs). */
  const built = new WeakMap<App, { name: string; platform: ChatPlatform<unknown>; config: Record<string, unknown>; adapter: ChatAdapter }[]>();
  return {
    name: 'chat',
    // Connects the chat platforms last, once every capability is up.
    after: ['dhcp', 'monitor', 'provision', 'renew'],
    config,
    async init(app: App) {
      const c = app.config.chat as unknown as Record<string, Record<string, unknown>> & Pick<ChatConfig, 'reconnect'>;
      const log = app.log.child({ mod: 'chat' });
      const svc: ChatService = { adapters: [], platforms: {}, leases: {} };
      const mine: NonNullable<ReturnType<typeof built.get>> = [];
      // The store decides which replica handles an event; if it cannot answer, the event is handled here
      // (a possible duplicate rather than a lost command).
      const claimInbound =
        (platform: string): InboundClaim =>
        async (key) => {
          try {
            return await app.claims.claim(`chat:${platform}:${key}`, INBOUND_CLAIM_TTL_MS);
          } catch (err) {
            log.warn({ platform, err: String(err) }, 'could not claim an inbound event in the store; handling it here');
            return true;
          }
        };
      registerChatSecrets(c, config);
      for (const { name, platform } of platforms) {
        const pc = c[name] ?? {};
        if (!platformEnabled(platform, pc)) continue;
        const setting = (key: string) => {
          const variable = Object.entries(platform.config.env ?? {}).find(([, k]) => k === key)?.[0];
          return variable ? `${variable} (chat.${name}.${key})` : `chat.${name}.${key}`;
        };
        const allowList = ids(pc[platform.allowList]);
        const adapter = await platform.build({
          app,
          name,
          config: pc,
          allowList,
          reconnect: c.reconnect,
          maxBytes: app.config.uploads.maxBytes,
          log: log.child({ platform: name }),
          claimInbound: claimInbound(name),
          setting,
        });
        if (adapter.platform !== name) throw new Error(`chat platform file ${name} built an adapter for "${adapter.platform}"; the file name is the platform's name`);
        if (allowList.length === 0) log.warn(`${setting(platform.allowList)} is empty: nobody can use the bot there until it lists who may`);
        svc.platforms[name] = adapter;
        svc.adapters.push(adapter);
        mine.push({ name, platform, config: pc, adapter });
      }
      for (const a of svc.adapters) app.notifier.register(a);
      built.set(app, mine);
      app.services.chat = svc;
    },
    async start(app: App) {
      const sink = async (inc: Parameters<App['dispatcher']['handle']>[0]) => {
        try {
          await app.dispatcher.handle(inc);
        } catch (err) {
          app.log.error({ err: String(err), platform: inc.platform }, 'dispatch failed');
        }
      };
      const svc = app.services.chat;
      // This app instance's name in the lease rows (several app instances in one process are distinct holders).
      const leases = new Leases(app.db, `${OWNER}/chat-${crypto.randomBytes(4).toString('hex')}`);
      // Adapters retry their own connection with back-off; connect them side by side and in the background,
      // so a platform that is down neither delays start-up nor holds up the others.
      for (const { name, platform, config: pc, adapter: a } of built.get(app) ?? []) {
        const single = platform.singleConnection?.(pc, a);
        if (single === undefined) {
          void a.start(sink).catch((err) => app.log.error({ err: String(err), platform: name }, 'chat adapter failed to start'));
          continue;
        }
        const lease = new ConnectionLease(leases, leaseName(name, single), { connect: () => a.start(sink), disconnect: () => a.stop() }, app.log.child({ mod: 'chat', platform: name }));
        svc.leases[name] = lease;
        lease.start();
      }
      app.onStop(async () => {
        await Promise.all(Object.values(svc.leases).map((l) => l?.stop()));
        await Promise.all(svc.adapters.map((a) => a.stop().catch(() => undefined)));
      });
    },
  };
}

/** Masks every secret of a `chat` config (each platform's declared secret keys) in logs and messages. */
export function registerChatSecrets(chat: unknown, section: ConfigSection = chatConfigSection): void {
  for (const s of section.secrets ?? []) registerSecret(secretAt(chat, s));
}

/** The value at a dotted key path of the chat section (a secret to mask in logs). */
function secretAt(section: unknown, dotted: string): string | undefined {
  let cur = section;
  for (const part of dotted.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
  return typeof cur === 'string' ? cur : undefined;
}

/** The shipped platforms: the files of PLATFORMS_DIR. */
export const CHAT_PLATFORMS: NamedChatPlatform[] = await loadChatPlatforms(PLATFORMS_DIR);
export const chatFeature: Feature = chatFeatureFor(CHAT_PLATFORMS);
export const chatConfigSection: ConfigSection = chatFeature.config!;
