// Real processes: a `switchboard exec` job killed or paused, and what the store says about it afterwards.
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { openStore, type Engine, type Store } from '../src/store/db.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { tmpDir } from './helpers/env.js';
import { createTestDatabase } from './helpers/mysql.js';
import { sleep, until } from './helpers/wait.js';

interface Scratch {
  env: NodeJS.ProcessEnv;
  store: Store;
  close(): Promise<void>;
}

/** A fresh store for CLI processes: a data dir (SQLite lives there) or a MariaDB database beside it. */
async function scratch(engine: Engine): Promise<Scratch> {
  const dataDir = tmpDir();
  const env: NodeJS.ProcessEnv = {
    SWITCHBOARD_DATA_DIR: dataDir,
    SWITCHBOARD_HTTP_PORT: '0',
    SWITCHBOARD_PUBLIC_URL: 'http://10.20.0.5:8080',
    SWITCHBOARD__provision__defaultServer: 'pbx.example.lan',
  };
  let drop: (() => Promise<void>) | undefined;
  if (engine === 'mysql') {
    const db = await createTestDatabase();
    env.DATABASE_URL = db.url;
    drop = db.drop;
  }
  const store = openStore(engine === 'mysql' ? { databaseUrl: env.DATABASE_URL } : { sqlitePath: path.join(dataDir, 'switchboard.sqlite') });
  return {
    env,
    store,
    async close() {
      await store.close();
      await drop?.();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once('close', (code) => r(code))));

const ROWS = 3000;
function bigSheet(): string {
  const file = path.join(tmpDir(), 'desks.csv');
  const hex = (i: number) => [(i >> 16) & 255, (i >> 8) & 255, i & 255].map((x) => x.toString(16).padStart(2, '0')).join(':');
  const rows = Array.from({ length: ROWS }, (_, i) => `0c:38:3e:${hex(i)},${10000 + i},Desk ${i},Pw!${10000 + i}abcd`);
  fs.writeFileSync(file, ['mac,ext,name,password', ...rows].join('\n') + '\n');
  return file;
}

describe.each(['sqlite', 'mysql'] as const)('a killed or paused exec job on %s', (engine) => {
  let s: Scratch | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.kill('SIGKILL');
    child = undefined;
    await s?.close();
    s = undefined;
  });

  const job = async () => s!.store.db.selectFrom('jobs').selectAll().where('id', '=', 1).executeTakeFirst();
  const phones = async () =>
    Number(
      (
        await s!.store.db
          .selectFrom('phones')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  const sheet = bigSheet();
  const points = [
    // As soon as it runs: validating this many rows takes a while yet, so nothing is stored at this point.
    { at: 'while it validates rows', when: (j: Awaited<ReturnType<typeof job>>) => j?.status === 'running' && j.done < ROWS && !j.committed, stored: false },
    { at: 'as soon as the phones are stored', when: (j: Awaited<ReturnType<typeof job>>) => !!j?.committed, stored: true },
    { at: 'while it writes files', when: (j: Awaited<ReturnType<typeof job>>) => j?.status === 'running' && /\d+\/\d+ files written$/.test(j.note ?? '') && j.done > 0, stored: true },
  ];

  it.each(points)('provisioning $at, SIGKILLed: recovery says what was stored', async ({ when, stored }) => {
    s = await scratch(engine);
    child = spawnCli(['exec', '-f', sheet, 'provision', 'fanvil-x1sg'], s.env);
    const c = child;
    await until(
      'the kill point',
      async () => {
        if (c.exitCode !== null) throw new Error('the job finished before the kill point');
        return when(await job().catch(() => undefined));
      },
      120_000,
      20,
    );
    c.kill('SIGKILL');
    await exited(c);
    expect((await job())!.status).toBe('running');
    const shown = await runCli(['exec', 'job', '1'], s.env);
    const row = (await job())!;
    if (stored) {
      expect(await phones()).toBe(ROWS);
      expect(row.status).toBe('succeeded');
      expect(shown.stdout).toContain(`✅ Job #1 provision ${ROWS} rows from desks.csv: done\nProvisioned: ${ROWS} phones (Fanvil X1SG) from desks.csv: ${ROWS} new, 0 updated, 0 unchanged.`);
      expect(shown.stdout).toMatch(/⚠ The process running this job \(.+\) stopped before its final report; the result above is what it had stored\./);
      expect(await s.store.db.selectFrom('provision_batches').selectAll().execute()).toEqual([]);
    } else {
      expect(await phones()).toBe(0);
      expect(row.status).toBe('failed');
      expect(shown.stdout).toMatch(new RegExp(`❌ Job #1 provision ${ROWS} rows from desks\\.csv: failed — interrupted: the process running it .* stopped before it finished`));
    }
  });

  it('a job whose exec process is paused past its heartbeat is failed by another process, and stays failed when it resumes', async () => {
    s = await scratch(engine);
    child = spawnCli(['exec', 'selftest', '8'], s.env);
    const c = child;
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    await until(
      'the job to run',
      async () => {
        const j = await job().catch(() => undefined);
        return j?.status === 'running' && j.done >= 1;
      },
      60_000,
    );
    c.kill('SIGSTOP');
    await sleep(2500);
    const shown = await runCli(['exec', 'job', '1'], { ...s.env, SWITCHBOARD__jobs__staleAfterMs: '2000' });
    expect(shown.stdout).toMatch(/❌ Job #1 selftest \(8 s\): failed — interrupted: the process running it .* stopped before it finished/);
    const settled = (await job())!;
    expect(settled.status).toBe('failed');
    c.kill('SIGCONT');
    expect(await exited(c)).toBe(1);
    const after = (await job())!;
    expect(after).toMatchObject({ status: 'failed', error: settled.error, finished_at: settled.finished_at, result: null, done: settled.done });
    expect(out).not.toMatch(/✅/);
  });
});
