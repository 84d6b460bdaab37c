// The agent's pure parts against real inputs: Nagios range syntax, perfdata, real plugin output, the
// registration parsers, the spool's cap and order, the CDR tail across restarts and rotation, and the
// hard timeout that kills a plugin's whole process group.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alerts, parseRange, statusFor } from '../../src/wire/range.js';
import { parsePerfdata, parsePluginOutput } from '../../src/wire/perfdata.js';
import { runNagios, splitWords } from '../../src/agent/checks.js';
import { parseRegistrations } from '../../src/agent/sensors/sip-registrations.js';
import { Spool } from '../../src/agent/spool.js';
import { CdrTail } from '../../src/agent/cdr.js';
import { tmpDir } from '../helpers/env.js';

const dir = tmpDir('sb-mon-unit-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('Nagios ranges', () => {
  it.each([
    ['10', -1, true],
    ['10', 0, false],
    ['10', 10, false],
    ['10', 11, true],
    ['10:', 9, true],
    ['10:', 10, false],
    ['10:', 1e9, false],
    ['~:10', -1e9, false],
    ['~:10', 11, true],
    ['10:20', 9, true],
    ['10:20', 15, false],
    ['10:20', 21, true],
    ['@10:20', 9, false],
    ['@10:20', 10, true],
    ['@10:20', 20, true],
    ['@10:20', 21, false],
  ] as const)('%s with %d alerts=%s', (spec, v, want) => expect(alerts(v, parseRange(spec))).toBe(want));
  it('rejects bad ranges and picks the worst status', () => {
    expect(() => parseRange('20:10')).toThrow(/greater/);
    expect(() => parseRange('abc')).toThrow(/not a number/);
    expect(statusFor(95, '80', '90')).toBe(2);
    expect(statusFor(85, '80', '90')).toBe(1);
    expect(statusFor(5, '80', '90')).toBe(0);
  });
});

describe('perfdata', () => {
  it('parses several items, quoted labels, UOMs and empty fields', () => {
    expect(parsePerfdata("'/var log'=37%;80;90;0;100 time=0.000123s;;;0.000000;10.000000 load1=0.150;15.000;30.000;0; '''quoted'''=1 bad")).toEqual([
      { label: '/var log', value: 37, uom: '%', warn: '80', crit: '90', min: 0, max: 100 },
      { label: 'time', value: 0.000123, uom: 's', min: 0, max: 10 },
      { label: 'load1', value: 0.15, warn: '15.000', crit: '30.000', min: 0 },
      { label: "'quoted'", value: 1 },
    ]);
  });
  it('splits text and long-text perfdata', () => {
    const r = parsePluginOutput('DISK OK - free space: / 3326 MB | /=2643MB;5948;5958;0;5968\n/ 15272 MB (77%);\n/boot 68 MB (69%); | /boot=68MB;88;93;0;98\n/home=69357MB;253404;253409;0;253414\n');
    expect(r.output.split('\n')[0]).toBe('DISK OK - free space: / 3326 MB');
    expect(r.perfdata.map((p) => p.label)).toEqual(['/', '/boot', '/home']);
  });
  it('reads real plugins (check_dummy, check_load) with exit codes', async () => {
    expect(await runNagios('/usr/lib/nagios/plugins/check_dummy 1 "two words"', 5000)).toEqual({ status: 1, output: 'WARNING: two words', perfdata: [] });
    const load = await runNagios('/usr/lib/nagios/plugins/check_load -w 900,900,900 -c 999,999,999', 5000);
    expect(load.status).toBe(0);
    expect(load.perfdata.map((p) => p.label)).toEqual(['load1', 'load5', 'load15']);
    expect((await runNagios('/nonexistent/check_x', 5000)).status).toBe(3);
  });
  it('kills the whole process group on timeout -> UNKNOWN', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const script = path.join(dir, 'slow.sh');
    fs.writeFileSync(script, `#!/bin/sh\nsleep 30 &\necho $! > ${pidFile}\nwait\n`, { mode: 0o755 });
    const t0 = Date.now();
    const r = await runNagios(script, 500);
    expect(r.status).toBe(3);
    expect(r.output).toMatch(/timed out/);
    expect(Date.now() - t0).toBeLessThan(3000);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    await new Promise((res) => setTimeout(res, 100));
    // Gone, or a zombie waiting for a reaper (state Z): either way no longer running.
    let state = 'gone';
    try {
      state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0]!;
    } catch {
      /* gone */
    }
    expect(['gone', 'Z', 'X']).toContain(state);
  });
  it('splits command lines like a shell would, without a shell', () => {
    expect(splitWords(`check_x -w '20%' -c "10 %" a\\ b ''`)).toEqual(['check_x', '-w', '20%', '-c', '10 %', 'a b', '']);
  });
});

describe('registrations', () => {
  it('parses pjsip and chan_sip output', () => {
    const pj = `
 <Registration/ServerURI..............................>  <Auth....................>  <Status.......>
==========================================================================================

 trunk-main/sip:sip.carrier.example:5060                  trunk-main-auth             Registered (exp. 3564s)
 trunk-b/sip:sip2.carrier.example:5060                    trunk-b-auth                Rejected

Objects found: 2
`;
    expect(parseRegistrations(pj)).toEqual([
      { name: 'trunk-main', state: 'Registered' },
      { name: 'trunk-b', state: 'Rejected' },
    ]);
    const cs = `Host                                    dnsmgr Username       Refresh State                Reg.Time
sip.carrier.example:5060                N      1001               105 Registered           Sun, 22 Nov 2026 10:00:00
sip2.carrier.example:5060               N      1002               120 Request Sent
2 SIP registrations.
`;
    expect(parseRegistrations(cs)).toEqual([
      { name: '1001@sip.carrier.example:5060', state: 'Registered' },
      { name: '1002@sip2.carrier.example:5060', state: 'Request Sent' },
    ]);
  });
});

describe('spool', () => {
  it('keeps order, survives reopening, drops the oldest when full and counts them', () => {
    const d = path.join(dir, 'spool');
    const s = new Spool(d, 2000);
    for (let i = 0; i < 10; i++) s.append([{ id: `s-${i}`, i, pad: 'x'.repeat(50) }]);
    expect(s.peek<{ i: number }>(3).map((x) => x.i)).toEqual([0, 1, 2]);
    expect(s.ack(['s-0', 's-1'])).toBe(0);
    const again = new Spool(d, 2000);
    expect(again.peek<{ i: number }>(100).map((x) => x.i)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    for (let i = 10; i < 60; i++) again.append([{ id: `s-${i}`, i, pad: 'x'.repeat(50) }]);
    const left = again.peek<{ i: number }>(1000).map((x) => x.i);
    expect(left[left.length - 1]).toBe(59);
    expect(again.dropped).toBe(58 - left.length);
    expect(new Spool(d, 2000).dropped).toBe(again.dropped);
    expect(left).toEqual([...left].sort((a, b) => a - b));
  });
});

describe('CDR tail', () => {
  const line = (id: string, dst: string) =>
    `"","2001","${dst}","from-internal","""Reception"" <2001>","PJSIP/2001-01","PJSIP/trunk-02","Dial","PJSIP/${dst}@trunk,300,","2026-11-22 10:00:00","2026-11-22 10:00:02","2026-11-22 10:01:02",62,60,"ANSWERED","DOCUMENTATION","${id}",""\n`;
  const uid = (callId: string) => callId.split('#')[0]!;
  it('remembers its position across restarts and handles rotation and truncation', () => {
    const csv = path.join(dir, 'Master.csv');
    const state = path.join(dir, 'cdr.json');
    fs.writeFileSync(csv, line('1763000010.1', '100'));
    let t = new CdrTail(csv, state);
    expect(t.read()).toBeNull(); // history at first start is not news
    fs.appendFileSync(csv, line('1763000010.2', '0900111') + '"partial');
    let r = t.read()!;
    expect(r.calls.map((c) => [uid(c.callId), c.dst, c.src, c.duration, c.disposition])).toEqual([['1763000010.2', '0900111', '2001', 62, 'ANSWERED']]);
    t.commit(r.next);
    t = new CdrTail(csv, state); // restart
    expect(t.read()).toBeNull();
    fs.appendFileSync(csv, ',"x"\n' + line('1763000010.3', '200'));
    fs.appendFileSync(csv, 'short\n'); // lines shorter than the 64-byte fingerprint
    expect(t.read()!.calls.map((c) => uid(c.callId))).toEqual(['1763000010.3']);
    r = t.read()!;
    expect(r.calls.map((c) => uid(c.callId))).toEqual(['1763000010.3']);
    t.commit(r.next);
    fs.renameSync(csv, `${csv}.1`); // rotation
    fs.writeFileSync(csv, line('1763000010.4', '300'));
    r = t.read()!;
    expect(r.calls.map((c) => uid(c.callId))).toEqual(['1763000010.4']);
    t.commit(r.next);
    fs.truncateSync(csv, 0); // truncation
    fs.appendFileSync(csv, line('1763000010.5', '400'));
    expect(t.read()!.calls.map((c) => uid(c.callId))).toEqual(['1763000010.5']);
  });
});

describe('built-in checks on this machine', () => {
  const def = (kind: string, args: Record<string, string> = {}) => ({ id: 1, name: kind, kind, args, intervalMs: 60_000, timeoutMs: 5000 });
  it('disk, memory, swap, load, uptime, process follow thresholds', async () => {
    const { runCheck } = await import('../../src/agent/checks.js');
    const disk = await runCheck(def('disk', { path: '/', warn: '101', crit: '@0:100' }));
    expect(disk.status).toBe(2);
    expect(disk.output).toMatch(/^DISK CRITICAL - \/ [\d.]+% used/);
    expect(disk.perfdata[0]).toMatchObject({ label: '/', uom: '%', min: 0, max: 100 });
    expect((await runCheck(def('memory', { warn: '101' }))).output).toMatch(/^MEMORY OK - [\d.]+% used of \d+ MiB/);
    expect((await runCheck(def('swap'))).status).toBe(0);
    expect((await runCheck(def('load', { crit: '~:1000' }))).perfdata.map((p) => p.label)).toEqual(['load1', 'load5', 'load15']);
    expect((await runCheck(def('uptime', { crit: '1000000000:' }))).status).toBe(2);
    const procs = await runCheck(def('process', { name: 'definitely-not-running-xyz' }));
    expect(procs).toMatchObject({ status: 2, output: 'PROCS CRITICAL - 0 process(es) named definitely-not-running-xyz' });
  });
  it('ping measures RTT and loss against 127.0.0.1 with /usr/bin/ping', async () => {
    const { runCheck } = await import('../../src/agent/checks.js');
    const r = await runCheck(def('ping', { host: '127.0.0.1', count: '2', warn: '100', crit: '200' }));
    expect(r.status).toBe(0);
    expect(r.output).toMatch(/^PING OK - 127\.0\.0\.1 rta [\d.]+ ms, loss 0%/);
    expect(r.perfdata.map((p) => p.label)).toEqual(['rta', 'pl']);
  });
  it('the asterisk checks read `asterisk -rx` output and time out hard', async () => {
    const { runCheck } = await import('../../src/agent/checks.js');
    const ast = path.join(dir, 'asterisk-fake');
    fs.writeFileSync(
      ast,
      `#!/bin/sh\ncase "$2" in\n "core show uptime seconds") printf 'System uptime: 4242\\nLast reload: 10\\n';;\n "sip show registry") printf 'Host                                    dnsmgr Username       Refresh State                Reg.Time\\nsip.x.example:5060                      N      1001               105 Rejected\\n1 SIP registrations.\\n';;\n *) sleep 30;;\nesac\n`,
      { mode: 0o755 },
    );
    expect(await runCheck(def('asterisk-uptime', { asterisk: ast, crit: '60:' }))).toMatchObject({ status: 0, output: 'ASTERISK UPTIME OK - up 4242s' });
    expect(await runCheck(def('sip-registrations', { asterisk: ast, driver: 'sip' }))).toMatchObject({ status: 2, output: 'SIP CRITICAL - 1001@sip.x.example:5060 Rejected; 0/1 registered' });
    const slow = await runCheck({ ...def('asterisk-channels', { asterisk: ast }), timeoutMs: 300 });
    expect(slow).toMatchObject({ status: 3, output: 'ASTERISK UNKNOWN - timed out' });
  });
});
