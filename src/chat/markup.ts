// Markup for each platform from the bot's plain text with ``` fences: Telegram HTML, Slack mrkdwn, Discord markdown.

/** Pieces of text: plain runs and fenced (```) monospace blocks. */
function pieces(text: string): { code: boolean; text: string }[] {
  const parts = text.split('```');
  return parts.map((p, i) => ({ code: i % 2 === 1, text: i % 2 === 1 ? p.replace(/^[a-z0-9_-]*\n/i, '').replace(/\n$/, '') : p }));
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Telegram parse_mode HTML: fences -> <pre>, `inline` -> <code>, everything escaped. */
export function toTelegramHtml(text: string): string {
  return pieces(text)
    .map((p) => (p.code ? `<pre>${escapeHtml(p.text)}</pre>` : escapeHtml(p.text).replace(/`([^`\n]+)`/g, '<code>$1</code>')))
    .join('');
}

/** Slack mrkdwn: & < > escaped, fences kept as Slack code blocks. */
export function toSlackMrkdwn(text: string): string {
  return pieces(text)
    .map((p) => (p.code ? '```' + escapeHtml(p.text) + '```' : escapeHtml(p.text)))
    .join('');
}
/** Discord markdown: fences are native; make sure they start on their own line. */
export function toDiscordMarkdown(text: string): string {
  return pieces(text)
    .map((p) => (p.code ? '```\n' + p.text + '\n```' : p.text))
    .join('');
}
