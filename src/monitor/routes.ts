// Agent API: enrol, config (ETag), results, CDR. Bearer node tokens (stored hashed); a disabled node's
// token gets 403 "node disabled". Every JSON body is bounded in size (per-route bodyLimit, 413) and in
// nesting depth (400, checked on the raw text before parsing, so a 5 000-deep object never reaches a
// recursive parser or validator), then validated by Ajv WITHOUT removing unknown properties: an unknown
// field of a result is a 400 naming it (Fastify's default Ajv would silently drop it). The results body and its
// schema are the wire protocol's (src/wire/results.ts), shared with the agent that posts it.
import type { FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import type { App } from '../app-types.js';
import { sendHttpError } from '../http/http-errors.js';
import { errorReply, SbError } from '../util/errors.js';
import { lazyValidator } from '../http/lazy-validator.js';
import { useDepthCheckedJson } from '../http/json-depth.js';
import { QueueFull } from '../store/group-commit.js';
import type { MonitorService } from './service.js';
import { RESULTS_BODY_SCHEMA, type ResultsBody } from '../wire/results.js';
import type { CallIn, NodeRow, RejectedResult } from './types.js';

const FACTS_MAX_BYTES = 16_384;
const AGENT_AJV_OPTIONS = { removeAdditional: false, useDefaults: true, coerceTypes: false, allErrors: false, strict: false } as const;

// CDR calls: the agent owns their shape (it reads the PBX's CDR layout); fields the bot does not use are ignored.
const cdrSchema = {
  type: 'object',
  required: ['calls'],
  properties: {
    nodeId: { type: 'integer', minimum: 1 },
    clock: { type: 'integer', minimum: 0 },
    calls: {
      type: 'array',
      maxItems: 5000,
      items: {
        type: 'object',
        required: ['callId', 'at', 'dst'],
        properties: {
          callId: { type: 'string', minLength: 1, maxLength: 64 },
          at: { type: 'integer' },
          src: { type: 'string', maxLength: 128 },
          dst: { type: 'string', maxLength: 128 },
          duration: { type: 'integer', minimum: 0 },
          billsec: { type: 'integer', minimum: 0 },
          disposition: { type: 'string', maxLength: 32 },
          dcontext: { type: 'string', maxLength: 128 },
          raw: { type: 'string', maxLength: 4000 },
        },
      },
    },
  },
};

function formatErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const text = errors.map((e) => {
    const p = `${dataVar}${e.instancePath || ''}`;
    const extra = (e.params as { additionalProperty?: string } | undefined)?.additionalProperty;
    return e.keyword === 'additionalProperties' && extra ? `${p}/${extra}: unknown field "${extra}"` : `${p} ${e.message}`;
  });
  return new Error(text.join(', '));
}

export function registerAgentRoutes(app: App, svc: MonitorService): void {
  const http = app.http;
  const cfg = app.config.monitor;
  const bodyLimit = cfg.bodyLimitBytes;
  const nodes = new WeakMap<FastifyRequest, NodeRow>();
  // Authentication runs on request, before the body is read or validated: a bad token is always 401.
  const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
    const node = await inTime(req, svc.nodes.authenticate(req.headers.authorization));
    if (!node) return errorReply(reply, 'SB_AGENT_TOKEN_INVALID', 'missing, wrong or revoked node token');
    if (!node.enabled) return errorReply(reply, 'SB_AGENT_NODE_DISABLED', `node disabled: ${node.name} was disabled on the bot (monitor enable ${node.name}); the token is fine`);
    nodes.set(req, node);
  };
  const auth = (req: FastifyRequest): NodeRow | null => nodes.get(req) ?? null;
  // Posts being handled (read, checked, stored, answered). Past the bound a post is answered 503 with
  // Retry-After before its body is parsed (Node drains it, the connection stays open): a thousand agents posting back to back then wait in their own
  // spools instead of in a queue of sockets that makes every answer seconds late.
  let inFlight = 0;
  const admit = async (req: FastifyRequest, reply: FastifyReply) => {
    if (inFlight >= cfg.ingest.maxInFlight) {
      return errorReply(reply, 'SB_BUSY', `the bot is busy (${inFlight} posts being handled); retry later`, { headers: { 'retry-after': '1' } });
    }
    inFlight++;
    arrived.set(req, Date.now());
    reply.raw.once('close', () => inFlight--);
  };
  // An admitted post is answered within monitor.ingest.maxAnswerMs of its arrival, whatever holds it up: the
  // token or sensor lookup, a write, on a store that stalls (the Galera nodes left wait until a lost one is
  // evicted). Past it the answer is 503 with Retry-After: 1 while the work goes on; safe, because results are
  // idempotent (a batch sent again finds what was stored meanwhile) and nothing is acknowledged before its commit.
  const arrived = new WeakMap<FastifyRequest, number>();
  function inTime<T>(req: FastifyRequest, work: Promise<T>): Promise<T> {
    const at = arrived.get(req);
    if (at === undefined) return work;
    let timer: NodeJS.Timeout | undefined;
    let late = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          late = true;
          reject(new QueueFull(`the store did not answer within ${cfg.ingest.maxAnswerMs} ms; retry later (nothing is lost: a result stored meanwhile is counted as a duplicate)`, 1));
        },
        Math.max(0, at + cfg.ingest.maxAnswerMs - Date.now()),
      );
    });
    // Work that fails after its post was answered is logged here (it is nobody's unhandled rejection).
    work.catch((err: unknown) => {
      if (late && !(err instanceof QueueFull) && !(err as { statusCode?: number }).statusCode)
        app.log.warn({ reason: String((err as Error)?.message ?? err) }, 'agent post failed after it was answered 503');
    });
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }
  // The store unavailable or too much waiting to be stored: 503 with Retry-After (the agent keeps its spool);
  // a refused batch: SB_AGENT_RESULTS_REJECTED with `rejected`; the rest as any route (src/http/http-errors.ts).
  const errorHandler = (err: unknown, _req: FastifyRequest, reply: FastifyReply) => void sendHttpError(reply, err, app.log, { api: 'agent' });
  http.register(async (scope) => {
    scope.setErrorHandler(errorHandler);
    // Unknown fields are refused, not removed; nothing is coerced (see the header).
    scope.setValidatorCompiler(({ schema }) => lazyValidator(schema, AGENT_AJV_OPTIONS));
    scope.setSchemaErrorFormatter(formatErrors);
    useDepthCheckedJson(scope, cfg.maxJsonDepth);

    scope.post(
      '/api/v1/agent/enroll',
      {
        bodyLimit: 4096,
        schema: { body: { type: 'object', required: ['code'], properties: { code: { type: 'string', minLength: 6, maxLength: 64 }, hostname: { type: 'string', maxLength: 255 } } } },
      },
      async (req, reply) => {
        const r = await svc.enroll((req.body as { code: string }).code);
        if (!r) return errorReply(reply, 'SB_AGENT_ENROL_CODE_INVALID', 'enrolment code unknown, used or expired');
        app.log.info({ node: r.node }, 'agent enrolled');
        return r;
      },
    );

    scope.get('/api/v1/agent/config', { onRequest }, async (req, reply) => {
      const node = auth(req);
      if (!node) return reply;
      await svc.nodes.touch(node);
      const { body, etag } = await svc.sensors.agentConfig(node.id, { cdr: node.role !== 'apply' });
      reply.header('etag', etag);
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return body;
    });

    scope.post('/api/v1/agent/results', { onRequest: [admit, onRequest], bodyLimit, schema: { body: RESULTS_BODY_SCHEMA } }, async (req, reply) => {
      const node = auth(req);
      if (!node) return reply;
      const body = req.body as ResultsBody;
      if (body.nodeId !== undefined && body.nodeId !== node.id) return errorReply(reply, 'SB_AGENT_WRONG_NODE', 'this token belongs to another node; a node can write only its own results');
      let facts = body.facts;
      if (facts && JSON.stringify(facts).length > FACTS_MAX_BYTES) {
        app.log.warn({ node: node.name }, `agent facts larger than ${FACTS_MAX_BYTES} bytes ignored`);
        facts = undefined;
      }
      const work = async () => {
        // The node is heard from and its clock judged even when every result is refused.
        await svc.nodes.observeClock(node, { clock: body.clock, results: body.results });
        // Stored results write the node's last_seen in their own transaction (group commit).
        await svc.nodes.touch(node, facts, { lastSeenWritten: body.results.length > 0 });
        if (body.dropped) await noteDropped(node, body.dropped);
        return svc.ingest(node, body.results).catch(async (err: unknown) => {
          const rejected = err instanceof SbError && err.code === 'SB_AGENT_RESULTS_REJECTED' ? (err.details?.rejected as RejectedResult[]) : undefined;
          if (rejected) {
            logRejected(node, rejected, 'the whole batch');
            await svc.nodes.touch(node); // heard from, though nothing was stored
          }
          throw err;
        });
      };
      const r = await inTime(req, work());
      if (r.rejected) logRejected(node, r.rejected, 'the rest of the batch was stored');
      return { ok: true, ...r };
    });

    scope.post('/api/v1/agent/cdr', { onRequest: [admit, onRequest], bodyLimit, schema: { body: cdrSchema } }, async (req, reply) => {
      const node = auth(req);
      if (!node) return reply;
      const body = req.body as { nodeId?: number; calls: CallIn[]; clock?: number };
      if (body.nodeId !== undefined && body.nodeId !== node.id) return errorReply(reply, 'SB_AGENT_WRONG_NODE', 'this token belongs to another node; a node can write only its own results');
      if (body.clock !== undefined) await svc.nodes.observeClock(node, { clock: body.clock });
      const r = await svc.ingestCdr(node, body.calls);
      await svc.nodes.touch(node);
      return { ok: true, ...r };
    });
  });

  /** One log line per kind of refusal, with the first reason of each. */
  function logRejected(node: NodeRow, rejected: { reason: string }[], what: string): void {
    const kinds = new Map<string, { count: number; first: string }>();
    for (const r of rejected) {
      const kind = /\/at: /.test(r.reason) ? 'stamped too far in the future' : 'sensor not assigned to the node';
      const k = kinds.get(kind) ?? kinds.set(kind, { count: 0, first: r.reason }).get(kind)!;
      k.count++;
    }
    for (const [kind, k] of kinds) app.log.warn({ node: node.name, rejected: k.count, first: k.first }, `agent results refused (${kind}); ${what}`);
  }

  /**
   * Results an agent dropped (spool full, or refused by the bot) are logged and announced. While the node's
   * clock is off every result it sends is refused, so the announcement comes at most once per node per repeat
   * interval (a claim in the store, so across replicas too), pointing at the clock-skew alert.
   */
  async function noteDropped(node: NodeRow, dropped: number): Promise<void> {
    app.log.warn({ node: node.name, dropped }, 'agent dropped results (spool full, or refused by the bot)');
    if (node.clock_bad && !(await app.claims.claim(`mon:dropped:${node.id}`, cfg.repeatMs))) return;
    await app.notifier.notify(cfg.alertTargets, {
      text: `⚠️ the agent on ${node.name} dropped ${dropped} result(s): its spool was full while the bot was unreachable, or the bot refused them${node.clock_bad ? ' (its clock is off: see the clock-skew alert; repeats of this notice are held back for a while)' : ''}`,
    });
  }
}
