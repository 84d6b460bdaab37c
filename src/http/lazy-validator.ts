// A Fastify validator that compiles its schema on the route's first request instead of at start-up (the
// default compiler builds an Ajv with ajv-formats and compiles every route schema when the server gets ready).
import type { Options, ValidateFunction } from 'ajv';
import { lazyAjv } from '../util/lazy-ajv.js';

/** Fastify's default Ajv options (without ajv-formats: give a route that needs `format` its own). */
export const FASTIFY_AJV_OPTIONS: Options = { coerceTypes: 'array', useDefaults: true, removeAdditional: true, addUsedSchema: false, allErrors: false };

export function lazyValidator(schema: unknown, options: Options = FASTIFY_AJV_OPTIONS): ((data: unknown) => boolean) & { errors: ValidateFunction['errors'] } {
  let compiled: ValidateFunction | undefined;
  const validate = (data: unknown): boolean => {
    compiled ??= lazyAjv(options).compile(schema as object);
    const ok = compiled(data);
    validate.errors = compiled.errors;
    return ok;
  };
  validate.errors = null as ValidateFunction['errors'];
  return validate;
}
