// Which store errors mean "try again" and which mean "no store host answers right now".
// Conflicts: a deadlock or a Galera certification failure (MySQL errno 1213), a lock wait timeout (1205),
// SQLite's busy. Host failures: the connection was refused, reset, lost or timed out, the server is shutting
// down or killed the connection, or the node is not ready for use (1047, WSREP: a node joining, or cut off from
// the cluster's primary component). A host failure is retried on another host (see host-pool.ts); when every
// host fails, HTTP answers 503 with Retry-After and jobs and schedules wait.

const HOST_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EADDRNOTAVAIL',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_STORE_UNAVAILABLE',
]);
/** 1047 WSREP not ready, 1053 server shutdown, 1927 connection killed, 2002/2003/2006/2013 client-side losses. */
const HOST_ERRNOS = new Set([1047, 1053, 1927, 2002, 2003, 2006, 2013]);

type ErrLike = { errno?: number; code?: string; message?: string; fatal?: boolean } | null;

export function isHostFailure(err: unknown): boolean {
  const e = err as ErrLike;
  if (!e || typeof e !== 'object') return false;
  if (e.code && HOST_CODES.has(e.code)) return true;
  if (e.errno !== undefined && HOST_ERRNOS.has(e.errno)) return true;
  // mysql2: a connection whose socket closed under it, or a fatal protocol error.
  if (typeof e.message === 'string' && /connection is in closed state/i.test(e.message)) return true;
  return e.fatal === true && !e.errno;
}

export function isConflictError(err: unknown): boolean {
  const e = err as ErrLike;
  if (!e || typeof e !== 'object') return false;
  return e.errno === 1213 || e.errno === 1205 || e.code === 'SQLITE_BUSY';
}

/** The store cannot serve this now but may soon: HTTP 503 + Retry-After, a paused job loop, a clean `exec` exit. */
export function isStoreUnavailable(err: unknown): boolean {
  return isHostFailure(err) || isConflictError(err) || (err as ErrLike)?.code === 'SQLITE_BUSY';
}

/** Thrown by the host pool when no host of the list gives a usable connection. */
export class StoreUnavailableError extends Error {
  readonly code = 'ER_STORE_UNAVAILABLE';
  constructor(readonly reasons: string[]) {
    super(`no store host answers (${reasons.join('; ')})`);
    this.name = 'StoreUnavailableError';
  }
}

/** A one-line reason for logs, health and user messages, never with credentials (errors carry none). */
export function storeErrorReason(err: unknown): string {
  const e = err as ErrLike;
  if (e instanceof StoreUnavailableError) return e.message;
  const what = e?.errno === 1047 ? 'node not ready (WSREP, 1047)' : e?.errno === 1213 ? 'conflict (1213)' : (e?.code ?? (e?.errno ? `errno ${e.errno}` : 'error'));
  return `${what}: ${e?.message ?? String(err)}`;
}

/** Seconds a client should wait before trying again when the store is unavailable. */
export const RETRY_AFTER_SECONDS = 2;
