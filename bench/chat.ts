// Chat figures: `help` round trip (user event in -> reply out) through each real SDK against its local
// protocol fake, all three connected in one process; and how many edits a burst of progress updates costs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { features } from '../src/features.js';
import { EditCoalescer } from '../src/chat/edit-coalescer.js';
import { SlackFake } from '../test/fakes/slack-fake.js';
import { TelegramFake } from '../test/fakes/telegram-fake.js';
import { DiscordFake } from '../test/fakes/discord-fake.js';
import { waitFor } from '../test/fakes/common.js';

const GUILD = '3300000000000000001';
const DCH = '3300000000000000011';

/** Like waitFor, polling every millisecond so the figures are not rounded up to the poll interval. */
async function until<T>(pred: () => T | undefined | false): Promise<T> {
  const end = Date.now() + 10_000;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 1));
  }
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50_ms: +s[Math.floor(s.length / 2)]!.toFixed(1), p95_ms: +s[Math.floor(s.length * 0.95)]!.toFixed(1), max_ms: +s[s.length - 1]!.toFixed(1) };
}

export async function run(): Promise<Record<string, unknown>> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-chat-'));
  const slack = await new SlackFake().start();
  const tg = await new TelegramFake().start();
  const dc = await new DiscordFake([{ id: GUILD, channels: [DCH] }]).start();
  const config = loadConfig({
    env: {},
    sections: features.flatMap((f) => (f.config ? [f.config] : [])),
    overrides: {
      dataDir,
      'http.port': 0,
      'chat.slack.botToken': slack.botToken,
      'chat.slack.appToken': slack.appToken,
      'chat.slack.apiUrl': slack.apiUrl,
      'chat.slack.allowedWorkspaces': [slack.team],
      'chat.telegram.botToken': tg.token,
      'chat.telegram.apiRoot': tg.url,
      'chat.telegram.allowedChats': ['-100123'],
      'chat.discord.botToken': dc.token,
      'chat.discord.applicationId': dc.appId,
      'chat.discord.apiUrl': dc.apiUrl,
      'chat.discord.allowedGuilds': [GUILD],
    },
  });
  const app = await createApp({ mode: 'server', config, log: pino({ level: 'silent' }) });
  await app.listen();
  const out: Record<string, unknown> = {};
  try {
    await waitFor(() => slack.connected > 0 && dc.connected > 0 && tg.calls.some((c) => c.method === 'getUpdates'), 20_000, 'connections');
    const n = 40;
    const sl: number[] = [];
    const te: number[] = [];
    const di: number[] = [];
    for (let i = 0; i < n; i++) {
      let t0 = performance.now();
      const ts = slack.mention({ channel: 'C0B', user: 'U0B', text: 'help' });
      await until(() => slack.in('C0B').find((p) => p.thread_ts === ts));
      sl.push(performance.now() - t0);
      t0 = performance.now();
      const mid = tg.say({ chat: -100123, user: 7, text: '/help' });
      await until(() => tg.to(-100123).find((s) => s.reply_to === mid));
      te.push(performance.now() - t0);
      t0 = performance.now();
      const id = dc.slash({ guild: GUILD, channel: DCH, user: '4400000000000000001', line: 'help' });
      await until(() => dc.messages.find((m) => m.interaction === id && m.content));
      di.push(performance.now() - t0);
    }
    out.help_roundtrip_slack = stats(sl);
    out.help_roundtrip_telegram = stats(te);
    out.help_roundtrip_discord = stats(di);
  } finally {
    await app.close();
    await Promise.all([slack.close(), tg.close(), dc.close()]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  // 1000 progress updates against an edit that takes 20 ms: how many edits actually go out.
  let applied = 0;
  const c = new EditCoalescer<string>(async () => {
    applied++;
    await new Promise((r) => setTimeout(r, 20));
  });
  const t0 = performance.now();
  const ps: Promise<void>[] = [];
  for (let i = 0; i < 1000; i++) {
    ps.push(c.edit('m', `v${i}`));
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(ps);
  out.coalesce_1000_updates = { edits_sent: applied, ms: Math.round(performance.now() - t0) };
  return out;
}
