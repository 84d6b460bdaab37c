// Command buttons as every platform draws them: labels cut to the platform's limit, the stored buttons of a
// message, the prefix of their ids in callback data.
import type { CommandButton } from '../core/types.js';

/** A button's label cut to a platform's limit (with an ellipsis), never empty. */
export function buttonLabel(label: string, max: number): string {
  const l = label.replace(/\s+/g, ' ').trim() || 'Run';
  return l.length > max ? `${l.slice(0, max - 1)}…` : l;
}

/** The buttons of a message that the notifier stored (only those have an id the platform can hand back). */
export function storedButtons(msg: { buttons?: CommandButton[] }): (CommandButton & { id: string })[] {
  return (msg.buttons ?? []).filter((b): b is CommandButton & { id: string } => typeof b.id === 'string' && b.id.length > 0);
}

/** The prefix of Telegram callback_data and Discord custom_id for a command button (`sb:<button id>`). */
export const BUTTON_PREFIX = 'sb:';
