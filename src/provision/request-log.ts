// Every request to /provision/ — served or refused — with time, address, user agent, file, MAC, decision
// and reason. Rows are buffered and written in batches so logging never slows serving; the buffer is
// bounded (oldest dropped and counted) if the store falls behind.
import type { App } from '../app-types.js';
import { WriteBehind } from '../store/write-behind.js';
import { bulkInserter } from '../store/bulk-insert.js';

type Row = { at: number; ip: string; user_agent: string | null; path: string; file: string | null; mac: string | null; status: number; decision: string; reason: string | null };

declare module '../store/db.js' {
  interface Tables {
    provision_requests: {
      id: import('kysely').Generated<number>;
      at: number;
      ip: string;
      user_agent: string | null;
      path: string;
      file: string | null;
      mac: string | null;
      status: number;
      decision: string;
      reason: string | null;
    };
  }
}

export type Decision = 'served' | 'common' | 'not_found' | 'refused' | 'unauthorized' | 'bad_request';

export interface RequestEntry {
  at: number;
  ip: string;
  userAgent: string | null;
  path: string;
  file: string | null;
  mac: string | null;
  status: number;
  decision: Decision;
  reason: string | null;
}

export class RequestLog {
  private writer: WriteBehind<RequestEntry>;

  constructor(private app: App) {
    const insert = bulkInserter<'provision_requests', Row>(app.store, 'provision_requests', ['at', 'ip', 'user_agent', 'path', 'file', 'mac', 'status', 'decision', 'reason']);
    this.writer = new WriteBehind<RequestEntry>({
      flushMs: 500,
      write: (batch) =>
        insert(
          batch.map((e) => ({
            at: e.at,
            ip: e.ip.slice(0, 45),
            user_agent: e.userAgent?.slice(0, 255) ?? null,
            path: e.path.slice(0, 512),
            file: e.file?.slice(0, 255) ?? null,
            mac: e.mac,
            status: e.status,
            decision: e.decision,
            reason: e.reason?.slice(0, 512) ?? null,
          })),
        ),
      onError: (err, n) => this.app.log.error({ err: String(err), rows: n }, 'could not store provisioning requests'),
    });
  }

  add(e: RequestEntry): void {
    this.writer.add(e);
  }

  async flush(): Promise<void> {
    await this.writer.flush();
  }

  async recent(opts: { mac?: string; limit: number }): Promise<RequestEntry[]> {
    await this.flush();
    let q = this.app.db.selectFrom('provision_requests').selectAll().orderBy('id', 'desc').limit(opts.limit);
    if (opts.mac) q = q.where('mac', '=', opts.mac);
    const rows = await q.execute();
    return rows.map((r) => ({
      at: Number(r.at),
      ip: r.ip,
      userAgent: r.user_agent,
      path: r.path,
      file: r.file,
      mac: r.mac,
      status: Number(r.status),
      decision: r.decision as Decision,
      reason: r.reason,
    }));
  }

  async prune(olderThanMs: number): Promise<void> {
    await this.app.db
      .deleteFrom('provision_requests')
      .where('at', '<', Date.now() - olderThanMs)
      .execute();
  }

  async stop(): Promise<void> {
    await this.flush();
  }
}
