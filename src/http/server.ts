// The Fastify server every HTTP face plugs into. Errors never leak stacks; bodies are size-capped.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import type { Logger } from '../log.js';

export async function createHttp(opts: { log: Logger; bodyLimit?: number; uploadLimit: number; trustProxy: boolean }): Promise<FastifyInstance> {
  const http = Fastify({
    loggerInstance: opts.log.child({ mod: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    trustProxy: opts.trustProxy,
    return503OnClosing: true,
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
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
