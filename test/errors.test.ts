// The error catalogue (src/util/errors.ts) is the one list of codes: the README lists exactly its codes, every
// `new SbError('SB_…')` / coded UserError in the source names one of them, and the three faces use them — a chat
// refusal shows its code, an HTTP error answers `{ code, message }` with the catalogue status, an internal
// error is SB_INTERNAL with a ref and nothing of the error itself.
// `UPDATE_README=1 npx vitest run test/errors.test.ts` rewrites the README's table from the catalogue.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, SbError, isSbCode } from '../src/util/errors.js';
import { UserError, codeOf, familyCode, withCode } from '../src/core/command.js';
import { httpErrorOf } from '../src/http/http-errors.js';
import { listSources } from './helpers/import-graph.js';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { createHttp } from '../src/http/server.js';
import { pino } from 'pino';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const README = path.join(ROOT, 'README.md');
const START = '<!-- error-codes:start (generated from src/util/errors.ts by test/errors.test.ts) -->';
const END = '<!-- error-codes:end -->';

function table(): string {
  const rows = Object.entries(ERROR_CATALOGUE).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.summary.replace(/\|/g, '\\|')} |`);
  return [START, '| code | HTTP status | meaning |', '| --- | --- | --- |', ...rows, END].join('\n');
}

describe('error catalogue', () => {
  it('README lists every code of the catalogue with its status and meaning, and no other', () => {
    let text = fs.readFileSync(README, 'utf8');
    const at = text.indexOf(START);
    expect(at, 'README.md has no generated error-code table').toBeGreaterThan(0);
    if (process.env.UPDATE_README) {
      text = text.slice(0, at) + table() + text.slice(text.indexOf(END) + END.length);
      fs.writeFileSync(README, text);
    }
    const end = text.indexOf(END);
    expect(text.slice(at, end + END.length), 'README error table differs: run UPDATE_README=1 npx vitest run test/errors.test.ts').toBe(table());
    const mentioned = new Set(text.match(/\bSB_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g));
    expect(
      [...mentioned].filter((c) => !isSbCode(c)),
      'README names codes the catalogue lacks',
    ).toEqual([]);
  });

  it('every code the source names is in the catalogue, and every catalogue code is used somewhere', () => {
    const files = listSources(ROOT, ['src', 'commands', 'drivers']).filter((f) => f !== 'src/util/errors.ts');
    const used = new Set<string>();
    const unknown: string[] = [];
    for (const f of files) {
      const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
      for (const m of text.matchAll(/\bSB_[A-Z0-9_]+\b/g)) {
        used.add(m[0]);
        if (!isSbCode(m[0])) unknown.push(`${f}: ${m[0]}`);
      }
    }
    expect(unknown).toEqual([]);
    // Codes only the catalogue names would be dead entries of the README.
    expect(Object.keys(ERROR_CATALOGUE).filter((c) => !used.has(c))).toEqual([]);
  });

  it('codes are SB_ followed by upper-case words; statuses are HTTP error statuses', () => {
    for (const [code, e] of Object.entries(ERROR_CATALOGUE)) {
      expect(code).toMatch(/^SB_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      expect(e.status >= 400 && e.status < 600, code).toBe(true);
      expect(e.summary.length, code).toBeGreaterThan(10);
    }
  });

  it("a UserError without a code takes its command family's; a named code wins", () => {
    expect(familyCode('dhcp add')).toBe('SB_DHCP_REFUSED');
    expect(familyCode('silence')).toBe('SB_ALERTS_REFUSED');
    expect(familyCode('some plugin')).toBe('SB_COMMAND_REFUSED');
    expect(codeOf(new UserError('no'), 'provision log')).toBe('SB_PROVISION_REFUSED');
    expect(codeOf(new UserError('dup', 'SB_DHCP_DUPLICATE_MAC'), 'provision log')).toBe('SB_DHCP_DUPLICATE_MAC');
    expect(withCode('Not added:\nip: taken', 'SB_DHCP_DUPLICATE_IP')).toBe('Not added: (SB_DHCP_DUPLICATE_IP)\nip: taken');
  });

  it('maps Fastify and store errors to codes, keeping their status; anything else is SB_INTERNAL with a ref', () => {
    const tooLarge = Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    expect(httpErrorOf(tooLarge)).toMatchObject({ status: 413, code: 'SB_HTTP_PAYLOAD_TOO_LARGE', message: 'request body is too large' });
    expect(httpErrorOf(Object.assign(new Error('body/x must be string'), { statusCode: 400, code: 'FST_ERR_VALIDATION', validation: [] }))).toMatchObject({ status: 400, code: 'SB_HTTP_BAD_REQUEST' });
    expect(httpErrorOf(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toMatchObject({ status: 503, code: 'SB_STORE_UNAVAILABLE', headers: { 'retry-after': '2' } });
    expect(httpErrorOf(new SbError('SB_AGENT_RESULTS_REJECTED', 'nope', { rejected: [1] }))).toMatchObject({ status: 400, code: 'SB_AGENT_RESULTS_REJECTED', details: { rejected: [1] } });
    const internal = httpErrorOf(new Error('secret path /etc/x exploded'));
    expect(internal).toMatchObject({ status: 500, code: 'SB_INTERNAL' });
    expect(internal.message).toBe(`internal error (ref ${internal.ref}); the details are in the bot's log`);
    expect(internal.ref).toMatch(/^[0-9a-f]{6}$/);
  });
});

describe('error codes on the wire', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ overrides: { 'dhcp.subnets': [{ cidr: '10.40.0.0/24', pool: '10.40.0.200-10.40.0.250', gateway: '10.40.0.1' }] } });
    t.app.registry.add({
      name: 'boom',
      usage: 'boom',
      summary: 'fails',
      role: 'viewer',
      async run() {
        throw new Error('database exploded at /secret/path');
      },
    });
  });
  afterAll(() => t.close());

  it('a chat refusal carries its code in the reply and in the audit row', async () => {
    const add = 'dhcp add mac=00:11:22:33:44:55 ip=auto name=pc-a';
    expect((await t.run(add)).exitCode).toBe(0);
    const dup = await t.run(add.replace('pc-a', 'pc-b'));
    expect(dup.replies[0]).toMatch(/^❌ A host with MAC 00:11:22:33:44:55 exists .* \(SB_DHCP_DUPLICATE_MAC\)$/);
    const ip = (await t.app.services.dhcp.getByMac('00:11:22:33:44:55'))!.ip;
    const taken = await t.run(`dhcp add mac=00:11:22:33:44:66 ip=${ip} name=pc-c`);
    expect(taken.replies[0]).toMatch(/^❌ Not added: \(SB_DHCP_DUPLICATE_IP\)\nip: .* is already used by/);
    const unknown = await t.run('dhcp frobnicate');
    expect(unknown.replies[0]).toMatch(/^⚠️ Unknown command "dhcp frobnicate"\..* \(SB_UNKNOWN_COMMAND\)$/);
    const usage = await t.run('dhcp add mac=00:11:22:33:44:77 colour=red');
    expect(usage.replies[0]).toMatch(/^⚠️ unknown field\(s\): colour \(SB_USAGE\)\nUsage: /);
    const rows = await t.app.db.selectFrom('audit_log').select(['command', 'detail']).where('outcome', '!=', 'ok').orderBy('id').execute();
    expect(rows.map((r) => r.detail?.split(':')[0])).toEqual(['SB_DHCP_DUPLICATE_MAC', 'SB_DHCP_DUPLICATE_IP', 'SB_UNKNOWN_COMMAND', 'SB_USAGE']);
  });

  it('an internal error in a command is SB_INTERNAL with a ref that finds the log line; the reply has no detail of it', async () => {
    const r = await t.run('boom');
    const ref = /\(ref ([0-9a-f]{6})\)/.exec(r.replies[0]!)![1]!;
    expect(r.replies[0]).toBe(`❌ \`boom\` failed with an internal error (ref ${ref}); the details are in the bot's log. (SB_INTERNAL)`);
    expect(t.logs.find((l) => l.includes(ref))).toMatch(/"code":"SB_INTERNAL".*database exploded|database exploded.*"code":"SB_INTERNAL"/);
  });

  it('an HTTP error is { code, message } with the catalogue status; an internal one is SB_INTERNAL with a ref and no stack', async () => {
    const missing = await t.app.http.inject({ method: 'GET', url: '/no/such/route' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'SB_HTTP_NOT_FOUND', message: 'not found' });
    const login = await t.app.http.inject({ method: 'POST', url: '/console/api/login', headers: { 'content-type': 'text/plain' }, payload: 'x' });
    expect(login.statusCode).toBe(415);
    expect(login.json()).toMatchObject({ code: 'SB_HTTP_UNSUPPORTED_MEDIA_TYPE', message: 'send JSON' });
    const agent = await t.app.http.inject({ method: 'GET', url: '/api/v1/agent/config', headers: { authorization: 'Bearer nope' } });
    expect(agent.statusCode).toBe(401);
    expect(agent.json()).toMatchObject({ code: 'SB_AGENT_TOKEN_INVALID', message: 'missing, wrong or revoked node token' });
    // A route that fails unexpectedly, on a server made as the app makes its own.
    const logs: string[] = [];
    const http = await createHttp({ log: pino({ level: 'info' }, { write: (l: string) => void logs.push(l) }), uploadLimit: 1024, trustProxy: false });
    http.get('/test/boom', async () => {
      throw new Error('database exploded at /secret/path');
    });
    http.post('/test/echo', async (req) => req.body);
    const deep = await http.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '['.repeat(100) + ']'.repeat(100) });
    expect(deep.statusCode).toBe(400);
    expect(deep.json()).toMatchObject({ code: 'SB_HTTP_JSON_TOO_DEEP', message: 'body nests deeper than 64 levels' });
    const boom = await http.inject({ method: 'GET', url: '/test/boom' });
    await http.close();
    expect(boom.statusCode).toBe(500);
    const body = boom.json() as { code: string; message: string };
    expect(body.code).toBe('SB_INTERNAL');
    expect(body.message).toMatch(/^internal error \(ref [0-9a-f]{6}\); the details are in the bot's log$/);
    expect(boom.body).not.toMatch(/exploded|secret|at /);
    const ref = /ref ([0-9a-f]{6})/.exec(body.message)![1]!;
    expect(logs.find((l) => l.includes(ref))).toMatch(/database exploded/);
  });
});
