// Kea Dhcp4 driven over its control channel (a unix socket, `control-socket` in Kea's config) instead of a file
// swap: `config-test` checks the candidate in the running server, `config-set` installs it and `config-write`
// makes Kea write it to its own config file, so a restart keeps it. No reload command is needed.
//
// Kea 2.x vs 3.x: 2.x names the socket in `Dhcp4.control-socket` (one object); from 2.7.2 (so 3.x) the key is
// `control-sockets` (a list), and from 2.7.9 a unix socket must live in Kea's socket directory
// (`[prefix]/var/run/kea`, or KEA_CONTROL_SOCKET_DIR). `config-set` replaces the whole configuration, the
// control socket included, so a document without one would close the channel: the socket is added in the form
// the running server's version (`version-get`) expects unless the rendered document (the template) names one.
// Kea answers `{"result": 0|1|2|3, "text": …, "arguments": …}` (0 success, 1 error, 2 unsupported, 3 empty).
import net from 'node:net';
import { renderKea } from '../../../drivers/dhcp/kea.js';
import type { Backend, BackendSettings } from './types.js';

export interface KeaAnswer {
  result: number;
  text?: string;
  arguments?: Record<string, unknown>;
}

/** Sends one command over Kea's unix control socket and returns its answer. Throws when Kea cannot be reached. */
export function keaCommand(socket: string, command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<KeaAnswer> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let data = '';
    let done = false;
    const finish = (err: Error | null, a?: KeaAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(a!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer from Kea's control socket ${socket} to ${command} within ${timeoutMs} ms`)), timeoutMs);
    const tryParse = (final: boolean) => {
      try {
        const parsed = JSON.parse(data) as KeaAnswer | KeaAnswer[];
        const a = Array.isArray(parsed) ? parsed[0] : parsed;
        if (!a || typeof a.result !== 'number') return finish(new Error(`Kea answered ${command} with something that is not a command answer`));
        finish(null, a);
      } catch {
        if (final) finish(new Error(`Kea's answer to ${command} on ${socket} was cut off or not JSON (${data.length} bytes)`));
      }
    };
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify(args ? { command, arguments: args } : { command })));
    conn.on('data', (d: string) => {
      data += d;
      tryParse(false);
    });
    conn.on('end', () => tryParse(true));
    conn.on('error', (e: NodeJS.ErrnoException) => finish(new Error(`cannot reach Kea's control socket ${socket}: ${e.code ?? e.message}`)));
  });
}

/** Kea's version as [major, minor], from `version-get` ("2.2.0", "3.0.1 (tarball)"). */
async function keaVersion(s: BackendSettings): Promise<[number, number]> {
  const a = await keaCommand(s.socket!, 'version-get', undefined, s.timeoutMs);
  const m = /(\d+)\.(\d+)/.exec(a.text ?? '');
  return m ? [Number(m[1]), Number(m[2])] : [2, 0];
}

/** The candidate as Kea's config-set/config-test arguments, with the control socket kept. */
async function documentFor(text: string, s: BackendSettings): Promise<Record<string, unknown>> {
  const doc = JSON.parse(text) as { Dhcp4: Record<string, unknown> };
  const d4 = doc.Dhcp4;
  if (!('control-socket' in d4) && !('control-sockets' in d4)) {
    const [major, minor] = await keaVersion(s);
    const sock = { 'socket-type': 'unix', 'socket-name': s.socket! };
    if (major > 2 || (major === 2 && minor >= 7)) d4['control-sockets'] = [sock];
    else d4['control-socket'] = sock;
  }
  return doc;
}

function answerText(a: KeaAnswer): string {
  return a.text ?? `result ${a.result}`;
}

export const backend: Backend = {
  name: 'keaControl',
  defaults: { socket: '/run/kea/kea4-ctrl-socket', timeoutMs: 30_000 },
  checker: 'kea (config-test)',
  targets: ['kea'],
  render: (i) => [{ target: 'kea', text: renderKea(i.hosts, i.subnets, i.subnetOf, i.keaTemplate) }],
  liveFiles: () => [],
  async probe(s) {
    const hint = 'start kea-dhcp4 with a control-socket at dhcp.backends.keaControl.socket (and this user allowed to open it)';
    try {
      const a = await keaCommand(s.socket!, 'version-get', undefined, 5000);
      return { ok: a.result === 0, detail: `${s.socket}: Kea ${a.text ?? a.result}`, hint: 'check that kea-dhcp4 runs with this control-socket' };
    } catch (e) {
      return { ok: false, detail: (e as Error).message, hint };
    }
  },
  async check(c, s) {
    try {
      const a = await keaCommand(s.socket!, 'config-test', await documentFor(c.texts[0]!, s), s.timeoutMs);
      return { ok: a.result === 0, output: answerText(a) };
    } catch (e) {
      return { ok: false, output: (e as Error).message };
    }
  },
  async install(texts, s) {
    const before = await keaCommand(s.socket!, 'config-get', undefined, s.timeoutMs);
    if (before.result !== 0 || !before.arguments) throw new Error(`config-get: ${answerText(before)}`);
    const prev = before.arguments;
    const set = await keaCommand(s.socket!, 'config-set', await documentFor(texts[0]!, s), s.timeoutMs);
    if (set.result !== 0) throw new Error(`config-set: ${answerText(set)}`);
    const restore = async (): Promise<string | null> => {
      try {
        const back = await keaCommand(s.socket!, 'config-set', prev, s.timeoutMs);
        if (back.result !== 0) return `Kea (${s.socket}): config-set of the previous configuration: ${answerText(back)}`;
        const w = await keaCommand(s.socket!, 'config-write', undefined, s.timeoutMs);
        return w.result === 0 ? null : `Kea (${s.socket}): config-write of the previous configuration: ${answerText(w)}`;
      } catch (e) {
        return `Kea (${s.socket}): ${(e as Error).message}`;
      }
    };
    const write = await keaCommand(s.socket!, 'config-write', undefined, s.timeoutMs).catch((e: Error) => ({ result: 1, text: e.message }) as KeaAnswer);
    if (write.result !== 0) {
      const problem = await restore();
      throw new Error(`config-write: ${answerText(write)}${problem ? `; and the previous configuration could not be put back: ${problem}` : ' (the previous configuration was set again)'}`);
    }
    return { undo: restore };
  },
  reload: async () => null,
};
