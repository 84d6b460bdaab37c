// Three real `switchboard start` processes on one MariaDB database (and `switchboard exec` against it) serve
// the store's truth: phones, restarts, caller ID, fetch announcements, jobs, schedules and DHCP apply.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CALLERID_TOKEN, Cluster, ConsoleClient, type HttpAnswer, type Replica } from './harness.js';
import { sleep, until } from '../helpers/wait.js';

const FANVIL_UA = 'Fanvil X1SG 2.12.0.0 0c383e000000';
const PASSWORD = 'Sip-Secret-42';

let seq = 0;
/** A fresh Fanvil MAC (12 hex digits) and extension per phone. */
function newPhone(): { mac: string; ext: string } {
  seq++;
  return { mac: `0c383e${crypto.randomBytes(3).toString('hex')}`, ext: String(3000 + seq + Math.floor(Math.random() * 500) * 10) };
}
const colon = (mac: string) => mac.match(/../g)!.join(':');
const provisionWords = (p: { mac: string; ext: string }, name = `Desk ${p.ext}`) => ['provision', 'fanvil-x1sg', `mac=${colon(p.mac)}`, `ext=${p.ext}`, `name="${name}"`, `password=${PASSWORD}`];

/** Runs check every 100 ms for ms milliseconds; the first failure throws (an invariant held over a window). */
async function holdFor(ms: number, check: () => Promise<void> | void): Promise<void> {
  const end = Date.now() + ms;
  do {
    await check();
    await sleep(100);
  } while (Date.now() < end);
  await check();
}

describe('three replicas on one MariaDB store', () => {
  let c: Cluster;
  let con: ConsoleClient;
  let r: Replica[];

  const fetchAll = (mac: string): Promise<HttpAnswer[]> => Promise.all(r.map((x) => x.get(`/provision/${mac}.cfg`, { 'user-agent': FANVIL_UA })));
  const describeAnswers = (a: HttpAnswer[]) => a.map((x, i) => `${r[i]!.name}: ${x.status} ${x.status === 200 ? `${x.body.length} bytes` : x.text.trim()}`).join('; ');

  /** Polls until every replica serves the phone's file with the same bytes; returns them and the wait. */
  async function servedEverywhere(mac: string, timeoutMs: number): Promise<{ body: Buffer; ms: number }> {
    const t0 = Date.now();
    let last: HttpAnswer[] = [];
    for (;;) {
      last = await fetchAll(mac);
      if (last.every((a) => a.status === 200 && a.body.equals(last[0]!.body))) return { body: last[0]!.body, ms: Date.now() - t0 };
      if (Date.now() - t0 > timeoutMs) throw new Error(`after ${Date.now() - t0} ms the replicas do not serve ${mac}.cfg alike: ${describeAnswers(last)}`);
      await sleep(50);
    }
  }

  /** Provisions one phone inline through a replica's console (or exec) and waits for the reply. */
  async function provisionVia(via: Replica | 'exec', p: { mac: string; ext: string }, name?: string): Promise<void> {
    if (via === 'exec') {
      const res = await c.exec(provisionWords(p, name));
      expect(res.code, `exec provision: ${res.stdout}${res.stderr}`).toBe(0);
      expect(res.stdout).toMatch(/Provisioned: 1 phone/);
      return;
    }
    const after = await con.command(via, 'prov', provisionWords(p, name).join(' '));
    const reply = await con.waitReply('prov', after, /Provisioned|Not provisioned|error/);
    expect(reply.text).toMatch(/Provisioned: 1 phone/);
  }

  beforeAll(async () => {
    c = await Cluster.create();
    r = c.replicas;
    await c.startAll();
    con = await ConsoleClient.login(c, r[0]!);
  }, 180_000);

  afterAll(async () => {
    await c?.destroy();
  }, 60_000);

  beforeEach(async () => {
    await c.heal();
  }, 120_000);

  it('serves a phone provisioned through exec or through any replica byte-identical on all three within 2 s', async () => {
    for (const via of ['exec', r[0]!, r[1]!, r[2]!] as const) {
      const p = newPhone();
      await provisionVia(via, p);
      const { body, ms } = await servedEverywhere(p.mac, 10_000);
      const who = via === 'exec' ? 'exec' : via.name;
      expect(ms, `a phone provisioned through ${who} took ${ms} ms to be served by all three`).toBeLessThanOrEqual(2000);
      expect(body.toString()).toContain(p.ext);
    }
  });

  it('a restart and `exec whoami` leave every phone version and byte unchanged, and every served URL absolute', async () => {
    const phones = [newPhone(), newPhone()];
    await provisionVia('exec', phones[0]!);
    await provisionVia(r[1]!, phones[1]!);
    const all = (await c.query<{ mac: string }>('SELECT mac FROM phones ORDER BY mac')).map((x) => x.mac);
    const versions = async () => Object.fromEntries((await c.query<{ mac: string; version: number }>('SELECT mac, version FROM phones ORDER BY mac')).map((x) => [x.mac, Number(x.version)]));
    const before = await versions();
    const bytes = new Map<string, Buffer>();
    for (const mac of all) bytes.set(mac, (await servedEverywhere(mac, 10_000)).body);

    await r[1]!.stop();
    r[1]!.start();
    await r[1]!.ready();
    const who = await c.exec(['whoami']);
    expect(who.code, who.stdout + who.stderr).toBe(0);

    // Whatever a restart or an exec would rewrite reaches every replica within 2 s: watch 3 s.
    await holdFor(3000, async () => expect(await versions()).toEqual(before));
    const publicRoot = `${c.publicUrl}/provision/`;
    for (const mac of all) {
      const answers = await fetchAll(mac);
      answers.forEach((a, i) => {
        expect(a.status, `${r[i]!.name} ${mac}: ${a.text}`).toBe(200);
        expect(a.text, `${r[i]!.name} serves a host-less URL for ${mac}`).not.toMatch(/Flash Server IP\s*:\/provision\//);
        const url = /Flash Server IP\s*:(\S*)/.exec(a.text)?.[1];
        expect(url, `${r[i]!.name} ${mac}: provisioning URL`).toBe(publicRoot);
        expect(a.body.equals(bytes.get(mac)!), `${r[i]!.name} serves other bytes for ${mac} after the restart and exec`).toBe(true);
      });
    }
  });

  it('one caller-ID number hit on all three within 1 s is posted once', async () => {
    const number = `5511${crypto.randomInt(10_000_000, 99_999_999)}`;
    const t0 = Date.now();
    const hits = await Promise.all(r.flatMap((x) => [0, 1].map(() => x.get(`/set_call/${number}`, { 'x-switchboard-token': CALLERID_TOKEN }))));
    const spread = Date.now() - t0;
    hits.forEach((h) => expect(h.status, h.text).toBe(200));
    expect(spread, 'the six hits were not all answered within 1 s').toBeLessThan(1000);
    const posts = async () => (await con.botMessages('calls')).filter((m) => m.text.includes(number)).length;
    await until('the call to be posted', async () => (await posts()) > 0, 10_000);
    // Posts are fired behind the response: any second one would follow within a second or two.
    await holdFor(2500, async () => expect(await posts(), 'posts of one number').toBe(1));
    // Every hit is still a stored call.
    await until('six stored calls', async () => Number((await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM calls WHERE normalized = ?', [number]))[0]!.n) === 6, 10_000);
  });

  it('one fetch of a new config version, fetched from all three, is announced once', async () => {
    const p = newPhone();
    await provisionVia(r[0]!, p);
    // Every replica serves what the store holds within 2 s (the first test); fetch only after that, since
    // every fetch is one the bot may announce.
    await sleep(2500);
    const burst = await fetchAll(p.mac);
    expect(
      burst.every((a) => a.status === 200 && a.body.equals(burst[0]!.body)),
      describeAnswers(burst),
    ).toBe(true);
    await sleep(1200);
    for (const x of r) expect((await x.get(`/provision/${p.mac}.cfg`, { 'user-agent': FANVIL_UA })).status).toBe(200);
    const macRe = new RegExp(`${colon(p.mac)}[^\\n]*fetched its config`, 'i');
    const announcements = async () => (await con.botMessages('prov')).filter((m) => macRe.test(m.text)).length;
    await until('the fetch to be announced', async () => (await announcements()) > 0, 10_000);
    await holdFor(2500, async () => expect(await announcements(), 'announcements of one version').toBe(1));

    // A new version (another name, through another replica: the announcement goes where the phone was last
    // provisioned), fetched again from all three: announced once more, once.
    await provisionVia(r[1]!, p, 'Renamed desk');
    await sleep(2500);
    const again = await fetchAll(p.mac);
    expect(
      again.every((a) => a.status === 200 && a.text.includes('Renamed desk') && a.body.equals(again[0]!.body)),
      describeAnswers(again),
    ).toBe(true);
    await until('the new version to be announced', async () => (await announcements()) > 1, 10_000);
    await holdFor(2500, async () => expect(await announcements(), 'announcements of two versions').toBe(2));
  });

  it('a job owned by a SIGSTOPped replica is failed by another and stays failed after SIGCONT', async () => {
    const owner = r[1]!;
    const after = await con.command(owner, 'jobs', 'selftest 8');
    const job = await until(
      'the selftest job to run on replica 2',
      async () =>
        (
          await c.query<{ id: number; owner: string; status: string; done: number }>("SELECT id, owner, status, done FROM jobs WHERE kind = 'selftest' AND status = 'running' ORDER BY id DESC LIMIT 1")
        )[0],
      20_000,
    );
    expect(c.replicaOfOwner(job.owner), `job owner ${job.owner}`).toBe(owner);
    // Paused right after a progress write: the owner may be between proving it owns the job and editing its message.
    await until('a first tick', async () => Number((await c.query<{ done: number }>('SELECT done FROM jobs WHERE id = ?', [job.id]))[0]!.done) >= 1, 10_000, 10);
    owner.pause();
    const row = async () => (await c.query<{ status: string; error: string | null; owner: string }>('SELECT status, error, owner FROM jobs WHERE id = ?', [job.id]))[0]!;
    await until('another replica to fail the paused job', async () => (await row()).status === 'failed', 30_000);
    const failed = await row();
    expect(failed.error).toBeTruthy();
    owner.resume();
    // The paused owner had 7 of 8 one-second ticks left: watch past the end of its work.
    await holdFor(10_000, async () => {
      const now = await row();
      expect(now.status, `job #${job.id} after SIGCONT (error was ${failed.error})`).toBe('failed');
      expect(now.error).toBe(failed.error);
    });
    const msg = (await con.botMessages('jobs', after)).find((m) => m.text.includes(`Job #${job.id} `));
    expect(msg?.text, 'the job message').toMatch(/failed/);
  });

  it('the prune and stale-node schedules run once per period and resume within 60 s after their holder is SIGKILLed', async () => {
    expect(await c.tableExists('schedule_runs'), 'table schedule_runs(name, period, owner, at) does not exist').toBe(true);
    type Run = { name: string; period: string; owner: string; at: number };
    const runs = async () => (await c.query<Run>('SELECT name, CAST(period AS CHAR) AS period, owner, at FROM schedule_runs ORDER BY at')).map((x) => ({ ...x, at: Number(x.at) }));
    const isPrune = (x: Run) => /prune/.test(x.name) && !/change|feed/.test(x.name);
    const isStale = (x: Run) => /tick|stale/.test(x.name);
    const noDuplicates = async () => {
      const dup = await c.query<{ name: string; period: string; n: number }>('SELECT name, CAST(period AS CHAR) AS period, COUNT(*) AS n FROM schedule_runs GROUP BY name, period HAVING COUNT(*) > 1');
      expect(dup, 'schedule periods run more than once').toEqual([]);
    };
    await until(
      'three periods of each schedule',
      async () => {
        const all = await runs();
        return all.filter(isPrune).length >= 3 && all.filter(isStale).length >= 3;
      },
      40_000,
    );
    await noDuplicates();

    const all = await runs();
    const holder = c.replicaOfOwner(all.filter(isPrune).at(-1)!.owner);
    expect(holder, `the prune holder ${all.filter(isPrune).at(-1)!.owner} is one of the replicas`).toBeDefined();
    const victims = new Set<Replica>([holder!]);
    const staleHolder = c.replicaOfOwner(all.filter(isStale).at(-1)!.owner);
    if (staleHolder) victims.add(staleHolder);
    const deadOwners = new Set(all.filter((x) => victims.has(c.replicaOfOwner(x.owner)!)).map((x) => x.owner));
    const killedAt = Date.now();
    await Promise.all([...victims].map((v) => v.kill()));

    const resumed = async (pred: (x: Run) => boolean) => (await runs()).find((x) => pred(x) && x.at > killedAt && !deadOwners.has(x.owner));
    const [prune, stale] = await Promise.all([
      until('prune to run on a live replica', () => resumed(isPrune), 75_000, 250),
      until('the stale-node check to run on a live replica', () => resumed(isStale), 75_000, 250),
    ]);
    expect(prune.at - killedAt, 'prune resumed after (ms)').toBeLessThanOrEqual(60_000);
    expect(stale.at - killedAt, 'stale-node check resumed after (ms)').toBeLessThanOrEqual(60_000);
    await noDuplicates();
  }, 150_000);

  it('a DHCP apply asked on one replica and confirmed on another writes files in exactly one place', async () => {
    const liveFile = (x: Replica | string) => path.join(typeof x === 'string' ? x : x.dataDir, 'apply', 'dnsmasq-hosts.conf');
    const places = () => [...r.map((x) => x.dataDir), c.execDir].filter((d) => fs.existsSync(liveFile(d)));
    const applyVia = async (ask: Replica, confirm: Replica) => {
      const a = await con.command(ask, 'apply', 'dhcp apply');
      const q = await con.waitReply('apply', a, /confirm [A-Z0-9]+|error|failed/i);
      const code = /confirm ([A-Z0-9]+)/.exec(q.text)?.[1];
      expect(code, q.text).toBeTruthy();
      const b = await con.command(confirm, 'apply', `confirm ${code}`);
      const done = await con.waitReply('apply', b, /Applied|aborted|error|failed|No pending/i);
      expect(done.text).toMatch(/Applied/);
    };
    for (const [i, name] of ['apply-pc-1', 'apply-pc-2'].entries()) {
      const add = await c.exec(['dhcp', 'add', `mac=02:00:00:00:0a:${10 + i}`, `ip=10.0.0.${30 + i}`, `name=${name}`]);
      expect(add.code, add.stdout + add.stderr).toBe(0);
    }
    await applyVia(r[0]!, r[1]!);
    const first = places();
    expect(first, 'data dirs holding the applied file after one apply').toHaveLength(1);
    expect(fs.readFileSync(liveFile(first[0]!), 'utf8')).toContain('apply-pc-2');

    const more = await c.exec(['dhcp', 'add', 'mac=02:00:00:00:0a:20', 'ip=10.0.0.40', 'name=apply-pc-3']);
    expect(more.code, more.stdout + more.stderr).toBe(0);
    await applyVia(r[2]!, r[0]!);
    expect(places(), 'data dirs holding the applied file after two applies through other replicas').toEqual(first);
    expect(fs.readFileSync(liveFile(first[0]!), 'utf8')).toContain('apply-pc-3');
  });
});
