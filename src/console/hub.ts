// The web console's message log: every console message is a row, every new message or edit an event.
// Live views (SSE) tail the events table, so messages written by any process on the same store — the
// server, `switchboard exec`, a second replica — reach every open console.
import { EventEmitter } from 'node:events';
import type { Generated } from 'kysely';
import type { DB } from '../store/db.js';
import { now, insertedId } from '../store/db.js';
import type { MessagePart, OutFile, OutMessage } from '../core/types.js';

declare module '../store/db.js' {
  interface Tables {
    console_messages: {
      id: Generated<number>;
      room: string;
      author: string; // 'bot' or username
      text: string;
      files: string | null; // JSON [{name, mime, id, size}]
      parts: string | null; // JSON MessagePart[] (structured replies), null for plain text
      buttons: string | null; // JSON [{id, label}] of the message's command buttons (see core/buttons.ts)
      created_at: number;
      updated_at: number;
    };
    console_events: {
      id: Generated<number>;
      room: string;
      message_id: number;
      kind: string; // new | edit
      at: number;
    };
    console_files: {
      id: Generated<number>;
      name: string;
      mime: string;
      data: Buffer;
      created_at: number;
    };
  }
}

export interface ConsoleMessage {
  id: number;
  room: string;
  author: string;
  text: string;
  files: { id: number; name: string; mime: string; size?: number }[];
  /** The structured form of a bot reply (tables, code, images, files), when it has one. */
  parts?: MessagePart[];
  /** Command buttons of a bot message: the console draws them; a click sends the id to /console/api/command. */
  buttons?: { id: string; label: string }[];
  created_at: number;
  updated_at: number;
}

export function dmRoom(username: string): string {
  return `@${username}`;
}

export class ConsoleHub extends EventEmitter {
  private lastEvent = 0;
  private timer?: NodeJS.Timeout;
  private polling = false;

  constructor(
    private db: DB,
    private pollMs = 250,
  ) {
    super();
    this.setMaxListeners(0);
  }

  async startPolling(): Promise<void> {
    const row = await this.db
      .selectFrom('console_events')
      .select((eb) => eb.fn.max('id').as('m'))
      .executeTakeFirst();
    this.lastEvent = Number(row?.m ?? 0);
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.listenerCount('message') === 0) {
      if (!this.polling && this.listenerCount('message') === 0) {
        // keep the cursor current so a new listener does not get a flood of old events
        const row = await this.db
          .selectFrom('console_events')
          .select((eb) => eb.fn.max('id').as('m'))
          .executeTakeFirst()
          .catch(() => undefined);
        if (row) this.lastEvent = Math.max(this.lastEvent, Number(row.m ?? 0));
      }
      return;
    }
    this.polling = true;
    try {
      const events = await this.db.selectFrom('console_events').selectAll().where('id', '>', this.lastEvent).orderBy('id').limit(500).execute();
      for (const ev of events) {
        this.lastEvent = ev.id;
        const msg = await this.message(ev.message_id);
        if (msg) this.emit('message', msg, ev.kind);
      }
    } catch {
      /* store briefly unavailable: try again next tick */
    } finally {
      this.polling = false;
    }
  }

  async message(id: number): Promise<ConsoleMessage | undefined> {
    const r = await this.db.selectFrom('console_messages').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }

  async history(room: string, limit = 100): Promise<ConsoleMessage[]> {
    const rows = await this.db.selectFrom('console_messages').selectAll().where('room', '=', room).orderBy('id', 'desc').limit(limit).execute();
    return rows.reverse().map(fromRow);
  }

  async post(room: string, author: string, text: string, files: OutFile[] = [], parts?: MessagePart[], buttons?: { id: string; label: string }[]): Promise<number> {
    const t = now();
    const stored: { id: number; name: string; mime: string; size: number }[] = [];
    for (const f of files) {
      const r = await this.db
        .insertInto('console_files')
        .values({ name: f.name, mime: f.mime ?? 'application/octet-stream', data: f.data, created_at: t })
        .executeTakeFirst();
      stored.push({ id: insertedId(r), name: f.name, mime: f.mime ?? 'application/octet-stream', size: f.data.length });
    }
    const r = await this.db
      .insertInto('console_messages')
      .values({
        room,
        author,
        text,
        files: stored.length ? JSON.stringify(stored) : null,
        parts: parts?.length ? JSON.stringify(parts) : null,
        buttons: buttons?.length ? JSON.stringify(buttons) : null,
        created_at: t,
        updated_at: t,
      })
      .executeTakeFirst();
    const id = insertedId(r);
    await this.db.insertInto('console_events').values({ room, message_id: id, kind: 'new', at: t }).execute();
    return id;
  }

  /** A bot message: its text, structure, files and stored command buttons. */
  async postMessage(room: string, msg: OutMessage): Promise<number> {
    const buttons = (msg.buttons ?? []).flatMap((b) => (b.id ? [{ id: b.id, label: b.label }] : []));
    return this.post(room, 'bot', msg.text, msg.files, msg.parts, buttons);
  }

  async edit(id: number, text: string, parts?: MessagePart[]): Promise<void> {
    const t = now();
    const row = await this.db.selectFrom('console_messages').select('room').where('id', '=', id).executeTakeFirst();
    if (!row) return;
    await this.db
      .updateTable('console_messages')
      .set({ text, parts: parts?.length ? JSON.stringify(parts) : null, updated_at: t })
      .where('id', '=', id)
      .execute();
    await this.db.insertInto('console_events').values({ room: row.room, message_id: id, kind: 'edit', at: t }).execute();
  }

  async file(id: number): Promise<{ name: string; mime: string; data: Buffer } | undefined> {
    return this.db.selectFrom('console_files').select(['name', 'mime', 'data']).where('id', '=', id).executeTakeFirst();
  }
}

function fromRow(r: {
  id: number;
  room: string;
  author: string;
  text: string;
  files: string | null;
  parts?: string | null;
  buttons?: string | null;
  created_at: number;
  updated_at: number;
}): ConsoleMessage {
  const { parts, files, buttons, ...rest } = r;
  return {
    ...rest,
    files: files ? JSON.parse(files) : [],
    ...(parts ? { parts: JSON.parse(parts) as MessagePart[] } : {}),
    ...(buttons ? { buttons: JSON.parse(buttons) as { id: string; label: string }[] } : {}),
  };
}
