// CDRs as a real PBX writes them. cdr-csv's column order (…, amaflags, uniqueid, userfield[, peeraccount,
// linkedid, sequence]): two calls with the same userfield and two legs of one call all reach the bot, a line
// whose start time cannot be read is skipped and counted (never stored as "now"), a custom column order from
// the agent config is honoured. FreePBX's own CDR store: a MariaDB table of `asteriskcdrdb.cdr`'s shape read
// by call end (a long call written after shorter ones is not missed), its position persisted (0600), pages,
// and the agent posting from it with its password read from a file and never logged.
import fs from 'node:fs';
import path from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/mysql.js';
import { mysqlUrl, tmpDir } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { Agent, loadAgentConfig, type AgentConfig } from '../../src/agent/agent.js';
import { cdrLayout, parseCdrLine, parseCdrTime } from '../../src/agent/cdr.js';
import { CdrDbReader } from '../../src/agent/cdr-db.js';
import type { CdrDbConfig } from '../../src/agent/config.js';

const dir = tmpDir('sb-mon-cdr-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let seq = 0;
const sub = (name: string) => {
  const d = path.join(dir, `${name}-${++seq}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

/** A Master.csv line in cdr-csv's order; `extra` appends newcdrcolumns' peeraccount, linkedid, sequence. */
function masterLine(o: { uniqueid: string; userfield?: string; dst: string; start?: string; dstchannel?: string; disposition?: string; duration?: number; extra?: [string, string, string] }): string {
  const start = o.start ?? '2026-11-22 10:00:00';
  const f = ['', '2001', o.dst, 'from-internal', '"Reception" <2001>', 'PJSIP/2001-00000001', o.dstchannel ?? 'PJSIP/trunk-00000002', 'Dial', `PJSIP/${o.dst}@trunk,300,`, start, start, start];
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const cols = [...f.map(q), String(o.duration ?? 62), String(Math.max(0, (o.duration ?? 62) - 2)), q(o.disposition ?? 'ANSWERED'), q('DOCUMENTATION'), q(o.uniqueid), q(o.userfield ?? '')];
  if (o.extra) cols.push(q(o.extra[0]), q(o.extra[1]), o.extra[2]);
  return `${cols.join(',')}\n`;
}

describe('cdr-csv lines', () => {
  it('take the call id from uniqueid (before userfield), tell legs apart, and use sequence when written', () => {
    const a = parseCdrLine(masterLine({ uniqueid: '1763860000.41', userfield: 'campaign-7', dst: '0800111' }))!;
    const b = parseCdrLine(masterLine({ uniqueid: '1763860000.42', userfield: 'campaign-7', dst: '0800222' }))!;
    expect(a.callId.split('#')[0]).toBe('1763860000.41');
    expect(b.callId.split('#')[0]).toBe('1763860000.42');
    // Two legs of one call (a ring group, a trunk failover): one uniqueid, two records, two ids.
    const leg1 = parseCdrLine(masterLine({ uniqueid: 'pbx1-1763860000.50', dst: '0800333', dstchannel: 'PJSIP/trunk-a-01', disposition: 'FAILED' }))!;
    const leg2 = parseCdrLine(masterLine({ uniqueid: 'pbx1-1763860000.50', dst: '0800333', dstchannel: 'PJSIP/trunk-b-02' }))!;
    expect(leg1.callId).toMatch(/^pbx1-1763860000\.50#[0-9a-f]{10}$/);
    expect(leg2.callId).not.toBe(leg1.callId);
    // The same record read twice (a re-post after a failure) keeps its id.
    expect(parseCdrLine(masterLine({ uniqueid: 'pbx1-1763860000.50', dst: '0800333', dstchannel: 'PJSIP/trunk-a-01', disposition: 'FAILED' }))!.callId).toBe(leg1.callId);
    expect(parseCdrLine(masterLine({ uniqueid: '1763860000.60', dst: '1', extra: ['', '1763860000.60', '417'] }))!.callId).toBe('1763860000.60#417');
    // No uniqueid column (loguniqueid=no) or a userfield where it would be: a fingerprint of the line.
    expect(parseCdrLine(masterLine({ uniqueid: 'campaign-7', dst: '1' }))!.callId).toMatch(/^[0-9a-f]{40}$/);
  });

  it('a start time that cannot be read makes the line no CDR (never "now")', () => {
    for (const start of ['', 'yesterday', '2026-13-01 10:00:00', '2026-02-30 10:00:00', '2026-11-22 24:00:00', '22/11/2026 10:00:00']) {
      expect(parseCdrTime(start)).toBeNull();
      expect(parseCdrLine(masterLine({ uniqueid: '1763860000.1', dst: '100', start }))).toBeNull();
    }
    expect(parseCdrTime('2024-02-29 23:59:59', 'utc')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59));
  });

  it('a custom column order (cdrColumns) is read as configured and checked on load', () => {
    const layout = cdrLayout(['calldate', 'src', 'dst', 'duration', 'disposition', 'uniqueid', 'userfield']);
    const c = parseCdrLine('"2026-11-22 10:00:00","2001","0900123","75","ANSWERED","1763860000.9","x"', 'utc', layout)!;
    expect(c).toMatchObject({ at: Date.UTC(2026, 10, 22, 10), src: '2001', dst: '0900123', duration: 75, disposition: 'ANSWERED' });
    expect(c.callId.split('#')[0]).toBe('1763860000.9');
    expect(parseCdrLine('"2026-11-22 10:00:00","2001"', 'utc', layout)).toBeNull(); // too few fields
    const file = path.join(sub('cfg'), 'agent.yaml');
    const load = (extra: string) => {
      fs.writeFileSync(file, `server: http://127.0.0.1:9\nnodeId: 1\ntoken: ${'t'.repeat(40)}\n${extra}`);
      return () => loadAgentConfig(file);
    };
    expect(load('cdrColumns: calldate, src, dst, uniqueid\n')().cdrColumns).toEqual(['calldate', 'src', 'dst', 'uniqueid']);
    expect(load('cdrColumns: [src, dst, uniqueid]\n')).toThrow(/cdrColumns: the layout has no start column/);
    expect(load('cdrColumns: [start, dst, dst]\n')).toThrow(/cdrColumns: column dst appears twice/);
    expect(load('cdrSource: mysql\n')).toThrow(/cdrSource mysql needs cdrDb/);
    expect(load('cdrSource: mysql\ncdrDb: {user: x, password: hunter2}\n')).toThrow(/cdrDb.password is not read from this file.*passwordFile.*passwordEnv/);
    expect(load('cdrSource: mysql\ncdrDb: {user: x, passwordEnv: X, table: "cdr; drop"}\n')).toThrow(/cdrDb.table .* is not a plain/);
  });
});

function agentConfig(t: TestApp, e: { nodeId: number; token: string }, over: Partial<AgentConfig> = {}): AgentConfig {
  const d = sub('agent');
  return {
    server: t.app.baseUrl(),
    nodeId: e.nodeId,
    token: e.token,
    spoolDir: path.join(d, 'spool'),
    spoolMaxBytes: 1 << 20,
    cdrPath: path.join(d, 'Master.csv'),
    cdrPollMs: 100,
    configPollMs: 60_000,
    heartbeatMs: 500,
    backoffMaxMs: 1000,
    batchSize: 200,
    asterisk: '/bin/false',
    cdrTimezone: 'utc',
    ...over,
  };
}

async function enrolled(t: TestApp, name: string) {
  const svc = t.app.services.monitor;
  await svc.createEnrollment(name);
  return (await svc.enroll((await svc.createEnrollment(name, true)).code))!;
}

const storedCalls = async (t: TestApp, nodeId: number) =>
  t.app.db.selectFrom('mon_cdr_calls').select(['call_id', 'dst', 'at', 'duration', 'disposition']).where('node_id', '=', nodeId).orderBy('dst').orderBy('id').execute();

describe('the agent with a real bot', () => {
  let t: TestApp;
  const agents: Agent[] = [];
  beforeAll(async () => {
    t = await makeTestApp({ engine: 'sqlite', listen: true });
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await t?.close();
  });

  it('stores two calls with one userfield and both legs of a call; a line with an unreadable date is skipped and counted', async () => {
    const e = await enrolled(t, 'pbx-csv');
    const cfg = agentConfig(t, e);
    fs.writeFileSync(cfg.cdrPath, '');
    const a = new Agent(cfg, { log: () => {} });
    agents.push(a);
    await a.start();
    fs.appendFileSync(
      cfg.cdrPath,
      masterLine({ uniqueid: '1763860000.41', userfield: 'campaign-7', dst: '0800000001' }) +
        masterLine({ uniqueid: '1763860000.42', userfield: 'campaign-7', dst: '0800000002' }) +
        masterLine({ uniqueid: '1763860000.43', userfield: 'campaign-7', dst: '0800000003', start: '0000-00-00 00:00:00' }) +
        masterLine({ uniqueid: '1763860000.50', dst: '0800000004', dstchannel: 'PJSIP/trunk-a-01', disposition: 'FAILED', duration: 0 }) +
        masterLine({ uniqueid: '1763860000.50', dst: '0800000004', dstchannel: 'PJSIP/trunk-b-02', duration: 3600 }),
    );
    await until(
      'four calls stored and the position at the end',
      async () =>
        (await storedCalls(t, e.nodeId)).length === 4 &&
        (JSON.parse(fs.readFileSync(path.join(cfg.spoolDir, 'cdr-position.json'), 'utf8')) as { offset: number }).offset === fs.statSync(cfg.cdrPath).size,
    );
    const rows = await storedCalls(t, e.nodeId);
    expect(rows.map((r) => [r.dst, r.call_id.split('#')[0], r.disposition, r.duration])).toEqual([
      ['0800000001', '1763860000.41', 'ANSWERED', 62],
      ['0800000002', '1763860000.42', 'ANSWERED', 62],
      ['0800000004', '1763860000.50', 'FAILED', 0],
      ['0800000004', '1763860000.50', 'ANSWERED', 3600],
    ]);
    expect(rows.every((r) => r.at === Date.UTC(2026, 10, 22, 10))).toBe(true);
    expect(a.cdrSkipped).toBe(1);
    expect(fs.statSync(path.join(cfg.spoolDir, 'cdr-position.json')).mode & 0o777).toBe(0o600);
  });
});

// ---------- FreePBX's CDR database ----------

const CDR_TABLE = `CREATE TABLE cdr (
  calldate datetime NOT NULL, clid varchar(80) NOT NULL DEFAULT '', src varchar(80) NOT NULL DEFAULT '',
  dst varchar(80) NOT NULL DEFAULT '', dcontext varchar(80) NOT NULL DEFAULT '', channel varchar(80) NOT NULL DEFAULT '',
  dstchannel varchar(80) NOT NULL DEFAULT '', lastapp varchar(80) NOT NULL DEFAULT '', lastdata varchar(80) NOT NULL DEFAULT '',
  duration int(11) NOT NULL DEFAULT 0, billsec int(11) NOT NULL DEFAULT 0, disposition varchar(45) NOT NULL DEFAULT '',
  amaflags int(11) NOT NULL DEFAULT 0, accountcode varchar(20) NOT NULL DEFAULT '', uniqueid varchar(32) NOT NULL DEFAULT '',
  userfield varchar(255) NOT NULL DEFAULT '', did varchar(50) NOT NULL DEFAULT '', recordingfile varchar(255) NOT NULL DEFAULT '',
  cnum varchar(80) NOT NULL DEFAULT '', cnam varchar(80) NOT NULL DEFAULT '', outbound_cnum varchar(80) NOT NULL DEFAULT '',
  outbound_cnam varchar(80) NOT NULL DEFAULT '', dst_cnam varchar(80) NOT NULL DEFAULT '', linkedid varchar(32) NOT NULL DEFAULT '',
  peeraccount varchar(80) NOT NULL DEFAULT '', sequence int(11) NOT NULL DEFAULT 0,
  KEY calldate (calldate), KEY dst (dst), KEY accountcode (accountcode), KEY uniqueid (uniqueid), KEY did (did)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

const pad = (n: number) => String(n).padStart(2, '0');
/** A local "YYYY-MM-DD HH:MM:SS" (how Asterisk writes calldate) minutes from now. */
const localAt = (minutes: number) => {
  const d = new Date(Date.now() + minutes * 60_000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};

describe("FreePBX's CDR table (asteriskcdrdb.cdr shape) on MariaDB", () => {
  let db: { url: string; drop(): Promise<void> };
  let name = '';
  let conn: Connection;
  let sequence = 100;
  const user = `sbcdr_${Math.random().toString(36).slice(2, 8)}`;
  const password = `Cdr-pw-${Math.random().toString(36).slice(2, 12)}`;
  const base = () => new URL(mysqlUrl());
  const dbConfig = (over: Partial<CdrDbConfig> = {}): CdrDbConfig => ({
    host: base().hostname,
    port: Number(base().port || 3306),
    user: decodeURIComponent(base().username),
    database: name,
    table: 'cdr',
    lookbackHours: 24,
    lateMinutes: 10,
    pollMs: 200,
    ...over,
  });
  const insert = async (rows: { uniqueid: string; dst: string; calldate: string; duration?: number; dstchannel?: string; userfield?: string; disposition?: string }[]) => {
    for (const r of rows) {
      await conn.query(
        'INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, duration, billsec, disposition, uniqueid, linkedid, userfield, sequence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [
          r.calldate,
          '"Reception" <2001>',
          '2001',
          r.dst,
          'from-internal',
          'PJSIP/2001-00000001',
          r.dstchannel ?? 'PJSIP/trunk-00000002',
          'Dial',
          r.duration ?? 30,
          Math.max(0, (r.duration ?? 30) - 2),
          r.disposition ?? 'ANSWERED',
          r.uniqueid,
          r.uniqueid,
          r.userfield ?? '',
          ++sequence,
        ],
      );
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    name = new URL(db.url).pathname.slice(1);
    conn = await createConnection({
      host: base().hostname,
      port: Number(base().port || 3306),
      user: decodeURIComponent(base().username),
      password: decodeURIComponent(base().password),
      database: name,
    });
    await conn.query(CDR_TABLE);
    await conn.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await conn.query(`CREATE USER '${user}'@'localhost' IDENTIFIED BY '${password}'`);
    await conn.query(`GRANT SELECT ON \`${name}\`.cdr TO '${user}'@'%'`);
    await conn.query(`GRANT SELECT ON \`${name}\`.cdr TO '${user}'@'localhost'`);
  });
  afterAll(async () => {
    await conn?.query(`DROP USER IF EXISTS '${user}'@'%'`).catch(() => undefined);
    await conn?.query(`DROP USER IF EXISTS '${user}'@'localhost'`).catch(() => undefined);
    await conn?.end();
    await db?.drop();
  });

  it('reads new rows by call end, across restarts and pages, with a long call written late and both legs of a call', async () => {
    await conn.query('DELETE FROM cdr');
    await insert([
      { uniqueid: '1700000000.1', dst: 'history-1', calldate: localAt(-120) },
      { uniqueid: '1700000000.2', dst: 'history-2', calldate: localAt(-3), duration: 60 },
    ]);
    const state = path.join(sub('db'), 'cdr-db-position.json');
    const drain = async (r: CdrDbReader) => {
      const out: string[] = [];
      for (let i = 0; i < 50; i++) {
        const got = await r.read();
        if (!got) break;
        out.push(...got.calls.map((c) => c.dst));
        got.commit(got.calls.length);
        if (!got.more && !got.calls.length) break;
      }
      return out;
    };
    let r = new CdrDbReader(dbConfig(), undefined, state, 'local', 3);
    expect(await drain(r)).toEqual([]); // what was there at the first start is history
    expect(fs.statSync(state).mode & 0o777).toBe(0o600);
    await insert([
      { uniqueid: '1763860000.1', dst: 'new-1', calldate: localAt(-1), duration: 20 },
      { uniqueid: '1763860000.2', dst: 'leg', calldate: localAt(-1), duration: 0, dstchannel: 'PJSIP/trunk-a-01', disposition: 'FAILED' },
      { uniqueid: '1763860000.2', dst: 'leg', calldate: localAt(-1), duration: 40, dstchannel: 'PJSIP/trunk-b-02' },
    ]);
    const first = await drain(r);
    expect(first.sort()).toEqual(['leg', 'leg', 'new-1']);
    await r.close();
    r = new CdrDbReader(dbConfig(), undefined, state, 'local', 3); // restart: nothing again
    expect(await drain(r)).toEqual([]);
    // A call that started 50 minutes ago and just ended: written after the shorter calls above, behind them by calldate.
    await insert([{ uniqueid: '1763857000.7', dst: 'long-call', calldate: localAt(-50), duration: 50 * 60 + 5 }]);
    // Eight more, over three pages of three.
    await insert(Array.from({ length: 8 }, (_, i) => ({ uniqueid: `1763860100.${i}`, dst: `page-${i}`, calldate: localAt(-1), duration: 30 + i })));
    const later = await drain(r);
    expect(later.sort()).toEqual(['long-call', ...Array.from({ length: 8 }, (_, i) => `page-${i}`)].sort());
    expect(await drain(r)).toEqual([]);
    const pos = JSON.parse(fs.readFileSync(state, 'utf8')) as { endAt: string; seen: Record<string, string> };
    expect(pos.endAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(Object.keys(pos.seen)).toContain(`1763857000.7#${sequence - 8}`);
    await r.close();
  });

  it('the agent posts the rows to the bot, with the password read from a file and never logged', async () => {
    const t = await makeTestApp({ engine: 'sqlite', listen: true });
    const logs: string[] = [];
    const agents: Agent[] = [];
    try {
      const e = await enrolled(t, 'pbx-freepbx');
      const pwFile = path.join(sub('pw'), 'cdrdb.pass');
      fs.writeFileSync(pwFile, 'wrong-password-xyz\n', { mode: 0o600 });
      const cfg = agentConfig(t, e, { cdrSource: 'mysql', cdrTimezone: 'local', cdrDb: dbConfig({ user, passwordFile: pwFile }) });
      const log = (level: string, msg: string, extra?: Record<string, unknown>) => void logs.push(JSON.stringify({ level, msg, ...extra }));
      let a = new Agent(cfg, { log });
      agents.push(a);
      await a.start();
      await until('the refused login logged', () => logs.some((l) => l.includes('CDR source could not be read') && l.includes('Access denied')));
      await a.stop();
      fs.writeFileSync(pwFile, `${password}\n`);
      a = new Agent(cfg, { log });
      agents.push(a);
      await a.start();
      await until('the first read took the position', () => fs.existsSync(path.join(cfg.spoolDir, 'cdr-db-position.json')));
      await insert([
        { uniqueid: '1763870000.1', dst: '0900000001', calldate: localAt(-2), duration: 65, userfield: 'same' },
        { uniqueid: '1763870000.2', dst: '0900000002', calldate: localAt(-2), duration: 66, userfield: 'same' },
      ]);
      await until('both calls at the bot', async () => (await storedCalls(t, e.nodeId)).length === 2);
      const rows = await storedCalls(t, e.nodeId);
      expect(rows.map((r) => [r.dst, r.duration, r.call_id])).toEqual([
        ['0900000001', 65, `1763870000.1#${sequence - 1}`],
        ['0900000002', 66, `1763870000.2#${sequence}`],
      ]);
      expect(logs.join('\n')).not.toContain(password);
      expect(logs.join('\n')).not.toContain('wrong-password-xyz');
    } finally {
      for (const a of agents) await a.stop();
      await t.close();
    }
  });
});
