// The `jobs` table (one row per durable job; see jobs.ts).
import type { Generated } from 'kysely';

declare module '../store/db.js' {
  interface Tables {
    jobs: {
      id: Generated<number>;
      kind: string;
      args: string; // JSON
      status: string; // queued | running | succeeded | failed | cancelled
      done: number;
      total: number;
      note: string | null;
      result: string | null; // JSON {text, ...}
      error: string | null;
      requested_platform: string;
      requested_user: string;
      target: string | null; // JSON Target
      message_ref: string | null; // JSON MessageRef
      owner: string | null;
      cancel_requested: number;
      created_at: number;
      started_at: number | null;
      finished_at: number | null;
      heartbeat_at: number | null;
      committed: string | null; // JSON {text, ...}: the result that stands once the job's work is stored
    };
  }
}
