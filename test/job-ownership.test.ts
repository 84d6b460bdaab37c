// Who may write a job: only the process that owns it while it runs. A replica settles a job whose owner looks
// dead; the late owner (it was only paused) then stops without overwriting that verdict. A job that recorded
// the result of its stored work is settled as succeeded with it, never as "failed — interrupted".
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../src/core/command.js';
import type { JobKind } from '../src/app-types.js';
import { deferred, peerApps, type Peers } from './helpers/peers.js';
import { sleep, until } from './helpers/wait.js';

const target = { platform: 'test', channel: 'C1' };
const opts = { platform: 'test', userId: 'admin', target };

describe.each(['sqlite', 'mysql'] as const)('job ownership on %s', (engine) => {
  let peers: Peers | undefined;
  afterEach(async () => {
    await peers?.close();
    peers = undefined;
  });

  /** A = the owner, "paused": no heartbeat within the test; B = a replica that counts a 1 s silence as dead. */
  async function pausedOwnerAndReplica(kinds: Record<string, JobKind>) {
    peers = await peerApps(engine, 2, [{ 'jobs.heartbeatMs': 600_000 }, { 'jobs.staleAfterMs': 1000 }]);
    for (const app of peers.apps) for (const [k, v] of Object.entries(kinds)) app.registry.addJobKind(k, v);
    return { a: peers.apps[0]!, b: peers.apps[1]!, chat: peers.chat };
  }

  it('a job settled by another replica stays settled: the late owner is aborted, edits nothing and does not overwrite it', async () => {
    const gate = deferred();
    let abortedAtEnd: boolean | undefined;
    const { a, b, chat } = await pausedOwnerAndReplica({
      gated: {
        async run(ctx) {
          ctx.progress(1, 3, 'one');
          await gate.promise;
          ctx.progress(2, 3, 'two'); // finds the job is no longer its own
          await until('the late owner to notice', () => ctx.signal.aborted, 10_000);
          abortedAtEnd = ctx.signal.aborted;
          return 'all three done';
        },
      },
    });
    const id = await a.jobs.enqueue('gated', {}, opts);
    await until('the job to run', async () => (await a.jobs.get(id))?.done === 1);
    await sleep(1300);
    expect(await b.jobs.recover()).toBe(1);
    const settled = (await b.jobs.get(id))!;
    expect(settled.status).toBe('failed');
    expect(settled.error).toMatch(/^interrupted: the process running it \(peer-0\.test:1000:p0\) stopped before it finished$/);
    const msg = chat.messages.find((m) => m.text.includes(`Job #${id}`))!;
    const editsAtSettle = msg.edits.length;
    expect(msg.text).toMatch(/❌ Job #\d+ gated: failed — interrupted/);

    gate.resolve();
    const end = await a.jobs.wait(id);
    expect(abortedAtEnd).toBe(true);
    expect(end.status).toBe('failed');
    const row = (await b.jobs.get(id))!;
    expect(row).toMatchObject({ status: 'failed', error: settled.error, result: null, finished_at: settled.finished_at, done: 1 });
    expect(msg.edits.length).toBe(editsAtSettle);
    expect(msg.text).toMatch(/❌ Job #\d+ gated: failed — interrupted/);
  });

  it('a job whose work was stored is settled as succeeded with its stored result, and stays so', async () => {
    const gate = deferred();
    const { a, b, chat } = await pausedOwnerAndReplica({
      stores: {
        async run(ctx) {
          await ctx.committed({ text: 'Stored 3 phones.', data: { phones: 3 } });
          await gate.promise;
          return 'Stored 3 phones; files written.';
        },
      },
    });
    const id = await a.jobs.enqueue('stores', {}, opts);
    await until('the work to be stored', async () => (await a.jobs.get(id))?.committed);
    await sleep(1300);
    expect(await b.jobs.recover()).toBe(1);
    const row = (await b.jobs.get(id))!;
    expect(row.status).toBe('succeeded');
    expect(row.error).toBeNull();
    const result = JSON.parse(row.result!);
    expect(result.data).toEqual({ phones: 3 });
    expect(result.text).toBe('Stored 3 phones.\n⚠ The process running this job (peer-0.test:1000:p0) stopped before its final report; the result above is what it had stored.');
    const msg = chat.messages.find((m) => m.text.includes(`Job #${id}`))!;
    expect(msg.text).toMatch(/^✅ Job #\d+ stores: done\nStored 3 phones\.\n⚠ The process running this job/);

    gate.resolve();
    await a.jobs.wait(id);
    expect((await b.jobs.get(id))!.result).toBe(row.result);
  });

  it('a lost owner cannot store its work: committed() in the transaction throws and rolls the work back', async () => {
    const gate = deferred();
    let thrown = '';
    const { a, b } = await pausedOwnerAndReplica({
      late: {
        async run(ctx) {
          await gate.promise;
          try {
            await ctx.app.db.transaction().execute(async (tx) => {
              await tx.insertInto('kv').values({ k: 'late-work', v: 'stored', updated_at: Date.now() }).execute();
              await ctx.committed('stored late', tx);
            });
          } catch (err) {
            thrown = (err as Error).message;
            throw err;
          }
          return 'done';
        },
      },
    });
    const id = await a.jobs.enqueue('late', {}, opts);
    await until('the job to run', async () => (await a.jobs.get(id))?.status === 'running');
    await sleep(1300);
    expect(await b.jobs.recover()).toBe(1);
    gate.resolve();
    await a.jobs.wait(id);
    expect(thrown).toBe(`job #${id} was settled by another process`);
    expect(await a.db.selectFrom('kv').selectAll().where('k', '=', 'late-work').executeTakeFirst()).toBeUndefined();
    expect((await a.jobs.get(id))!).toMatchObject({ status: 'failed', committed: null });
  });

  it('stored work stands when the job fails later; a rolled-back transaction leaves nothing committed', async () => {
    peers = await peerApps(engine, 1);
    const [app] = peers.apps as [Peers['apps'][number]];
    app.registry.addJobKind('fails-after', {
      async run(ctx) {
        await ctx.committed('Stored 2 hosts.');
        throw new UserError('could not reload the DHCP server');
      },
    });
    app.registry.addJobKind('rolls-back', {
      async run(ctx) {
        await ctx.app.db
          .transaction()
          .execute(async (tx) => {
            await ctx.committed('never stored', tx);
            throw new Error('the work failed');
          })
          .catch(() => undefined);
        throw new UserError('nothing stored');
      },
    });
    const one = await app.jobs.wait(await app.jobs.enqueue('fails-after', {}, opts));
    expect(one.status).toBe('succeeded');
    expect(JSON.parse(one.result!).text).toBe('Stored 2 hosts.\n⚠ After this work was stored: could not reload the DHCP server (SB_COMMAND_REFUSED)');
    const two = await app.jobs.wait(await app.jobs.enqueue('rolls-back', {}, opts));
    expect(two).toMatchObject({ status: 'failed', error: 'nothing stored (SB_COMMAND_REFUSED)', committed: null });
  });

  it('jobs heartbeat in every mode while they run (exec too), not only in server mode', async () => {
    peers = await peerApps(engine, 1, [{ 'jobs.heartbeatMs': 200 }], 'exec');
    const [app] = peers.apps as [Peers['apps'][number]];
    const gate = deferred();
    app.registry.addJobKind('silent', { run: async () => (await gate.promise, 'quiet') });
    const id = await app.jobs.enqueue('silent', {}, { ...opts, target: null });
    const started = await until('the job to run', async () => {
      const r = await app.jobs.get(id);
      return r?.status === 'running' ? r : undefined;
    });
    await until('a heartbeat', async () => ((await app.jobs.get(id))!.heartbeat_at ?? 0) > started.heartbeat_at! + 300, 10_000);
    gate.resolve();
    expect((await app.jobs.wait(id)).status).toBe('succeeded');
  });
});
