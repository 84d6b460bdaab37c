// Caller-ID hook: GET /set_call/:number and POST /hooks/call → stored call + one message to the support channel(s).
import { errorBody, errorRef, errorReply, internalMessage, statusOf, type SbCode } from '../util/errors.js';
import crypto from 'node:crypto';
import type { App } from '../app-types.js';
import type { FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { clientIp, storeUnavailableRaw } from '../http/server.js';
import { isStoreUnavailable } from '../store/store-errors.js';
import { now, type DB } from '../store/db.js';
import { WriteBehind } from '../store/write-behind.js';
import { bulkInserter } from '../store/bulk-insert.js';
import type { HostRecord } from './service.js';
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../config.js';
import { PostOnce } from './post-once.js';

type Rule = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** dhcp.callerid.allow entries (addresses or CIDRs, IPv4 or IPv6) → rules; a bad entry is a ConfigError. */
export function compileAllow(list: string[]): Rule[] {
  return list.map((raw, i) => {
    const v = String(raw).trim();
    let rule: Rule;
    try {
      if (v.includes('/')) rule = ipaddr.parseCIDR(v);
      else {
        const a = ipaddr.parse(v);
        rule = [a, a.kind() === 'ipv4' ? 32 : 128];
      }
    } catch {
      throw new ConfigError(`invalid configuration: dhcp.callerid.allow[${i}] = ${JSON.stringify(raw)}: not an IP address or CIDR (e.g. 10.0.0.5, 10.0.0.0/24, fd00::/8)`);
    }
    // An IPv4-mapped IPv6 rule (::ffff:10.0.0.0/104) is the IPv4 rule it stands for.
    const [a, bits] = rule;
    if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) return [(a as ipaddr.IPv6).toIPv4Address(), bits - 96] as Rule;
    return rule;
  });
}

/** Whether a client address (IPv4, IPv6 or IPv4-mapped IPv6) falls in one of the rules. */
export function allowed(rules: Rule[], ip: string): boolean {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    a = ipaddr.process(ip);
  } catch {
    return false;
  }
  return rules.some(([r, bits]) => r.kind() === a.kind() && a.match(r, bits));
}

/** The token a caller sent in a header: X-Switchboard-Token, else `Authorization: Bearer …`. */
function headerToken(headers: IncomingHttpHeaders): string | string[] | undefined {
  return headers['x-switchboard-token'] ?? (headers.authorization?.startsWith('Bearer ') ? headers.authorization.slice(7) : undefined);
}

declare module '../store/db.js' {
  interface Tables {
    calls: { id: import('kysely').Generated<number>; number: string; normalized: string; name: string | null; called: string | null; source: string | null; matches: string; at: number };
  }
}

type CallRow = { number: string; normalized: string; name: string | null; called: string | null; source: string; matches: string; at: number };

declare module '../app-types.js' {
  interface Services {
    callLog: { /** Stores the calls written behind and sends the posts still being decided. */ flush(): Promise<void> /** Phone index rebuilds so far (tests). */; indexRebuilds(): number };
  }
}

export interface CallMatch {
  mac: string;
  ip: string;
  hostname: string;
  room: string | null;
  owner: string | null;
}

/** Digits only, without a leading international/trunk prefix; matching compares the last N digits. */
export function normalizeNumber(raw: string): string {
  return String(raw)
    .replace(/^\s*(\+|00)/, '')
    .replace(/\D/g, '');
}
export function tailDigits(raw: string, n: number): string {
  const d = normalizeNumber(raw);
  return d.slice(-n);
}

/** The last `n` calls stored, newest first (the ones still written behind are not in yet: flush callLog first). */
export async function recentCalls(db: DB, n: number): Promise<{ at: number; number: string; name: string | null; matches: CallMatch[] }[]> {
  const rows = await db.selectFrom('calls').select(['at', 'number', 'name', 'matches']).orderBy('id', 'desc').limit(n).execute();
  return rows.map((r) => ({ at: Number(r.at), number: r.number, name: r.name, matches: JSON.parse(r.matches) as CallMatch[] }));
}

export function formatCall(number: string, matches: CallMatch[], name?: string | null): string {
  const head = `📞 Call from ${number}${name ? ` (${name})` : ''}`;
  if (!matches.length) return `${head}: no host matches this number.`;
  return [`${head}: ${matches.length} matching host${matches.length > 1 ? 's' : ''}`, ...matches.map((m) => `• room ${m.room ?? '-'}, ${m.owner ?? '-'}, ${m.hostname}, ${m.ip}, ${m.mac}`)].join('\n');
}

/** Phone index rebuilt lazily (cheap in-memory match under load). */
class PhoneIndex {
  private at = 0;
  private map = new Map<string, CallMatch[]>();
  private n = 0;
  private v = -1;
  constructor(private app: App) {}
  private async rebuild(n: number, v: number, histId?: number): Promise<void> {
    if (histId === undefined) {
      const r = await this.app.db
        .selectFrom('dhcp_history')
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst();
      histId = Number(r?.id ?? 0);
    }
    const hosts: HostRecord[] = await this.app.services.dhcp.all();
    const map = new Map<string, CallMatch[]>();
    for (const h of hosts)
      for (const p of h.phones) {
        const k = tailDigits(p, n);
        if (!k) continue;
        const arr = map.get(k) ?? [];
        if (!arr.some((x) => x.mac === h.mac)) arr.push({ mac: h.mac, ip: h.ip, hostname: h.hostname, room: h.room, owner: h.owner });
        map.set(k, arr);
      }
    this.map = map;
    this.at = Date.now();
    this.n = n;
    this.v = v;
    this.histId = histId;
  }

  private histId = -1;
  private checking: Promise<void> | null = null;
  /** The rebuild in flight: concurrent lookups wait for it instead of starting their own. */
  private building: Promise<void> | null = null;
  rebuilds = 0;
  private build(n: number, v: number, histId?: number): Promise<void> {
    this.building ??= (this.rebuilds++, this.rebuild(n, v, histId)).finally(() => (this.building = null));
    return this.building;
  }
  async lookup(number: string): Promise<CallMatch[]> {
    const n = this.app.config.dhcp.callerid.matchDigits;
    const v = (this.app.services.dhcp as { version?: number }).version ?? 0;
    if (n !== this.n || v !== this.v || this.at === 0) {
      // A rebuild already running may be for an older version: wait for it, then look again.
      while (this.building && (n !== this.n || v !== this.v || this.at === 0)) await this.building;
      if (n !== this.n || v !== this.v || this.at === 0) await this.build(n, v);
    } else if (Date.now() - this.at > 2000) {
      // Edits from another process (switchboard exec) show up as new history rows: one indexed query
      // every 2 s, and a rebuild only when something changed.
      this.at = Date.now();
      this.checking ??= (async () => {
        const r = await this.app.db
          .selectFrom('dhcp_history')
          .select((eb) => eb.fn.max('id').as('id'))
          .executeTakeFirst();
        const id = Number(r?.id ?? 0);
        if (id !== this.histId) await this.build(n, v, id);
      })().finally(() => (this.checking = null));
      await this.checking;
    }
    return this.map.get(tailDigits(number, n)) ?? NO_MATCH;
  }
}

const NO_MATCH: CallMatch[] = [];
/** The stored form of a match list, computed once per list (lists live until the index is rebuilt). */
const matchesJson = new WeakMap<CallMatch[], string>();
function jsonOfMatches(m: CallMatch[]): string {
  let j = matchesJson.get(m);
  if (j === undefined) matchesJson.set(m, (j = JSON.stringify(m)));
  return j;
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest();
let expectedDigest: { token: string; digest: Buffer } | null = null;
/** Constant-time comparison of fixed-length digests; the configured token's digest is computed once. */
function tokenOk(expected: string | undefined, given: string | undefined): boolean {
  if (!expected || !given) return false;
  if (expectedDigest?.token !== expected) expectedDigest = { token: expected, digest: sha256(expected) };
  return crypto.timingSafeEqual(expectedDigest.digest, sha256(given));
}

export function registerCallerId(app: App): void {
  const idx = new PhoneIndex(app);
  const cfg = app.config.dhcp.callerid;
  const rules = compileAllow(cfg.allow);
  const verdicts = new Map<string, boolean>();
  const sourceOk = (ip: string): boolean => {
    if (!rules.length) return true;
    let ok = verdicts.get(ip);
    if (ok === undefined) {
      if (verdicts.size > 10_000) verdicts.clear();
      verdicts.set(ip, (ok = allowed(rules, ip)));
    }
    return ok;
  };
  // Calls are posted to the configured targets and, so the web console always shows them live, to the
  // console's default room too unless a console room is among the targets.
  const baseTargets = cfg.targets.length ? cfg.targets : app.config.notify.default;
  const postTargets = !baseTargets.length || baseTargets.some((t) => t.startsWith('console:')) ? baseTargets : [...baseTargets, `console:${app.config.console.defaultRoom}`];
  const guard = (req: FastifyRequest): string | null => {
    if (!sourceOk(req.ip)) return 'source address not allowed';
    const q = (req.query as Record<string, unknown> | undefined)?.token;
    const h = headerToken(req.headers);
    const given = typeof q === 'string' ? q : typeof h === 'string' ? h : undefined;
    return tokenOk(cfg.token, given) ? null : 'bad or missing token';
  };
  // The call row and the channel message are written behind the response: the dialplan's HTTP call
  // returns as soon as the match is known. `calls` and `call last` flush first.
  const writer = new WriteBehind<CallRow>({
    flushMs: 100,
    write: bulkInserter<'calls', CallRow>(app.store, 'calls', ['number', 'normalized', 'name', 'called', 'source', 'matches', 'at']),
    onError: (err, n) => app.log.error({ err: String(err), rows: n }, 'could not store calls'),
  });
  // Ring groups and retries hit the hook once per leg, on any replica: the same number within the window is
  // posted once (claimed in the store after the answer); every hit is still a `calls` row.
  const posts = new PostOnce(app, cfg.dedupeSeconds * 1000, (text) => app.notifier.notify(postTargets.length ? postTargets : undefined, { text }));
  app.services.callLog = { flush: async () => (await posts.settle(), await writer.flush()), indexRebuilds: () => idx.rebuilds };
  app.onStop(() => app.services.callLog.flush());
  const handle = async (number: string, name: string | null, called: string | null, source: string) => {
    const matches = await idx.lookup(number);
    const key = normalizeNumber(number);
    writer.add({
      number: number.slice(0, 64),
      normalized: key.slice(0, 64),
      name: name?.slice(0, 255) ?? null,
      called: called?.slice(0, 64) ?? null,
      source: source.slice(0, 64),
      matches: jsonOfMatches(matches),
      at: now(),
    });
    posts.offer(key, formatCall(number, matches, name));
    return matches;
  };
  const NUM = '^[0-9+()\\-. ]{1,64}$';
  const NUM_RE = new RegExp(NUM);
  // GET /set_call/<number>: a plain Node handler ahead of Fastify. A dialplan calls it on every inbound
  // call leg and waits for the answer before it goes on ringing, so it must stay cheap under bursts.
  const json = (res: ServerResponse, status: number, body: unknown, extra?: Record<string, string>): void => {
    const data = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data), 'cache-control': 'no-store', ...extra });
    res.end(data);
  };
  const fail = (res: ServerResponse, code: SbCode, message: string, extra?: Record<string, string>): void => json(res, statusOf(code), errorBody(code, message), extra);
  const fast = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const rawPath = q >= 0 ? url.slice(0, q) : url;
    const query = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 'SB_HTTP_METHOD_NOT_ALLOWED', 'only GET is allowed here; POST goes to /hooks/call', { allow: 'GET, HEAD' });
    const rest = rawPath.slice('/set_call/'.length);
    if (!rest || rest.includes('/')) return fail(res, 'SB_HTTP_NOT_FOUND', 'not found: use /set_call/<number>');
    let number: string;
    try {
      number = decodeURIComponent(rest);
    } catch {
      return fail(res, 'SB_CALLERID_BAD_NUMBER', 'the number is not valid URL encoding');
    }
    if (!NUM_RE.test(number)) return fail(res, 'SB_CALLERID_BAD_NUMBER', 'the number must be 1-64 characters of digits, +, (, ), -, . or space');
    const ip = clientIp(req, app.config.http.trustProxy);
    if (!sourceOk(ip)) return fail(res, 'SB_CALLERID_SOURCE_REFUSED', 'source address not allowed');
    const h = headerToken(req.headers);
    const given = query.get('token') ?? (typeof h === 'string' ? h : undefined);
    if (!tokenOk(cfg.token, given)) return fail(res, 'SB_CALLERID_TOKEN_INVALID', 'bad or missing token');
    // HEAD (a monitoring probe, a proxy's check) answers like GET but records and posts nothing.
    if (req.method === 'HEAD') return json(res, 200, { ok: true });
    handle(number, null, null, ip).then(
      (m) => json(res, 200, { ok: true, matches: m.length }),
      (err: unknown) => {
        if (isStoreUnavailable(err)) return storeUnavailableRaw(res, err, app.log);
        const ref = errorRef();
        app.log.error({ err, ref, code: 'SB_INTERNAL' }, 'caller-ID hook failed');
        if (!res.headersSent) fail(res, 'SB_INTERNAL', internalMessage(ref));
        else res.end();
      },
    );
  };
  app.http.fastRoute('/set_call/', fast);
  app.http.post<{ Body: { number: string; name?: string; called?: string } }>(
    '/hooks/call',
    {
      // Source and token first (onRequest, before the body is read or validated): a bad token is 401
      // whatever the body holds.
      onRequest: async (req, reply) => {
        const bad = guard(req);
        if (bad) return errorReply(reply, bad.startsWith('source') ? 'SB_CALLERID_SOURCE_REFUSED' : 'SB_CALLERID_TOKEN_INVALID', bad);
      },
      schema: {
        body: { type: 'object', required: ['number'], properties: { number: { type: 'string', pattern: NUM }, name: { type: 'string', maxLength: 255 }, called: { type: 'string', maxLength: 64 } } },
      },
    },
    async (req) => {
      const m = await handle(req.body.number, req.body.name ?? null, req.body.called ?? null, req.ip);
      return { ok: true, matches: m.length };
    },
  );
}
