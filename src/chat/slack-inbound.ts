// What a Slack request carries, apart from the Bolt app (adapters/slack.ts): the teams it acts for, the key it
// is de-duplicated by, its text and its files.
import type { Logger } from '../log.js';
import type { IncomingFile } from '../core/types.js';
import { UserError } from '../core/command.js';
import { discardWith, downloadCapped, FileTooLarge } from './inbound-files.js';

/** The team ids a request acts for: the user's own team(s), never only the workspace that received it. */
export function requestTeams(body: Record<string, unknown>): string[] {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined);
  const event = obj(body.event);
  const out: (string | undefined)[] = [];
  if (event) {
    out.push(str(event.user_team), str(obj(event.user_profile)?.team), str(event.team));
    if (!out.some(Boolean)) out.push(str(body.team_id));
  } else {
    // Slash commands and interactive payloads: the payload's team, plus the user's own team where given.
    out.push(str(body.user_team), str(body.user_team_id), str(obj(body.user)?.team_id));
    out.push(str(body.team_id) ?? (typeof body.team === 'string' ? body.team : str(obj(body.team)?.id)));
  }
  return [...new Set(out.filter((t): t is string => t !== undefined))];
}

/** The key a delivery is de-duplicated by: Slack keeps an event's event_id on every retry. */
export function eventKey(body: unknown): string | undefined {
  const b = body as { event_id?: unknown; api_app_id?: unknown };
  return typeof b.event_id === 'string' && b.event_id ? `${typeof b.api_app_id === 'string' ? `${b.api_app_id}:` : ''}${b.event_id}` : undefined;
}

export interface SlackFile {
  id?: string;
  name?: string;
  title?: string;
  size?: number;
  mimetype?: string;
  url_private?: string;
  url_private_download?: string;
}

export interface SlackMsg {
  channel: string;
  channel_type?: string;
  user?: string;
  bot_id?: string;
  subtype?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  files?: SlackFile[];
}

/** A message's text as typed: links unwrapped, Slack's HTML escapes undone. */
export function unescapeSlack(s: string): string {
  return s
    .replace(/<(https?:\/\/[^|>]+)(\|[^>]*)?>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** What a file download needs: the size limit, the bot token and the only hosts it may go to; and how to delete a file. */
export interface SlackFileAccess {
  maxBytes: number;
  botToken: string;
  fileHosts: string[];
  log: Logger;
  remove: (id: string) => Promise<unknown>;
}

/** A file of a message, fetched (size-capped, with the bot token) only when the command reads it. */
export function slackFile(f: SlackFile, o: SlackFileAccess): IncomingFile {
  return {
    name: f.name ?? f.title ?? 'file',
    size: f.size,
    mime: f.mimetype,
    fetch: async () => {
      const name = f.name ?? f.title ?? 'file';
      if (f.size !== undefined && f.size > o.maxBytes) throw new FileTooLarge(`${name} is ${f.size} bytes; the limit is ${o.maxBytes}`);
      const raw = f.url_private_download ?? f.url_private;
      if (!raw) throw new UserError(`${name} has no download URL`);
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new UserError(`${name} has an invalid download URL`);
      }
      // The bot token goes only to Slack's own file host (or the configured API host, e.g. a local server).
      if (!o.fileHosts.includes(url.host)) throw new UserError(`${name}: not downloading from ${url.host}: files are fetched with the bot token only from ${o.fileHosts.join(' or ')}`);
      return downloadCapped(
        url.toString(),
        o.maxBytes,
        { Authorization: `Bearer ${o.botToken}` },
        {
          trustedHosts: o.fileHosts,
          htmlMessage: `${name}: Slack answered with a web page instead of the file; the bot token is invalid or lacks the files:read scope`,
          name,
        },
      );
    },
    discard: async () => (f.id ? discardWith(o.log, 'slack: could not delete an uploaded file', { file: f.id }, () => o.remove(f.id!)) : false),
  };
}
