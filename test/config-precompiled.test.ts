// The build precompiles the config validator (ajv standalone code); it must behave exactly like the
// validator compiled at run time, and be ignored when the schema it was made for is not the one in use.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSchema } from '../src/config.js';
import { configValidator, writePrecompiled } from '../src/config-validator.js';
import { features } from '../src/features.js';

// The generated code requires ajv's runtime helpers, so it must sit where node_modules resolves.
const made: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(process.cwd(), '.tmp-config-validator-'));
  made.push(d);
  return d;
}
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const schema = () => buildSchema(features.flatMap((f) => (f.config ? [f.config] : [])));

function run(validate: (d: unknown) => boolean, input: Record<string, unknown>) {
  const data = structuredClone(input);
  const ok = validate(data);
  return { ok, data, errors: (validate as unknown as { errors?: unknown }).errors ?? null };
}

describe('precompiled config validator', () => {
  it('is used when it matches the schema, and validates, fills defaults and coerces like run-time ajv', () => {
    const dir = tmpDir();
    writePrecompiled(schema(), dir);
    const pre = configValidator(schema(), dir);
    const live = configValidator(schema(), tmpDir());
    expect(pre.precompiled).toBe(true);
    expect(live.precompiled).toBe(false);
    const inputs: Record<string, unknown>[] = [
      {},
      { dataDir: '/srv/sb', http: { port: '9000', trustProxy: 'true' } },
      { http: { port: 'not a port' } },
      { http: { port: 70000 }, nope: 1 },
      { dhcp: 'not an object' },
    ];
    for (const input of inputs) {
      const a = run(pre.validate, input);
      const b = run(live.validate, input);
      expect(a, JSON.stringify(input)).toEqual(b);
    }
    expect(run(pre.validate, {}).data).toMatchObject({ http: { host: '127.0.0.1', port: 8080 } });
    expect(run(pre.validate, { http: { port: 'x' } }).ok).toBe(false);
  });

  it('is ignored when it was made for another schema (a stale build)', () => {
    const dir = tmpDir();
    writePrecompiled(buildSchema([]), dir);
    const v = configValidator(schema(), dir);
    expect(v.precompiled).toBe(false);
    expect(run(v.validate, { http: { port: 'x' } }).ok).toBe(false);
  });
});
