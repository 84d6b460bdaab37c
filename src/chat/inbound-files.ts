// Files people send in chat: downloaded with a size cap (credentials only to trusted hosts), discarded from the
// chat once read.
import type { Logger } from '../log.js';
import { UserError } from '../core/command.js';

/**
 * `IncomingFile.discard` for a platform: runs the platform's delete call; true when it went through, false
 * (logged with `what`) when the platform or the bot's permissions refused it. Never throws.
 */
export async function discardWith(log: Logger, what: string, fields: Record<string, unknown>, remove: () => Promise<unknown>): Promise<boolean> {
  try {
    await remove();
    return true;
  } catch (err) {
    log.warn({ ...fields, err: String((err as Error).message ?? err) }, what);
    return false;
  }
}

/** A user-facing refusal: the command replies with it (❌ …) instead of an internal error. */
export class FileTooLarge extends UserError {
  constructor(message: string) {
    super(message, 'SB_ATTACHMENT_TOO_LARGE');
  }
}

export interface DownloadOptions {
  /** Sent only to these hosts (URL.host, with port); a redirect elsewhere goes without them. */
  trustedHosts?: readonly string[];
  /** An HTML page instead of the file (e.g. a login page) is refused with this message. */
  htmlMessage?: string;
  /** The file's name, put in front of a "too large" refusal. */
  name?: string;
}

/** Let go of a response body that will not be read (the connection is freed). */
export const drop = (res: Response): Promise<void> => res.body?.cancel().catch(() => undefined) ?? Promise.resolve();

/**
 * Download a URL with optional headers, refusing more than maxBytes (by Content-Length and while streaming).
 * Redirects are followed by hand (at most 5) so credentials never go to a host outside `trustedHosts`.
 */
export async function downloadCapped(url: string, maxBytes: number, headers: Record<string, string> = {}, opts: DownloadOptions = {}): Promise<Buffer> {
  let res: Response;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const trusted = !opts.trustedHosts || opts.trustedHosts.includes(current.host);
    res = await fetch(current, { headers: trusted ? headers : {}, redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await drop(res);
      if (hop >= 5) throw new UserError('the download was redirected too many times');
      current = new URL(location, current);
      if (current.protocol !== 'https:' && current.protocol !== 'http:') throw new UserError(`the download was redirected to an unsupported URL scheme (${current.protocol})`);
      continue;
    }
    break;
  }
  if (!res.ok) {
    await drop(res);
    throw new UserError(`the download failed: HTTP ${res.status}`);
  }
  if (opts.htmlMessage && /^\s*text\/html\b/i.test(res.headers.get('content-type') ?? '')) {
    await drop(res);
    throw new UserError(opts.htmlMessage);
  }
  const len = Number(res.headers.get('content-length') ?? 0);
  if (len > maxBytes) {
    await drop(res);
    throw new FileTooLarge(`${opts.name ? `${opts.name}: ` : ''}the file is ${len} bytes; the limit is ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      if (total > maxBytes) throw new FileTooLarge(`${opts.name ? `${opts.name}: ` : ''}the file is larger than the limit of ${maxBytes} bytes`);
      chunks.push(Buffer.from(chunk));
    }
  }
  return Buffer.concat(chunks);
}
