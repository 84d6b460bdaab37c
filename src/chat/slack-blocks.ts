// Slack Block Kit: structured messages as blocks (text sections, a native table, code) and command buttons as
// an actions block, within Slack's limits.
import { tableAsText } from '../core/message.js';
import type { CommandButton, MessagePart } from '../core/types.js';
import { escapeHtml, toSlackMrkdwn } from './markup.js';
import { renderChunks } from './text-split.js';
import { buttonLabel } from './buttons.js';

/** Slack Block Kit limits this renderer keeps to (per message, per section text, per table block). */
const SLACK_BLOCKS = { maxBlocks: 50, sectionChars: 3000, tableRows: 100, tableCols: 20 };

/**
 * Slack Block Kit for a structured message: text as mrkdwn sections, code as a code block, the first table as a
 * native table block (Slack allows one per message; header row + at most 99 rows, 20 columns) and any other
 * table as a monospace code block. Images and files go as uploads beside it. Undefined when the message does
 * not fit Block Kit's limits: the caller then sends the plain text.
 */
export function toSlackBlocks(parts: MessagePart[]): Record<string, unknown>[] | undefined {
  const blocks: Record<string, unknown>[] = [];
  let tableUsed = false;
  const section = (mrkdwn: string) => {
    for (const chunk of renderChunks(mrkdwn, SLACK_BLOCKS.sectionChars, (x) => x)) if (chunk.trim()) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: chunk } });
  };
  for (const p of parts) {
    if (p.kind === 'text') section(toSlackMrkdwn(p.text));
    else if (p.kind === 'code') section('```' + escapeHtml(p.text) + '```');
    else if (p.kind === 'table') {
      if (p.caption) section(escapeHtml(p.caption));
      if (!tableUsed && p.rows.length < SLACK_BLOCKS.tableRows && p.columns.length <= SLACK_BLOCKS.tableCols) {
        tableUsed = true;
        const cell = (s: string) => ({ type: 'raw_text', text: s === '' ? ' ' : s });
        blocks.push({
          type: 'table',
          column_settings: p.columns.map((_, i) => ({ align: p.align?.[i] === 'right' ? 'right' : 'left' })),
          rows: [p.columns.map(cell), ...p.rows.map((r) => p.columns.map((_, i) => cell(r[i] ?? '')))],
        });
      } else section('```' + escapeHtml(tableAsText(p)) + '```');
    }
  }
  return blocks.length && blocks.length <= SLACK_BLOCKS.maxBlocks ? blocks : undefined;
}

/** Slack action_ids of command buttons: `sb-button-<n>` (unique within the message); the value is the button id. */
export const SLACK_BUTTON_ACTION = /^sb-button-\d+$/;

/** A Slack `actions` block with one button element per command button. */
export function slackActionsBlock(buttons: (CommandButton & { id: string })[]): Record<string, unknown> {
  return {
    type: 'actions',
    block_id: 'sb-buttons',
    elements: buttons.map((b, i) => ({ type: 'button', action_id: `sb-button-${i}`, text: { type: 'plain_text', text: buttonLabel(b.label, 75), emoji: true }, value: b.id })),
  };
}

/** Slack Block Kit for a piece of mrkdwn text followed by command buttons (sections of at most 3 000 characters). */
export function slackTextWithButtons(mrkdwn: string, buttons: (CommandButton & { id: string })[]): Record<string, unknown>[] {
  const sections = renderChunks(mrkdwn, SLACK_BLOCKS.sectionChars, (x) => x)
    .filter((c) => c.trim())
    .map((c) => ({ type: 'section', text: { type: 'mrkdwn', text: c } }));
  return [...sections.slice(0, SLACK_BLOCKS.maxBlocks - 1), slackActionsBlock(buttons)];
}

/** Slack's message-level limit on blocks: a structured message's blocks plus the actions block must fit. */
export const SLACK_MAX_BLOCKS = SLACK_BLOCKS.maxBlocks;
