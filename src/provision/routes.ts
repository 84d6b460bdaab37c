// GET /provision/<file> and /provision/t/<token>/<file>: generated phone files, model-wide "common" files,
// 404 for the rest. Nothing outside the provisioning root can be named. Every request is logged with why.
import { errorRef, internalMessage, statusOf, type SbCode } from '../util/errors.js';
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app-types.js';
import { clientIp, storeUnavailableRaw } from '../http/server.js';
import { isStoreUnavailable } from '../store/store-errors.js';
import type { ProvisionService } from './service.js';
import type { Decision } from './request-log.js';
import { fmtMac } from '../util/mac.js';

const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TOKEN_RE = /^[0-9a-f]{32}$/;

function sameSecret(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

/** The MAC a file name is about (12 hex digits in it), lower case. */
export function macInName(name: string): string | null {
  const m = /(?:^|[^0-9a-f])([0-9a-f]{12})(?:[^0-9a-f]|$)/i.exec(name);
  return m ? m[1]!.toLowerCase() : null;
}

export function registerProvisionRoutes(app: App, svc: ProvisionService): void {
  const trustProxy = app.config.http.trustProxy;
  // A plain Node handler ahead of Fastify: phones fetch in bursts (a whole floor after a power cut) and
  // this path must stay close to a static file server's speed.
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const q = (req.url ?? '').indexOf('?');
    const rawPath = q >= 0 ? req.url!.slice(0, q) : (req.url ?? '');
    const ua = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : null;
    const ip = clientIp(req, trustProxy);
    let file: string | null = null;
    let mac: string | null = null;
    const done = (status: number, decision: Decision, reason: string | null, body?: { data: string | Buffer; type: string }, code?: SbCode): void => {
      svc.log.add({ at: Date.now(), ip, userAgent: ua, path: rawPath, file, mac, status, decision, reason });
      // A refusal's text names its catalogue code first, as the 500 does (phones ignore it; people reading logs do not).
      const data = body ? body.data : `${code}: ${reason ?? 'error'}\n`;
      const headers: Record<string, string | number> = { 'content-type': body ? body.type : 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(data), 'cache-control': 'no-store' };
      if (status === 401) headers['www-authenticate'] = 'Basic realm="switchboard provisioning", charset="UTF-8"';
      if (status === 405) headers.allow = 'GET, HEAD';
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : data);
    };
    /** A refusal: its status is its code's (src/util/errors.ts). */
    const refuse = (code: SbCode, decision: Decision, reason: string): void => done(statusOf(code), decision, reason, undefined, code);
    // The path first, so that refused requests (405, 401) are logged with the file and MAC they asked for:
    // "why does this phone get 401?" is answered by `provision log <mac>`. A bad path is a 400 whatever else.
    let rest: string;
    try {
      rest = decodeURIComponent(rawPath.slice('/provision/'.length));
    } catch {
      return refuse('SB_PROVISION_BAD_PATH', 'bad_request', 'not a file name in the provisioning root');
    }
    const parts = rest.split('/');
    let token: string | null = null;
    let fileParts = parts;
    if (parts[0] === 't' && parts.length >= 2) {
      token = parts[1]!;
      fileParts = parts.slice(2);
    }
    // Firmware images: fw/<sha256>/<name>, the same bytes for every phone of the model.
    const fw = parts.length === 3 && parts[0] === 'fw' && /^[0-9a-f]{64}$/.test(parts[1]!) && FILE_RE.test(parts[2]!) ? { sha: parts[1]!, name: parts[2]! } : null;
    if (fw) fileParts = [fw.name];
    if (/%2e|%2f|%5c|\\|\0/i.test(rawPath) || parts.some((p) => p === '..' || p === '.') || fileParts.length !== 1 || !FILE_RE.test(fileParts[0]!)) {
      file = rest.slice(0, 255) || null;
      return refuse('SB_PROVISION_BAD_PATH', 'bad_request', 'not a file name in the provisioning root');
    }
    file = fileParts[0]!;
    mac = macInName(file);

    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse('SB_HTTP_METHOD_NOT_ALLOWED', 'bad_request', `method ${String(req.method).slice(0, 10)} is not allowed`);

    const auth = svc.cfg.auth;
    if (auth) {
      const h = req.headers.authorization ?? '';
      const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(h);
      const given = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
      const i = given.indexOf(':');
      if (!m || i < 0 || !(sameSecret(given.slice(0, i), auth.user) && sameSecret(given.slice(i + 1), auth.password))) {
        return refuse('SB_PROVISION_UNAUTHORIZED', 'unauthorized', m ? 'wrong user or password' : 'no credentials (basic auth is required)');
      }
    }

    if (fw) {
      mac = null;
      void svc.firmware.read(fw.sha, fw.name).then(
        (data) => (data ? done(200, 'served', 'firmware image', { data, type: 'application/octet-stream' }) : refuse('SB_PROVISION_NO_SUCH_FILE', 'not_found', 'no such firmware image')),
        (err: unknown) => {
          app.log.error({ err: String(err) }, 'could not read a firmware image');
          refuse('SB_STORE_UNAVAILABLE', 'not_found', 'the firmware image could not be read from the store');
        },
      );
      return;
    }

    let tokenMac: string | undefined;
    if (token !== null) {
      tokenMac = TOKEN_RE.test(token) ? svc.macOfToken(token) : undefined;
      if (!tokenMac) return refuse('SB_PROVISION_NO_SUCH_FILE', 'not_found', 'unknown token in the URL');
    }

    const served = svc.fileByName(file);
    if (served && (!tokenMac || served.mac === tokenMac)) {
      mac = served.mac;
      if (svc.cfg.tokenUrls && !tokenMac) return refuse('SB_PROVISION_TOKEN_URL_REQUIRED', 'refused', `this phone's files are served only under its token URL`);
      svc.recordFetch(served.mac, ip, ua);
      return done(200, 'served', null, { data: served.body, type: served.contentType });
    }
    if (served && tokenMac) return refuse('SB_PROVISION_NO_SUCH_FILE', 'not_found', `${file} belongs to another phone than this URL's token`);

    // Model-wide files phones probe besides their own: answer with a minimal valid file, never an error page.
    const uaDriver = ua ? svc.drivers.parseUserAgent(ua)?.driver : undefined;
    const candidates = uaDriver ? [uaDriver, ...svc.drivers.list.filter((d) => d !== uaDriver)] : svc.drivers.list;
    for (const d of candidates) {
      const common = d.commonFile?.(file, { ...svc.settings(d, '', 0), configUrl: svc.rootUrl() });
      if (common) return done(200, 'common', `${d.label} common file`, { data: common.body, type: common.contentType });
    }

    const unreadable = mac ? svc.unreadableReason(mac) : undefined;
    if (mac && unreadable) return refuse('SB_PROVISION_NO_SUCH_FILE', 'not_found', `phone ${fmtMac(mac)} is provisioned but ${unreadable.replace(/;.*$/, '')}`);
    if (mac) {
      svc.unknownFetch(mac, file, ip, ua);
      return refuse('SB_PROVISION_NO_SUCH_FILE', 'not_found', `no phone with MAC ${fmtMac(mac)} is provisioned`);
    }
    return refuse('SB_PROVISION_NO_SUCH_FILE', 'not_found', 'no such file');
  };
  app.http.fastRoute('/provision/', (req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      if (isStoreUnavailable(err)) return storeUnavailableRaw(res, err, app.log, 'text');
      const ref = errorRef();
      app.log.error({ err, ref, code: 'SB_INTERNAL' }, 'provisioning request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`SB_INTERNAL: ${internalMessage(ref)}\n`);
    }
  });
}
