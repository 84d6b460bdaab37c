// Applies run where the daemons run. A node enrolled with role `apply` (`monitor enroll dhcp1 role=apply
// targets=isc,proxy`) owns those backends: `dhcp apply` renders their files on the bot and hands them to the node
// as a *generation* (a row in dhcp_apply_generations, with the chat target the apply was asked in). The node's
// agent (src/agent/apply.ts) pulls the newest pending generation (ETag), runs the daemons' checkers itself, swaps
// all files or none, runs the reload commands from its own config and reports the outcome, which the bot posts
// where the apply was asked. Everything is in the store: a bot restarted mid-apply still has the generation,
// the agent's report (retried until the bot takes it) still finds where to post, and a generation is reported
// and posted once (conditional updates). Backends assigned to no node stay the bot's own (local apply).
import { errorReply } from '../util/errors.js';
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App, Services } from '../app-types.js';
import type { Target as ChatTarget } from '../core/types.js';
import { affected, insertedId, now, type DB } from '../store/db.js';
import type { RenderSubnet } from '../../drivers/dhcp/types.js';
import type { BackendName, RenderedFile, RenderInput } from './backends/types.js';
import type { DhcpBackends } from './backends/index.js';

/** An agent node as the monitoring service authenticates it (app.services.monitor). */
type AgentNode = NonNullable<Awaited<ReturnType<Services['monitor']['nodes']['authenticate']>>>;

declare module '../store/db.js' {
  interface Tables {
    dhcp_apply_generations: {
      id: import('kysely').Generated<number>;
      node_id: number;
      request_id: number | null;
      dry_run: number;
      backends: string;
      payload: string;
      etag: string;
      reply_to: string | null;
      status: string;
      ok: number | null;
      outcome: string | null;
      created_at: number;
      taken_at: number | null;
      finished_at: number | null;
      posted: Generated<number>;
    };
  }
}
type Generated<T> = import('kysely').Generated<T>;

/** What the agent pulls: one generation for its node. */
export interface GenerationPayload {
  generation: number;
  dryRun: boolean;
  backends: { name: BackendName; files: RenderedFile[] }[];
  subnets: RenderSubnet[];
  summary: string;
  hosts: number;
  notes: string;
}

export interface ApplyNode {
  id: number;
  name: string;
  backends: BackendName[];
  lastSeen: number | null;
  enrolled: boolean;
}

/** `isc,proxy` → the backend names; throws with the unknown one (and the loaded ones) named. */
export function parseApplyTargets(text: string, backends: DhcpBackends): BackendName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length) throw new Error('targets= names no backend (e.g. targets=isc,proxy)');
  for (const n of names) {
    const bad = backends.unknown(n, 'targets=');
    if (bad) throw new Error(bad);
  }
  return [...new Set(names)];
}

const etagOf = (id: number, payload: string) => `"g${id}-${crypto.createHash('sha256').update(payload).digest('hex').slice(0, 16)}"`;

export class ApplyAgents {
  constructor(private app: App) {}

  private get db(): DB {
    return this.app.db;
  }

  /** Enabled apply nodes and the backends each owns. */
  async nodes(): Promise<ApplyNode[]> {
    const rows = await this.db
      .selectFrom('mon_nodes')
      .select(['id', 'name', 'apply_targets', 'last_seen', 'token_hash'])
      .where('role', '=', 'apply')
      .where('enabled', '=', 1)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({ id: r.id, name: r.name, backends: parseApplyTargets(r.apply_targets ?? '', this.app.services.dhcpBackends), lastSeen: r.last_seen, enrolled: !!r.token_hash }));
  }

  /** Hands one apply to a node: its backends' files rendered now. Returns the generation id. */
  async handOver(node: ApplyNode, input: RenderInput, o: { requestId: number | null; dryRun: boolean; replyTo: string | null; summary: string; notes: string }): Promise<number> {
    const backends = node.backends.map((name) => ({ name, files: this.app.services.dhcpBackends.get(name)!.render(input) }));
    return this.db.transaction().execute(async (tx) => {
      const r = await tx
        .insertInto('dhcp_apply_generations')
        .values({
          node_id: node.id,
          request_id: o.requestId,
          dry_run: o.dryRun ? 1 : 0,
          backends: node.backends.join(','),
          payload: '',
          etag: '',
          reply_to: o.replyTo,
          status: 'pending',
          ok: null,
          outcome: null,
          created_at: now(),
          taken_at: null,
          finished_at: null,
        })
        .executeTakeFirst();
      const id = insertedId(r);
      const payload: GenerationPayload = { generation: id, dryRun: o.dryRun, backends, subnets: input.subnets, summary: o.summary, hosts: input.hosts.length, notes: o.notes };
      const text = JSON.stringify(payload);
      await tx
        .updateTable('dhcp_apply_generations')
        .set({ payload: text, etag: etagOf(id, text) })
        .where('id', '=', id)
        .execute();
      return id;
    });
  }

  /** The newest pending generation for a node, or null. */
  async pending(nodeId: number) {
    return (
      (await this.db
        .selectFrom('dhcp_apply_generations')
        .select(['id', 'payload', 'etag', 'taken_at'])
        .where('node_id', '=', nodeId)
        .where('status', '=', 'pending')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst()) ?? null
    );
  }

  /**
   * The agent's outcome for a generation: stored once (pending → done), older pending generations of the node
   * are superseded, and the outcome is posted where the apply was asked, once. Returns false when the generation
   * is not the node's.
   */
  async report(nodeId: number, nodeName: string, id: number, outcome: { ok: boolean; text: string }): Promise<boolean> {
    const g = await this.db.selectFrom('dhcp_apply_generations').select(['id', 'node_id', 'status', 'dry_run']).where('id', '=', id).executeTakeFirst();
    if (!g || g.node_id !== nodeId) return false;
    const upd = await this.db
      .updateTable('dhcp_apply_generations')
      .set({ status: 'done', ok: outcome.ok ? 1 : 0, outcome: outcome.text, finished_at: now() })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (affected(upd)) {
      const older = await this.db.selectFrom('dhcp_apply_generations').select('id').where('node_id', '=', nodeId).where('status', '=', 'pending').where('id', '<', id).execute();
      for (const o of older) {
        const u = await this.db
          .updateTable('dhcp_apply_generations')
          .set({ status: 'superseded', ok: 0, outcome: `superseded by generation ${id}`, finished_at: now() })
          .where('id', '=', o.id)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        if (affected(u)) await this.post(o.id, `DHCP apply on ${nodeName} (generation ${o.id}) was not run: a newer apply (generation ${id}) replaced it before the agent took it.`);
      }
    }
    const icon = outcome.ok ? '✅' : '❌';
    await this.post(id, `${icon} DHCP apply on ${nodeName} (generation ${id}${g.dry_run ? ', dry run' : ''}): ${outcome.text}`);
    return true;
  }

  /** Posts a generation's message to where its apply was asked, once across processes. */
  private async post(id: number, text: string): Promise<void> {
    const claim = await this.db.updateTable('dhcp_apply_generations').set({ posted: 1 }).where('id', '=', id).where('posted', '=', 0).executeTakeFirst();
    if (!affected(claim)) return;
    const row = await this.db.selectFrom('dhcp_apply_generations').select('reply_to').where('id', '=', id).executeTakeFirst();
    const target = row?.reply_to ? (JSON.parse(row.reply_to) as ChatTarget) : null;
    if (target) {
      try {
        await this.app.notifier.send(target, { text });
        return;
      } catch (err) {
        this.app.log.error({ err: String(err), generation: id }, 'could not post an apply outcome where the apply was asked; posting to the notification targets');
      }
    }
    const targets = this.app.config.dhcp.callerid.targets;
    await this.app.notifier.notify(targets.length ? targets : [], { text });
  }

  /** Agent API: GET /api/v1/agent/apply (ETag) and POST /api/v1/agent/apply/:generation. */
  registerRoutes(): void {
    const nodes = new WeakMap<FastifyRequest, AgentNode>();
    // The token is checked on request, before the body is read or validated: a bad token is always 401.
    const onRequest = async (req: FastifyRequest, reply: FastifyReply) => {
      const node = await this.app.services.monitor.nodes.authenticate(req.headers.authorization);
      if (!node) return errorReply(reply, 'SB_AGENT_TOKEN_INVALID', 'missing, wrong or revoked node token');
      if (!node.enabled) return errorReply(reply, 'SB_AGENT_NODE_DISABLED', `node disabled: ${node.name} was disabled on the bot (monitor enable ${node.name}); the token is fine`);
      if (node.role !== 'apply') return errorReply(reply, 'SB_AGENT_NOT_APPLY_NODE', `node ${node.name} is not an apply node (enrol one with monitor enroll <name> role=apply targets=…)`);
      nodes.set(req, node);
    };
    this.app.http.get('/api/v1/agent/apply', { onRequest }, async (req, reply) => {
      const node = nodes.get(req)!;
      await this.app.services.monitor.nodes.touch(node);
      const g = await this.pending(node.id);
      const etag = g ? g.etag : '"none"';
      reply.header('etag', etag);
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      if (!g) return { generation: null };
      if (!g.taken_at) await this.db.updateTable('dhcp_apply_generations').set({ taken_at: now() }).where('id', '=', g.id).where('taken_at', 'is', null).execute();
      return reply.type('application/json').send(g.payload);
    });
    this.app.http.post(
      '/api/v1/agent/apply/:generation',
      {
        onRequest,
        bodyLimit: 256 * 1024,
        schema: {
          params: { type: 'object', properties: { generation: { type: 'integer', minimum: 1 } }, required: ['generation'] },
          body: { type: 'object', required: ['ok', 'text'], properties: { ok: { type: 'boolean' }, text: { type: 'string', maxLength: 20_000 } } },
        },
      },
      async (req, reply) => {
        const node = nodes.get(req)!;
        await this.app.services.monitor.nodes.touch(node);
        const id = (req.params as { generation: number }).generation;
        const body = req.body as { ok: boolean; text: string };
        if (!(await this.report(node.id, node.name, id, body))) return errorReply(reply, 'SB_AGENT_APPLY_UNKNOWN', `generation ${id} is not one of ${node.name}'s applies`);
        return { ok: true };
      },
    );
  }
}
