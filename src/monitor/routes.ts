// Agent API: enrol, config (ETag), results, CDR. Bearer node tokens (stored hashed); bodies validated by
// Fastify's ajv with a per-route body limit; errors are 4xx JSON {error} naming the field.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app-types.js';
import type { MonitorService, ResultIn, CallIn } from './service.js';

const perf = {
  type: 'object',
  required: ['label', 'value'],
  properties: { label: { type: 'string', maxLength: 200 }, value: { type: 'number' }, uom: { type: 'string', maxLength: 16 }, warn: { type: 'string', maxLength: 64 }, crit: { type: 'string', maxLength: 64 }, min: { type: 'number' }, max: { type: 'number' } },
};

const resultsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['results'],
  properties: {
    results: {
      type: 'array',
      maxItems: 5000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'sensorId', 'at', 'status', 'output'],
        properties: {
          id: { type: 'string', minLength: 8, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' },
          sensorId: { type: 'integer', minimum: 1 },
          at: { type: 'integer', minimum: 0 },
          status: { type: 'integer', minimum: 0, maximum: 3 },
          output: { type: 'string', maxLength: 8000 },
          perfdata: { type: 'array', maxItems: 100, items: perf },
        },
      },
    },
    nodeId: { type: 'integer', minimum: 1 },
    dropped: { type: 'integer', minimum: 0 },
    facts: { type: 'object' },
  },
};

const cdrSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['calls'],
  properties: {
    nodeId: { type: 'integer', minimum: 1 },
    calls: {
      type: 'array',
      maxItems: 5000,
      items: {
        type: 'object',
        required: ['callId', 'at', 'dst'],
        properties: { callId: { type: 'string', minLength: 1, maxLength: 64 }, at: { type: 'integer' }, src: { type: 'string', maxLength: 128 }, dst: { type: 'string', maxLength: 128 }, duration: { type: 'integer' }, disposition: { type: 'string', maxLength: 32 }, raw: { type: 'string', maxLength: 4000 } },
      },
    },
  },
};

export function registerAgentRoutes(app: App, svc: MonitorService): void {
  const http = app.http;
  const bodyLimit = app.config.monitor.bodyLimitBytes;
  type N = NonNullable<Awaited<ReturnType<MonitorService['authenticate']>>>;
  const nodes = new WeakMap<FastifyRequest, N>();
  // Authentication runs on request, before the body is read or validated: a bad token is always 401.
  const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
    const node = await svc.authenticate(req.headers.authorization);
    if (!node) return reply.code(401).send({ error: 'missing, wrong or revoked node token' });
    nodes.set(req, node);
  };
  const auth = async (req: FastifyRequest, _reply: FastifyReply) => nodes.get(req) ?? null;
  const errorHandler = (err: { statusCode?: number; validation?: unknown; message: string; code?: string; rejected?: unknown[] }, _req: FastifyRequest, reply: FastifyReply) => {
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 500) app.log.error({ err }, 'agent API error');
    void reply.code(code).send({ error: code === 500 ? 'internal error' : err.message, ...(code !== 500 && err.rejected ? { rejected: err.rejected } : {}) });
  };

  http.register(async (scope) => {
    scope.setErrorHandler(errorHandler);
    scope.post('/api/v1/agent/enroll', { bodyLimit: 4096, schema: { body: { type: 'object', required: ['code'], properties: { code: { type: 'string', minLength: 6, maxLength: 64 }, hostname: { type: 'string', maxLength: 255 } } } } }, async (req, reply) => {
      const r = await svc.enroll((req.body as { code: string }).code);
      if (!r) return reply.code(401).send({ error: 'enrolment code unknown, used or expired' });
      app.log.info({ node: r.node }, 'agent enrolled');
      return r;
    });

    scope.get('/api/v1/agent/config', { onRequest }, async (req, reply) => {
      const node = await auth(req, reply);
      if (!node) return reply;
      await svc.touch(node);
      const { body, etag } = await svc.agentConfig(node.id);
      reply.header('etag', etag);
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return body;
    });

    scope.post('/api/v1/agent/results', { onRequest, bodyLimit, schema: { body: resultsSchema } }, async (req, reply) => {
      const node = await auth(req, reply);
      if (!node) return reply;
      const body = req.body as { nodeId?: number; results: ResultIn[]; dropped?: number; facts?: unknown };
      if (body.nodeId !== undefined && body.nodeId !== node.id) return reply.code(401).send({ error: "this token belongs to another node; a node can write only its own results" });
      const r = await svc.ingest(node, body.results);
      if (r.rejected) app.log.warn({ node: node.name, rejected: r.rejected.length, first: r.rejected[0]!.reason }, 'agent results refused (sensor not assigned to the node); the rest of the batch was stored');
      await svc.touch(node, body.facts);
      if (body.dropped) {
        app.log.warn({ node: node.name, dropped: body.dropped }, 'agent spool overflowed; results dropped');
        await app.notifier.notify(app.config.monitor.alertTargets, { text: `⚠️ the agent on ${node.name} dropped ${body.dropped} result(s): its spool was full while the bot was unreachable, or the bot refused them` });
      }
      return { ok: true, ...r };
    });

    scope.post('/api/v1/agent/cdr', { onRequest, bodyLimit, schema: { body: cdrSchema } }, async (req, reply) => {
      const node = await auth(req, reply);
      if (!node) return reply;
      const body = req.body as { nodeId?: number; calls: CallIn[] };
      if (body.nodeId !== undefined && body.nodeId !== node.id) return reply.code(401).send({ error: "this token belongs to another node; a node can write only its own results" });
      const r = await svc.ingestCdr(node, body.calls);
      await svc.touch(node);
      return { ok: true, ...r };
    });
  });
}
