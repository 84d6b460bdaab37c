// Bits shared by the protocol fakes.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

export async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Parse a request body the way the platform would: JSON, urlencoded form, or multipart form. */
export async function parseBody(req: http.IncomingMessage, body: Buffer): Promise<{ fields: Record<string, unknown>; files: Record<string, { name: string; data: Buffer; type: string }> }> {
  const ct = String(req.headers['content-type'] ?? '');
  const fields: Record<string, unknown> = {};
  const files: Record<string, { name: string; data: Buffer; type: string }> = {};
  if (!body.length) return { fields, files };
  if (ct.includes('application/json')) return { fields: JSON.parse(body.toString('utf8')), files };
  if (ct.includes('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) fields[k] = v;
    return { fields, files };
  }
  if (ct.includes('multipart/form-data')) {
    const fd = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': ct }, body }).formData();
    for (const [k, v] of fd) {
      if (typeof v === 'string') fields[k] = v;
      else files[k] = { name: v.name, data: Buffer.from(await v.arrayBuffer()), type: v.type };
    }
    return { fields, files };
  }
  return { fields: { raw: body.toString('utf8') }, files };
}

export async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), ...headers });
  res.end(s);
}

/** Wait until `pred` returns a truthy value (polling), or fail after `ms`. */
export async function waitFor<T>(pred: () => T | undefined | null | false, ms = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Failure {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
