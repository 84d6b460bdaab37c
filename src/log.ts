// pino JSON logs (pretty on a TTY), with secrets scrubbed from every line before it is written.
import { Writable } from 'node:stream';
import { pino, type Logger, type DestinationStream } from 'pino';
import { scrub } from './secrets.js';

export type { Logger };

const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

function scrubbingStream(inner: NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk, _enc, cb) {
      inner.write(scrub(chunk.toString()));
      cb();
    },
  }) as unknown as DestinationStream;
}

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? 'info';
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && !process.env.CI);
  let dest: NodeJS.WritableStream = opts.destination ?? process.stdout;
  if (pretty && !opts.destination) {
    // pino-pretty as a synchronous stream (not a worker thread) so the scrubber stays in front of it.
    dest = createPretty();
  }
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, base: { pid: process.pid } }, scrubbingStream(dest));
}

import { createRequire } from 'node:module';
function createPretty(): NodeJS.WritableStream {
  const require = createRequire(import.meta.url);
  const pretty = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
  return pretty({ colorize: true, translateTime: 'SYS:standard', ignore: 'pid,hostname' });
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
