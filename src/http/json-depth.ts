// How deep a JSON text nests, read without parsing: a body nested thousands deep is refused before any
// recursive code (a parser, a validator, JSON.stringify of the result) can overflow the stack on it.
import { SbError } from '../util/errors.js';
import type { FastifyInstance } from 'fastify';

/** Nesting allowed in any JSON body the HTTP APIs take (the agent API has its own, `monitor.maxJsonDepth`). */
export const MAX_JSON_DEPTH = 64;

/** True when JSON text nests arrays/objects deeper than `max` (strings are skipped, escapes honoured). */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/**
 * Replace a Fastify scope's JSON body parser with one that first refuses (400) a body nesting deeper than
 * `maxDepth`, then parses as Fastify does (prototype-poisoning keys refused).
 */
export function useDepthCheckedJson(scope: FastifyInstance, maxDepth: number): void {
  const parseJson = scope.getDefaultJsonParser('error', 'error');
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (nestedDeeperThan(body as string, maxDepth)) return done(new SbError('SB_HTTP_JSON_TOO_DEEP', `body nests deeper than ${maxDepth} levels`), undefined);
    parseJson(req, body as string, done);
  });
}
