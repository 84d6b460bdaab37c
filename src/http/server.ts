// The Fastify server every HTTP face plugs into. Errors never leak stacks; bodies are size-capped.
import nodeHttp from 'node:http';
import { createRequire } from 'node:module';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import type { Logger } from '../log.js';
import { lazyValidator } from './lazy-validator.js';
import { MAX_JSON_DEPTH, useDepthCheckedJson } from './json-depth.js';
import { RETRY_AFTER_SECONDS, storeErrorReason } from '../store/store-errors.js';
import { errorRaw, errorReply } from '../util/errors.js';
import { sendHttpError } from './http-errors.js';

/**
 * The answer when the store cannot serve a plain Node handler's request now (no host answers, a node not ready,
 * conflicts past their retry bound): 503 with Retry-After, so agents back off and keep their spool, never a 500.
 * (Fastify routes get the same through sendHttpError.)
 */
export function storeUnavailableRaw(res: nodeHttp.ServerResponse, err: unknown, log: Logger, type: 'json' | 'text' = 'json'): void {
  log.warn({ code: 'SB_STORE_UNAVAILABLE', reason: storeErrorReason(err) }, 'store unavailable; answered 503');
  if (type === 'json') return errorRaw(res, 'SB_STORE_UNAVAILABLE', 'store unavailable, try again shortly', { 'retry-after': String(RETRY_AFTER_SECONDS) });
  if (res.headersSent) return void res.end();
  // Phones read text: the code leads the line.
  res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(RETRY_AFTER_SECONDS) });
  res.end('SB_STORE_UNAVAILABLE: store unavailable, try again shortly\n');
}

/** A plain Node handler for a hot path that must not pay for routing and hooks (phone config fetches). */
export type FastHandler = (req: nodeHttp.IncomingMessage, res: nodeHttp.ServerResponse) => void;

declare module 'fastify' {
  interface FastifyInstance {
    /** Serve every request whose path starts with prefix with a plain Node handler, ahead of Fastify. */
    fastRoute(prefix: string, handler: FastHandler): void;
  }
}

/** The client's address: the socket's, or with trustProxy the first X-Forwarded-For entry. */
export function clientIp(req: nodeHttp.IncomingMessage, trustProxy: boolean): string {
  const xff = trustProxy ? req.headers['x-forwarded-for'] : undefined;
  const raw = (typeof xff === 'string' && xff.split(',')[0]!.trim()) || req.socket.remoteAddress || '';
  return raw.startsWith('::ffff:') ? raw.slice(7) : raw;
}

/** Fastify's serializer compiler, loaded when a route with a response schema first answers. */
function lazySerializerFactory(externalSchemas: unknown, options: unknown) {
  let build: ((route: unknown) => (data: unknown) => string) | undefined;
  return (route: unknown) => {
    let serialize: ((data: unknown) => string) | undefined;
    return (data: unknown) => {
      build ??= (createRequire(import.meta.url)('@fastify/fast-json-stringify-compiler') as () => (e: unknown, o: unknown) => (r: unknown) => (d: unknown) => string)()(externalSchemas, options);
      serialize ??= build(route);
      return serialize(data);
    };
  };
}

export async function createHttp(opts: { log: Logger; bodyLimit?: number; uploadLimit: number; trustProxy: boolean }): Promise<FastifyInstance> {
  const fast: { prefix: string; handler: FastHandler }[] = [];
  const http = Fastify({
    serverFactory: (handler) =>
      nodeHttp.createServer((req, res) => {
        const url = req.url ?? '';
        for (const f of fast) if (url.startsWith(f.prefix)) return f.handler(req, res);
        handler(req, res);
      }),
    loggerInstance: opts.log.child({ mod: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger: hot routes (phone config fetches, caller ID) would allocate one per request.
    childLoggerFactory: (logger) => logger,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    trustProxy: opts.trustProxy,
    return503OnClosing: true,
    // Route schemas are compiled on each route's first request (src/http/lazy-validator.ts): Fastify's default
    // compilers would load Ajv, ajv-formats and fast-json-stringify and compile every schema before listening.
    schemaController: {
      compilersFactory: {
        buildValidator:
          () =>
          ({ schema }: { schema: unknown }) =>
            lazyValidator(schema),
        buildSerializer: lazySerializerFactory,
      },
    } as never, // Fastify types these factories for its own compilers' shapes

    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  http.decorate('fastRoute', (prefix: string, handler: FastHandler) => {
    fast.push({ prefix, handler });
  });
  // Every JSON body: refused with 400 when it nests deeper than MAX_JSON_DEPTH (checked on the text, before
  // parsing), then parsed as Fastify does (prototype-poisoning keys refused).
  useDepthCheckedJson(http, MAX_JSON_DEPTH);
  await http.register(cookie);
  await http.register(multipart, { limits: { fileSize: opts.uploadLimit, files: 5 } });
  // Every error a route throws (and Fastify's own) answers { code, message } (src/http/http-errors.ts).
  http.setErrorHandler((err, req, reply) => void sendHttpError(reply, err, opts.log, { url: req.url }));
  http.setNotFoundHandler((_req, reply) => void errorReply(reply, 'SB_HTTP_NOT_FOUND', 'not found'));
  return http;
}
