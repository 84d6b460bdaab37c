// The bench's Icinga 2 reference (bench/_icinga.ts) against the machine's real icinga2: it starts on loopback
// with the passive hosts × services asked for, a result posted the way the bench posts it lands on the
// service, the load generator's requests are all answered 2xx, and stop() takes the API down. Nothing timed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureIcinga, startIcinga, type IcingaRef } from '../bench/_icinga.js';

const HOSTS = 3;
const SERVICES_PER_HOST = 4;

interface ServiceState {
  name: string;
  attrs: { last_check_result: { output: string; exit_status: number; performance_data: string[]; active: boolean } | null; enable_active_checks: boolean; enable_passive_checks: boolean };
}

describe('Icinga 2 reference for the ingest bench', () => {
  let ref: IcingaRef;

  beforeAll(async () => {
    const started = await startIcinga({ hosts: HOSTS, servicesPerHost: SERVICES_PER_HOST });
    if ('missing' in started) throw new Error(`${started.missing} is not installed: the bench's Icinga 2 figure needs it (it is in .ci/run's packages)`);
    ref = started;
  });
  afterAll(() => ref?.stop());

  async function services(): Promise<ServiceState[]> {
    const r = await ref.api('GET', '/v1/objects/services?attrs=name&attrs=last_check_result&attrs=enable_active_checks&attrs=enable_passive_checks');
    expect(r.status).toBe(200);
    return (r.json as { results: ServiceState[] }).results;
  }

  it('rejects a size that is not a whole number ≥ 1 before starting anything', async () => {
    await expect(startIcinga({ hosts: 0 })).rejects.toThrow(/hosts \(0\).*whole numbers ≥ 1/);
    await expect(startIcinga({ servicesPerHost: 2.5 })).rejects.toThrow(/servicesPerHost \(2.5\)/);
  });

  it('listens on loopback only, with passive-only services, one body per service in round-robin', async () => {
    expect(new URL(ref.url).hostname).toBe('127.0.0.1');
    const listener = await ref.api('GET', '/v1/objects/apilisteners?attrs=bind_host');
    expect((listener.json as { results: { attrs: { bind_host: string } }[] }).results.map((l) => l.attrs.bind_host)).toEqual(['127.0.0.1']);

    const all = await services();
    expect(ref.services).toBe(HOSTS * SERVICES_PER_HOST);
    expect(all).toHaveLength(ref.services);
    for (const s of all) expect([s.attrs.enable_active_checks, s.attrs.enable_passive_checks, s.attrs.last_check_result]).toEqual([false, true, null]);

    const targets = Array.from({ length: ref.services }, (_, i) => (JSON.parse(ref.body(i)) as { service: string }).service);
    expect(new Set(targets)).toEqual(new Set(all.map((s) => s.name)));
    expect(ref.body(ref.services + 5)).toBe(ref.body(5));
  });

  it("takes a result posted like the bench posts it and shows it as that service's last check result", async () => {
    const body = ref.body(6);
    const target = (JSON.parse(body) as { service: string }).service;
    expect(target).toBe('h2!s3');

    const posted = await ref.api('POST', ref.resultPath, body);
    expect(posted.status).toBe(200);
    expect((posted.json as { results: { code: number }[] }).results.map((r) => r.code)).toEqual([200]);

    const got = await ref.api('GET', `/v1/objects/services/${encodeURIComponent(target)}?attrs=last_check_result`);
    expect(got.status).toBe(200);
    const result = (got.json as { results: ServiceState[] }).results[0]!.attrs.last_check_result;
    expect(result).toMatchObject({ output: 'DISK OK - free space: / 3326 MB (56%)', exit_status: 0, performance_data: ['/=44%;80;90;0;100'], active: false });
    // Only that service got it.
    expect((await services()).filter((s) => s.attrs.last_check_result).map((s) => s.name)).toEqual([target]);
  });

  it('answers every request of a short load run with 2xx, and the results reach the services in round-robin', async () => {
    await expect(measureIcinga(ref, { seconds: 1, connections: 0 })).rejects.toThrow(/connections \(0\)/);
    const connections = 2;
    const figures = await measureIcinga(ref, { seconds: 1, connections });
    expect(figures).toMatchObject({ non_2xx: 0, errors: 0 });
    expect(figures.results).toBeGreaterThan(0);
    // Bodies go out in round-robin order; at most one request per connection was cut off unanswered.
    const reached = (await services()).filter((s) => s.attrs.last_check_result?.output === 'DISK OK - free space: / 3326 MB (56%)');
    expect(reached.length).toBeGreaterThanOrEqual(Math.min(figures.results - connections, ref.services));
  });

  it('stop() takes the API down, and a second stop() is harmless', async () => {
    await ref.stop();
    await expect(ref.api('GET', '/v1/status')).rejects.toThrow(/ECONNREFUSED/);
    await ref.stop();
  });
});
