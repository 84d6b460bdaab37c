// Reading a file attached to a command, shared by every command that takes a sheet (provision, dhcp import…):
// an empty file, one over the limit or one that cannot be downloaded is refused in words that name it.
import { UserError } from './command.js';
import type { IncomingFile } from './types.js';

/** 20 MB, 1.5 MB, 800 KB, 12 bytes. */
export function byteSize(n: number): string {
  const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1).replace(/\.0$/, ''));
  if (n >= 1024 * 1024) return `${fmt(Math.round((n / 1048576) * 10) / 10)} MB`;
  if (n >= 1024) return `${fmt(Math.round((n / 1024) * 10) / 10)} KB`;
  return `${n} byte${n === 1 ? '' : 's'}`;
}

/** Why an attachment was not read; the message names the file and says what is wrong with it. */
export class AttachmentError extends UserError {
  constructor(message: string, code: 'SB_ATTACHMENT_TOO_LARGE' | 'SB_ATTACHMENT_UNREADABLE' = 'SB_ATTACHMENT_UNREADABLE') {
    super(message, code);
  }
}

/**
 * The bytes of an attached file. Refuses, without downloading where the platform told the size: a 0-byte
 * file ("<name> is empty"), one over `maxBytes`, and one whose download failed.
 */
export async function readAttachment(file: IncomingFile, maxBytes: number): Promise<Buffer> {
  const tooBig = (size: number) => new AttachmentError(`${file.name} is ${byteSize(size)}; the limit is ${byteSize(maxBytes)}`, 'SB_ATTACHMENT_TOO_LARGE');
  if (file.size === 0) throw new AttachmentError(`${file.name} is empty`);
  if (file.size !== undefined && file.size > maxBytes) throw tooBig(file.size);
  let data: Buffer;
  try {
    data = await file.fetch();
  } catch (err) {
    if (err instanceof UserError) throw new AttachmentError(err.message, err.code === 'SB_ATTACHMENT_TOO_LARGE' ? err.code : undefined);
    throw new AttachmentError(`cannot download ${file.name}: ${(err as Error).message}`);
  }
  if (data.length === 0) throw new AttachmentError(`${file.name} is empty`);
  if (data.length > maxBytes) throw tooBig(data.length);
  return data;
}
