// A new DHCP backend is one file: this test writes a toy backend into a scratch folder, names that folder in
// dhcp.backendDirs and nothing else, and the real code paths pick it up — config check, `dhcp render`,
// `dhcp apply` (render → the backend's checker → swap → reload, and a refused candidate leaving the live file
// as it was), `monitor enroll … targets=` and the apply agent's config.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { DhcpBackends } from '../../src/dhcp/backends/index.js';
import { applyConfigFrom } from '../../src/agent/apply.js';
import { SUBNETS } from './helpers.js';

const TYPES = path.resolve('src/dhcp/backends/types.ts');

/** The whole backend: one module exporting `backend`, using Node builtins only (its types are erased). */
const TOY = `
import { execFileSync } from 'node:child_process';
import type { Backend } from ${JSON.stringify(TYPES)};

export const backend: Backend = {
  name: 'toy',
  defaults: { path: '/etc/toy/hosts', check: [], reload: [] },
  installHint: 'toy-dhcpd',
  checker: 'toy-check',
  targets: ['toy-hosts'],
  render: (i) => [{ target: 'toy-hosts', text: i.hosts.map((h) => \`host \${h.hostname} \${h.mac} \${h.ip}\\n\`).join('') }],
  liveFiles: (s) => [s.path!],
  async check(c, s) {
    if (!s.check?.length) return { ok: true, output: '' };
    const argv = s.check.map((a) => a.replace('{file}', c.files[0]!));
    try {
      return { ok: true, output: execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }) };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      return { ok: false, output: \`\${err.stdout ?? ''}\${err.stderr ?? ''}\`.trim() || err.message };
    }
  },
  async reload(s) {
    if (!s.reload?.length) return null;
    execFileSync(s.reload[0]!, s.reload.slice(1));
    return { ok: true, output: '' };
  },
};
`;

describe('a DHCP backend added as one file', () => {
  let t: TestApp;
  let plugins: string;
  let live: string;
  let reloads: string;
  beforeAll(async () => {
    plugins = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-toy-backend-'));
    fs.writeFileSync(path.join(plugins, 'toy.ts'), TOY);
    live = path.join(plugins, 'live-hosts');
    reloads = path.join(plugins, 'reloads');
    // The toy daemon refuses a host named pc-refused (its checker's own words on stderr).
    const check = ['sh', '-c', 'if grep -q pc-refused "$1"; then echo "toy-check: pc-refused is not allowed" >&2; exit 1; fi', 'toy-check', '{file}'];
    t = await makeTestApp({
      overrides: { 'dhcp.subnets': SUBNETS, 'dhcp.backendDirs': [plugins], 'dhcp.backends.toy': { enabled: true, path: live, check, reload: ['sh', '-c', `echo reload >> ${reloads}`] } },
    });
  });
  afterAll(async () => {
    await t?.close();
    fs.rmSync(plugins, { recursive: true, force: true });
  });

  it('is loaded through the same loader as the built-in ones, beside them', async () => {
    expect(t.app.services.dhcpBackends.names()).toEqual(['dnsmasq', 'isc', 'keaControl', 'kea', 'proxy', 'toy']);
    expect(t.app.services.dhcpBackends.targets()).toContain('toy-hosts');
    // Its defaults fill the keys the config left out; the built-in ones are filled too (disabled).
    expect(t.app.config.dhcp.backends.toy).toMatchObject({ enabled: true, path: live });
    expect(t.app.config.dhcp.backends.isc).toMatchObject({ enabled: false, path: '/etc/dhcp/dhcpd.hosts' });
    const alone = await DhcpBackends.load(plugins);
    expect(alone.get('toy')!.checker).toBe('toy-check');
  });

  it('renders, checks, installs and reloads the hosts through dhcp render and dhcp apply', async () => {
    expect((await t.run('dhcp add mac=00:11:22:33:44:a1 ip=10.20.0.41 name=pc-toy-1')).exitCode).toBe(0);
    const shown = await t.run('dhcp render toy-hosts', { user: 'admin' });
    expect(shown.replies.join('\n')).toContain('host pc-toy-1 00:11:22:33:44:a1 10.20.0.41');
    const unknown = await t.run('dhcp render nope', { user: 'admin' });
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.replies.join('\n')).toContain('unknown target "nope" (targets: dnsmasq, isc, kea, proxy1, proxy2, proxy3, toy-hosts)');
    const r = await t.run('dhcp apply', { confirmed: true });
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    expect(fs.readFileSync(live, 'utf8')).toBe('host pc-toy-1 00:11:22:33:44:a1 10.20.0.41\n');
    expect(fs.readFileSync(reloads, 'utf8')).toBe('reload\n');
  });

  it("a candidate the toy's checker refuses changes no live file and the reply carries the checker's words", async () => {
    const before = fs.readFileSync(live, 'utf8');
    await t.app.services.dhcp.upsertHosts([{ mac: '00:11:22:33:44:a2', ip: '10.20.0.42', hostname: 'pc-refused' }], 't');
    const r = await t.run('dhcp apply', { confirmed: true });
    const text = r.replies.join('\n');
    expect(r.exitCode, text).toBe(1);
    expect(text).toMatch(/toy-check/);
    expect(text).toContain('pc-refused is not allowed');
    expect(fs.readFileSync(live, 'utf8')).toBe(before);
    expect(fs.readFileSync(reloads, 'utf8')).toBe('reload\n');
    await t.run('dhcp rm pc-refused', { confirmed: true });
  });

  it('is a name apply agents can own (targets=) and an agent can configure (apply.backends)', async () => {
    const r = await t.run('monitor enroll dhcp-toy role=apply targets=toy', { user: 'admin' });
    expect(r.exitCode, r.replies.join('\n')).toBe(0);
    expect(r.replies.join('\n')).toContain('toy: {reload:');
    const known = await DhcpBackends.load(plugins);
    const bad = (m: string): never => {
      throw new Error(m);
    };
    expect(applyConfigFrom({ backends: { toy: { reload: ['true'] } } }, bad, known).backends.toy).toEqual({ path: '/etc/toy/hosts', check: [], reload: ['true'] });
  });
});

describe('dhcp.backends names only loaded backends', () => {
  it('an unknown name stops the start, naming it and the known ones', async () => {
    await expect(makeTestApp({ overrides: { 'dhcp.backends.bind9': { enabled: true, path: '/etc/bind/hosts' } } })).rejects.toThrow(
      /invalid configuration: dhcp\.backends\.bind9: unknown backend "bind9" \(backends: dnsmasq, isc, keaControl, kea, proxy\)/,
    );
  });

  it('a backend file that cannot be loaded, or exports no backend, is an error naming the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bad-backend-'));
    try {
      fs.writeFileSync(path.join(dir, 'helper.ts'), 'export const x = 1;\n');
      await expect(DhcpBackends.load(dir)).rejects.toThrow(new RegExp(`DHCP backend file ${path.join(dir, 'helper.ts').replace(/[.]/g, '\\.')}: exports no \`backend\``));
      fs.rmSync(path.join(dir, 'helper.ts'));
      fs.writeFileSync(path.join(dir, 'second-isc.ts'), "export const backend = { name: 'isc', defaults: {}, targets: ['x'], render() {}, liveFiles() {}, check() {}, reload() {} };\n");
      await expect(DhcpBackends.load(dir)).rejects.toThrow(/second-isc\.ts: a DHCP backend named isc is already loaded/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
