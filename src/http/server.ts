// The Fastify server every HTTP face plugs into. Errors never leak stacks; bodies are size-capped.
import nodeHttp from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import type { Logger } from '../log.js';

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
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  http.decorate('fastRoute', (prefix: string, handler: FastHandler) => {
    fast.push({ prefix, handler });
  });
  await http.register(cookie);
  await http.register(multipart, { limits: { fileSize: opts.uploadLimit, files: 5 } });
  http.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err, url: req.url }, 'request failed');
    const message = status >= 500 ? 'internal error' : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request body is too large' : err.message;
    void reply.code(status).send({ error: message });
  });
  http.setNotFoundHandler((_req, reply) => void reply.code(404).send({ error: 'not found' }));
  return http;
}
