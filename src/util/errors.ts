// The error catalogue: every error a user or API client can get carries one of these codes. The chat shows
// the code after the message, the HTTP APIs answer `{ code, message }` with the code's status, audit rows and
// logs record it. The README's "Error codes" section lists the same codes (test/errors.test.ts keeps them equal
// and checks that every `new SbError('SB_…')` in the source names a code of this list).

import crypto from 'node:crypto';

export interface ErrorSpec {
  /** The HTTP status an API answers with; for chat-only codes the status the same refusal would have. */
  status: number;
  /** What the code means, for the README and for someone searching a log. */
  summary: string;
}

export const ERROR_CATALOGUE = {
  // Any command, any platform
  SB_COMMAND_UNREADABLE: { status: 400, summary: 'The command line could not be read (an unclosed quote, a bad escape).' },
  SB_UNKNOWN_COMMAND: { status: 404, summary: 'No command has that name; the reply suggests close ones.' },
  SB_PERMISSION_DENIED: { status: 403, summary: "The caller's role is below the one the command needs." },
  SB_USAGE: { status: 400, summary: 'Wrong or missing arguments; the reply shows the usage line.' },
  SB_NOT_FOUND: { status: 404, summary: 'The host, phone, node, job or other thing named does not exist.' },
  SB_ALREADY_EXISTS: { status: 409, summary: 'A node, sensor or other named thing of that name already exists.' },
  SB_CONFIRM_UNKNOWN: { status: 404, summary: 'No pending confirmation of yours has that code.' },
  SB_CONFIRM_EXPIRED: { status: 410, summary: 'The confirmation code is older than 60 s; run the command again.' },
  SB_CONFIRM_UNREADABLE: { status: 409, summary: "A confirmation or button sealed with another store key; this process's key cannot open it." },
  SB_BUTTON_EXPIRED: { status: 410, summary: 'The pressed button is past its lifetime; type the command instead.' },
  SB_BUTTON_USED: { status: 409, summary: 'The single-use button was already used.' },
  SB_BUTTON_UNKNOWN: { status: 404, summary: 'The button is not one the bot made for this chat.' },
  SB_ATTACHMENT_TOO_LARGE: { status: 413, summary: 'An attached file is over the size limit.' },
  SB_ATTACHMENT_UNREADABLE: { status: 400, summary: 'An attached file is empty, missing or could not be downloaded.' },
  SB_SHEET_BAD_ROW: { status: 400, summary: 'A CSV/XLSX sheet (or some of its rows) cannot be used; the message lists the rows.' },
  SB_STORE_UNAVAILABLE: { status: 503, summary: 'No store (database) host answers right now; retry after Retry-After seconds.' },
  SB_STARTING: { status: 503, summary: 'The bot is starting: the store is not migrated yet (`/healthz`); retry after Retry-After.' },
  SB_BUSY: { status: 503, summary: 'The bot is busy (too many posts in flight or waiting to be stored); retry after Retry-After seconds.' },
  SB_INTERNAL: { status: 500, summary: "An unexpected failure; the message carries a ref to find the details in the bot's log." },
  // DHCP
  SB_DHCP_DUPLICATE_MAC: { status: 409, summary: 'A host with this MAC already exists (or the MAC appears twice in a batch).' },
  SB_DHCP_DUPLICATE_IP: { status: 409, summary: 'The IP address is already used by another host.' },
  SB_DHCP_DUPLICATE_HOSTNAME: { status: 409, summary: 'The hostname is already used by another host.' },
  SB_DHCP_IP_OUTSIDE_SUBNET: { status: 400, summary: 'The IP address lies in no configured subnet, or is a reserved one of it.' },
  SB_DHCP_NO_FREE_IP: { status: 409, summary: 'ip=auto found no free address in the configured subnets.' },
  SB_DHCP_INVALID_HOST: { status: 400, summary: 'A host field (MAC, hostname, phone, access, boot server…) is not valid.' },
  SB_DHCP_RENDER_FAILED: { status: 422, summary: 'The DHCP configuration could not be rendered or applied from the hosts as stored.' },
  // Provisioning
  SB_PROVISION_MODEL_UNKNOWN: { status: 400, summary: 'The phone model names no installed driver.' },
  SB_PROVISION_BAD_PATH: { status: 400, summary: 'A phone asked for a path that is not a file name in the provisioning root.' },
  SB_PROVISION_UNAUTHORIZED: { status: 401, summary: "A phone's fetch lacks the provisioning credentials (basic auth) or has wrong ones." },
  SB_PROVISION_TOKEN_URL_REQUIRED: { status: 403, summary: "provision.tokenUrls is on: a phone's files are served only under its token URL." },
  SB_PROVISION_NO_SUCH_FILE: { status: 404, summary: 'No provisioned phone, common file or firmware image answers this file name (or token).' },
  // Per-family fallbacks: a refusal of a command of this family that has no more specific code.
  SB_DHCP_REFUSED: { status: 422, summary: 'A `dhcp …` command refused the request; the message says why.' },
  SB_PROVISION_REFUSED: { status: 422, summary: 'A `provision …` command refused the request; the message says why.' },
  SB_MONITOR_REFUSED: { status: 422, summary: 'A `monitor …` command refused the request; the message says why.' },
  SB_ALERTS_REFUSED: { status: 422, summary: 'An alerts command (`alerts`, `ack`, `silence`, `unsilence`…) refused the request.' },
  SB_RENEW_REFUSED: { status: 422, summary: 'A `renew …` command refused the request; the message says why.' },
  SB_INVENTORY_REFUSED: { status: 422, summary: 'An `inventory …` command refused the request; the message says why.' },
  SB_USERS_REFUSED: { status: 422, summary: 'A `users …` or `whoami` command refused the request.' },
  SB_JOBS_REFUSED: { status: 422, summary: 'A `jobs`, `job` or `cancel` command refused the request.' },
  SB_CALLS_REFUSED: { status: 422, summary: 'A `calls` or `call …` command refused the request.' },
  SB_AUDIT_REFUSED: { status: 422, summary: 'An `audit …` command refused the request.' },
  SB_DOCTOR_REFUSED: { status: 422, summary: 'A `doctor` or `selftest` command refused the request.' },
  SB_COMMAND_REFUSED: { status: 422, summary: 'Any other command (help, plugins) refused the request; the message says why.' },
  // HTTP, any route
  SB_HTTP_NOT_FOUND: { status: 404, summary: 'No route answers this path.' },
  SB_HTTP_METHOD_NOT_ALLOWED: { status: 405, summary: 'The route does not take this HTTP method.' },
  SB_HTTP_BAD_REQUEST: { status: 400, summary: "The request body or parameters fail the route's schema, or the JSON is malformed." },
  SB_HTTP_UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'The body has a content type the route does not read.' },
  SB_HTTP_PAYLOAD_TOO_LARGE: { status: 413, summary: 'The request body (or a command sent to the console) is over the limit.' },
  SB_HTTP_JSON_TOO_DEEP: { status: 400, summary: 'The JSON body nests deeper than the allowed depth.' },
  // Agent API (/api/agent/…)
  SB_AGENT_TOKEN_INVALID: { status: 401, summary: 'The node token is missing, wrong or revoked.' },
  SB_AGENT_NODE_DISABLED: { status: 403, summary: 'The node was disabled on the bot (`monitor enable <name>`); the token is fine.' },
  SB_AGENT_WRONG_NODE: { status: 401, summary: 'The token belongs to another node; a node writes only its own results.' },
  SB_AGENT_NOT_APPLY_NODE: { status: 403, summary: 'The node is not enrolled with role=apply.' },
  SB_AGENT_ENROL_CODE_INVALID: { status: 401, summary: 'The enrolment code is unknown, used or expired.' },
  SB_AGENT_RESULTS_REJECTED: { status: 400, summary: 'No result of the posted batch could be taken; `rejected` says why for each.' },
  SB_AGENT_APPLY_UNKNOWN: { status: 404, summary: "The apply generation reported is not one of this node's." },
  // Web console (/console/…)
  SB_CONSOLE_NOT_LOGGED_IN: { status: 401, summary: 'No console session; log in first.' },
  SB_CONSOLE_CSRF: { status: 403, summary: 'The CSRF token is missing or wrong.' },
  SB_CONSOLE_LOGIN_FAILED: { status: 401, summary: 'Wrong console username or password.' },
  SB_CONSOLE_LOCKED_OUT: { status: 429, summary: 'Too many failed logins for this user from this address; wait for the lockout to pass.' },
  SB_CONSOLE_NO_SUCH_ROOM: { status: 404, summary: 'The room does not exist or this user cannot see it.' },
  SB_CONSOLE_NO_SUCH_FILE: { status: 404, summary: 'The file offered in the console is gone or was never there.' },
  SB_CONSOLE_BAD_COMMAND: { status: 400, summary: 'The console post is empty or its button id is not valid.' },
  // Caller-ID hook, chat webhooks, renew lookups
  SB_CALLERID_TOKEN_INVALID: { status: 401, summary: 'The caller-ID hook was called with a bad or missing token.' },
  SB_CALLERID_SOURCE_REFUSED: { status: 403, summary: 'The caller-ID hook was called from an address not allowed.' },
  SB_CALLERID_BAD_NUMBER: { status: 400, summary: 'The number given to the caller-ID hook is not valid.' },
  SB_WEBHOOK_SECRET_INVALID: { status: 401, summary: 'A chat platform webhook came with a wrong secret token.' },
  SB_RENEW_BAD_MAC: { status: 400, summary: 'The MAC asked for does not look like 00:11:22:33:44:55.' },
  SB_RENEW_PC_UNKNOWN: { status: 404, summary: 'No PC with that MAC in the renew inventory.' },
} as const satisfies Record<string, ErrorSpec>;

export type SbCode = keyof typeof ERROR_CATALOGUE;

export const isSbCode = (c: unknown): c is SbCode => typeof c === 'string' && Object.hasOwn(ERROR_CATALOGUE, c);

export const statusOf = (code: SbCode): number => ERROR_CATALOGUE[code].status;

/** An error with a catalogue code. `details` are extra fields an HTTP answer carries beside code and message. */
export class SbError extends Error {
  constructor(
    readonly code: SbCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'SbError';
  }

  get status(): number {
    return statusOf(this.code);
  }

  /** The same, under the name Fastify reads. */
  get statusCode(): number {
    return this.status;
  }
}

/**
 * The JSON body of an HTTP error: `{ code, message }` (plus details). `error` repeats the message for agents
 * and console pages older than the catalogue, which read only that field.
 */
export function errorBody(code: SbCode, message: string, details?: Record<string, unknown>): { code: SbCode; message: string; error: string } & Record<string, unknown> {
  return { ...details, code, message, error: message };
}

/** What a Fastify reply offers that errorReply needs (structural: this module imports nothing). */
export interface ErrorReplyLike {
  code(status: number): ErrorReplyLike;
  header(name: string, value: string): ErrorReplyLike;
  send(body: unknown): unknown;
}

/** Answer a Fastify request with a catalogue error: the code's status, `{ code, message }`, optional headers. */
export function errorReply(reply: ErrorReplyLike, code: SbCode, message: string, opts: { details?: Record<string, unknown>; headers?: Record<string, string> } = {}): unknown {
  let r = reply.code(statusOf(code));
  for (const [k, v] of Object.entries(opts.headers ?? {})) r = r.header(k, v);
  return r.send(errorBody(code, message, opts.details));
}

/** What a plain Node response offers that errorRaw needs. */
export interface RawResponseLike {
  headersSent: boolean;
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body?: string): unknown;
}

/** The same for the plain Node handlers (fast routes). */
export function errorRaw(res: RawResponseLike, code: SbCode, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(statusOf(code), { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(errorBody(code, message)));
}

/** A short random reference that ties an internal error's answer to its log line. */
export function errorRef(): string {
  return crypto.randomBytes(3).toString('hex');
}

/** The message shown for an internal error: never the error's own text or stack, only the ref to look up. */
export const internalMessage = (ref: string, what = 'internal error'): string => `${what} (ref ${ref}); the details are in the bot's log`;
