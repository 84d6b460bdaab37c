import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import fs from 'node:fs';
import { makeTestApp, type TestApp } from './helpers/app.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { tmpDir } from './helpers/env.js';
import { openStore } from '../src/store/db.js';

describe.each(['sqlite', 'mysql'] as const)('job lifecycle on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ engine, overrides: { 'jobs.editIntervalMs': 300 } });
  });
  afterAll(() => t.close());

  it('posts one message, edits it in place with progress (throttled), and ends with the result', async () => {
    const r = await t.run('selftest 2');
    expect(r.exitCode).toBe(0);
    const id = r.jobIds[0]!;
    const row = await t.app.jobs.wait(id);
    expect(row.status).toBe('succeeded');
    expect(row.done).toBe(2);
    const msgs = t.chat.messages.filter((m) => m.text.includes(`Job #${id}`));
    expect(msgs.length).toBe(1);
    const m = msgs[0]!;
    expect(m.text).toMatch(/✅ Job #\d+ selftest \(2 s\): done\nProgress reached 2\/2/);
    expect(m.edits.some((e) => /running \[#+\.*\] 1\/2 — tick 1/.test(e))).toBe(true);
    expect(m.edits.length).toBeLessThanOrEqual(4);
    expect(JSON.parse(row.result!).data).toEqual({ seconds: 2 });
  });

  it('cancels a running job', async () => {
    const r = await t.run('selftest 30');
    const id = r.jobIds[0]!;
    await new Promise((res) => setTimeout(res, 300));
    const c = await t.run(`cancel ${id}`);
    expect(c.replies[0]).toMatch(/Cancelling job/);
    const row = await t.app.jobs.wait(id);
    expect(row.status).toBe('cancelled');
    expect(t.chat.messages.find((m) => m.text.includes(`Job #${id}`))!.text).toMatch(/cancelled/);
    expect((await t.run(`cancel ${id}`)).replies[0]).toMatch(/already finished/);
  });

  it('lists and shows jobs', async () => {
    const all = await t.run('jobs all');
    expect(all.replies[0]).toMatch(/selftest\s+succeeded/);
    expect(all.replies[0]).toMatch(/selftest\s+cancelled/);
    const one = await t.run('job 1');
    expect(one.replies[0]).toMatch(/Job #1 selftest \(2 s\): done/);
    expect((await t.run('job 999')).replies[0]).toMatch(/no job #999/);
  });
});

describe('a job interrupted by SIGKILL', () => {
  it('is marked failed (interrupted) by the next run, never left running', async () => {
    const dataDir = tmpDir();
    const env = { SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_HTTP_PORT: '0' };
    const child = spawnCli(['exec', 'selftest', '60'], env);
    const store = openStore({ sqlitePath: path.join(dataDir, 'switchboard.sqlite') });
    try {
      const deadline = Date.now() + 30_000;
      let running = false;
      while (Date.now() < deadline && !running) {
        await new Promise((r) => setTimeout(r, 200));
        if (!fs.existsSync(path.join(dataDir, 'switchboard.sqlite'))) continue;
        const row = await store.db
          .selectFrom('jobs')
          .selectAll()
          .where('id', '=', 1)
          .executeTakeFirst()
          .catch(() => undefined);
        running = row?.status === 'running' && row.done >= 1;
      }
      expect(running).toBe(true);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      const stillRunning = await store.db.selectFrom('jobs').select('status').where('id', '=', 1).executeTakeFirstOrThrow();
      expect(stillRunning.status).toBe('running');
      const shown = await runCli(['exec', 'job', '1'], env);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/❌ Job #1 selftest \(60 s\): failed — interrupted: the process running it .* stopped before it finished/);
      const row = await store.db.selectFrom('jobs').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
      expect(row.status).toBe('failed');
      expect(row.finished_at).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });
});
