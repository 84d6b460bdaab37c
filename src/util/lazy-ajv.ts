// One Ajv instance per option set, created when first needed: loading ajv (about a hundred files) and
// compiling schemas stays off the start-up path. Callers keep their option object in a module constant, so
// the same options share one instance.
import { createRequire } from 'node:module';
import type { Options } from 'ajv';
import type * as AjvModule from 'ajv';

const instances = new Map<Options, AjvModule.Ajv>();

export function lazyAjv(options: Options): AjvModule.Ajv {
  let ajv = instances.get(options);
  if (!ajv) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as typeof AjvModule;
    instances.set(options, (ajv = new Ajv(options)));
  }
  return ajv;
}
