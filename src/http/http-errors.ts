// How any error thrown in a request becomes an answer: `{ code, message }` with a catalogue code
// (src/util/errors.ts). Fastify's own FST_* errors, schema validation and the store's unavailability map to SB
// codes here, in one place; anything unexpected is SB_INTERNAL with a ref to the log line, never a stack.
import type { Logger } from '../log.js';
import { errorBody, errorRef, internalMessage, SbError, statusOf, type ErrorReplyLike, type SbCode } from '../util/errors.js';
import { isStoreUnavailable, RETRY_AFTER_SECONDS, storeErrorReason } from '../store/store-errors.js';
import { QueueFull } from '../store/group-commit.js';

/** Fastify's (and its plugins') error codes that a client causes, by catalogue code. */
const FASTIFY_CODES: Record<string, SbCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'SB_HTTP_PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'SB_HTTP_PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'SB_HTTP_PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'SB_HTTP_PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'SB_HTTP_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'SB_HTTP_UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'SB_HTTP_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_VALIDATION: 'SB_HTTP_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'SB_HTTP_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'SB_HTTP_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'SB_HTTP_BAD_REQUEST',
  FST_PROTO_VIOLATION: 'SB_HTTP_BAD_REQUEST',
};

/** A client error's status (400–499) without a more specific code: the generic code of its kind. */
function codeOfStatus(status: number): SbCode {
  if (status === 404) return 'SB_HTTP_NOT_FOUND';
  if (status === 405) return 'SB_HTTP_METHOD_NOT_ALLOWED';
  if (status === 413) return 'SB_HTTP_PAYLOAD_TOO_LARGE';
  if (status === 415) return 'SB_HTTP_UNSUPPORTED_MEDIA_TYPE';
  return 'SB_HTTP_BAD_REQUEST';
}

export interface HttpError {
  status: number;
  code: SbCode;
  message: string;
  headers: Record<string, string>;
  details?: Record<string, unknown>;
  /** Set for SB_INTERNAL: the ref the answer and the log line share. */
  ref?: string;
}

type ErrLike = Error & { statusCode?: number; code?: string; validation?: unknown };

/**
 * The answer for an error thrown while handling a request. A client's mistake keeps the status Fastify or the
 * route gave it (a request body too large stays 413); an SbError answers its catalogue status.
 */
export function httpErrorOf(err: unknown): HttpError {
  const e = err as ErrLike;
  if (err instanceof SbError) return { status: err.status, code: err.code, message: err.message, headers: {}, details: err.details };
  if (isStoreUnavailable(err)) {
    return { status: statusOf('SB_STORE_UNAVAILABLE'), code: 'SB_STORE_UNAVAILABLE', message: 'store unavailable, try again shortly', headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } };
  }
  // Too much waiting to be stored: come back later (an agent keeps its spool and waits Retry-After).
  if (err instanceof QueueFull) return { status: 503, code: 'SB_BUSY', message: err.message, headers: { 'retry-after': String(err.retryAfterS) } };
  const status = e?.statusCode && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
  if (status === 503) return { status, code: 'SB_BUSY', message: 'the bot is busy or shutting down; retry later', headers: {} };
  if (status >= 500) {
    const ref = errorRef();
    return { status: 500, code: 'SB_INTERNAL', message: internalMessage(ref), headers: {}, ref };
  }
  const code = (e.code && FASTIFY_CODES[e.code]) || (e.validation ? 'SB_HTTP_BAD_REQUEST' : codeOfStatus(status));
  const message = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request body is too large' : e.message;
  return { status, code, message, headers: {} };
}

/** Answer with httpErrorOf(err), logging what needs a look (an internal error with its ref; the store). */
export function sendHttpError(reply: ErrorReplyLike, err: unknown, log: Logger, fields: Record<string, unknown> = {}): unknown {
  const h = httpErrorOf(err);
  if (h.code === 'SB_INTERNAL') log.error({ ...fields, err, ref: h.ref, code: h.code }, 'request failed');
  else if (h.code === 'SB_STORE_UNAVAILABLE') log.warn({ ...fields, code: h.code, reason: storeErrorReason(err) }, 'store unavailable; answered 503');
  let r = reply.code(h.status);
  for (const [k, v] of Object.entries(h.headers)) r = r.header(k, v);
  return r.send(errorBody(h.code, h.message, h.details));
}
