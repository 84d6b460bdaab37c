// The contract every driver in drivers/phones/ keeps, run over every driver found: adding a model is one
// driver file plus its golden test, and this suite covers it without edits.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Phone, PhoneDriver } from '../../drivers/phones/contract.js';
import { DriverSet, NOT_DRIVERS, PHONE_DRIVERS_DIR } from '../../src/provision/drivers.js';
import { AUTH, FIRMWARE_URL, isXml, parseXml, phone, SETTINGS } from './driver-kit.js';
import { GOLDEN } from './helpers.js';

const drivers = await DriverSet.load();
const HERE = path.dirname(new URL(import.meta.url).pathname);

function samplePhone(d: PhoneDriver, line = 1): Phone {
  return phone(d, `${d.ouis[0]}0a0b0c`, '5001', 'Ana & Bê <QA>', 'S3cr&t<pw>"x', { line: Math.min(line, d.maxLines), server: 'pbx.example.lan', port: 5070 });
}

/** What a phone reads from a file: the body, or the text and attribute values of an XML file. */
function readable(body: string): string {
  if (!isXml(body)) return body;
  const r = parseXml(body);
  if (!r.ok) throw new Error(`not well-formed XML: ${r.error}`);
  return r.values.join('\n');
}

describe('phone driver contract', () => {
  it('finds at least the seven families', () => {
    expect(drivers.list.map((d) => d.vendor).sort()).toEqual(expect.arrayContaining(['AudioCodes', 'Cisco', 'Fanvil', 'Grandstream', 'Poly', 'Snom', 'Yealink']));
  });

  it('loads a driver from every module in drivers/phones/, its id the file name (none is skipped unseen)', () => {
    expect(NOT_DRIVERS).toEqual(['contract', 'override-styles', 'util']);
    const modules = fs.readdirSync(PHONE_DRIVERS_DIR).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_') && !NOT_DRIVERS.includes(f.slice(0, -3)));
    expect(drivers.list.map((d) => `${d.id}.ts`)).toEqual(modules.sort());
  });

  for (const d of drivers.list) {
    describe(d.id, () => {
      it('has a golden test and golden files, a source and a real user agent it recognises', () => {
        // Its own drivers/<id>.test.ts, or (Fanvil, AudioCodes: the fixture phones' drivers) drivers.test.ts imports it.
        const own = fs.existsSync(path.join(HERE, 'drivers', `${d.id}.test.ts`));
        expect(own || fs.readFileSync(path.join(HERE, 'drivers.test.ts'), 'utf8').includes(`/drivers/phones/${d.id}.js'`), `a golden test for ${d.id}`).toBe(true);
        expect(fs.readdirSync(path.join(GOLDEN, d.id)).length).toBeGreaterThan(0);
        expect(d.source?.length).toBeGreaterThan(10);
        const ua = drivers.parseUserAgent(d.sampleUserAgent!);
        expect(ua?.driver.id, `${d.sampleUserAgent} is recognised as ${ua?.driver.id}`).toBe(d.id);
      });

      it('renders the files it names, each well-formed, carrying line, registrar, name, NTP, admin password and provisioning URL', () => {
        for (const line of [1, 2]) {
          const p = samplePhone(d, line);
          expect(d.validate(p)).toEqual([]);
          const files = d.render(p, SETTINGS);
          expect(files.map((f) => f.name)).toEqual(d.fileNames(p.mac));
          const all = files.map((f) => readable(f.body)).join('\n');
          for (const v of [p.extension, p.name, p.password, p.server, String(p.port), SETTINGS.ntpServer, SETTINGS.adminPassword, '10.20.0.5:8080']) expect(all, `${d.id} carries ${v}`).toContain(v);
          expect(all).not.toContain('fw/0123456789abcdef');
        }
      });

      it('puts the firmware URL in only when given, and the version or credentials change the bytes', () => {
        const p = samplePhone(d);
        const plain = d
          .render(p, SETTINGS)
          .map((f) => f.body)
          .join('');
        const wave = d
          .render(p, { ...SETTINGS, firmwareUrl: FIRMWARE_URL })
          .map((f) => readable(f.body))
          .join('\n');
        if (!['fanvil-x1sg', 'audiocodes-405hd'].includes(d.id)) expect(wave).toContain('/provision/fw/0123456789abcdef');
        expect(
          d
            .render(p, { ...SETTINGS, version: 2 })
            .map((f) => f.body)
            .join(''),
        ).not.toBe(plain);
        expect(
          d
            .render(p, { ...SETTINGS, auth: AUTH })
            .map((f) => f.body)
            .join(''),
        ).not.toBe(plain);
      });

      it('refuses a line the model does not have and a line break in a field', () => {
        expect(d.validate({ ...samplePhone(d), line: d.maxLines + 1 }).map((x) => x.field)).toContain('line');
        expect(d.validate({ ...samplePhone(d), name: 'a\nb' }).map((x) => x.field)).toContain('name');
      });

      it('takes an override: its example is set over the rendered files, which stay well-formed; set again, it replaces', () => {
        const style = d.overrides;
        expect(style, `${d.id} declares an override style`).toBeDefined();
        if (!style) return;
        expect(style.describe.length).toBeGreaterThan(10);
        const ex = style.example;
        expect(style.key(ex.key, SETTINGS.options)).toEqual({ key: ex.key });
        expect(style.valueProblem(ex.key, ex.value, SETTINGS.options)).toBeNull();
        expect(style.owned(ex.key)).toBeNull();
        for (const line of [1, 2]) {
          const p = samplePhone(d, line);
          const files = d.render(p, SETTINGS);
          const once = style.apply(files, [ex], SETTINGS);
          expect(once.map((f) => f.name)).toEqual(files.map((f) => f.name));
          expect(once.map((f) => f.body).join(''), `${d.id} changes a file for ${ex.key}`).not.toBe(files.map((f) => f.body).join(''));
          // Everything the phone read before is still there (the override is added or replaces one value).
          const before = files.map((f) => readable(f.body)).join('\n');
          const after = once.map((f) => readable(f.body)).join('\n');
          for (const v of [p.extension, p.password, SETTINGS.adminPassword, '10.20.0.5:8080']) expect(after).toContain(v);
          expect(after.length).toBeGreaterThanOrEqual(before.length - 40);
          // A value with markup characters stays text; setting the key again replaces its value, never adds a second one.
          const odd = { key: ex.key, value: 'a<b>&"c\'' };
          const twice = style.apply(style.apply(files, [ex], SETTINGS), [odd], SETTINGS);
          expect(twice.map((f) => f.body)).toEqual(style.apply(files, [odd], SETTINGS).map((f) => f.body));
          expect(twice.map((f) => readable(f.body)).join('\n')).toContain(odd.value);
          // The later of two overrides of one key wins.
          expect(style.apply(files, [ex, odd], SETTINGS).map((f) => f.body)).toEqual(style.apply(files, [odd], SETTINGS).map((f) => f.body));
        }
      });

      it('refuses override keys and values its format cannot hold, naming the key and why', () => {
        const style = d.overrides;
        if (!style) return;
        const problem = (key: string) => {
          const r = style.key(key, SETTINGS.options);
          return 'problem' in r ? r.problem : null;
        };
        expect(problem('')).toMatch(/empty/);
        expect(problem('a\nb')).toMatch(/"a\\nb" has a line break/);
        expect(problem('bad<key>')).toMatch(/"bad<key>"/);
        expect(problem('x'.repeat(300))).toMatch(/at most 191/);
        expect(style.valueProblem(style.example.key, 'one\ntwo', SETTINGS.options)).toMatch(/line break/);
        expect(style.valueProblem(style.example.key, 'bell\u0007', SETTINGS.options)).toMatch(/control character \(code 7\)/);
        expect(style.valueProblem(style.example.key, 'x'.repeat(3000), SETTINGS.options)).toMatch(/at most 2048/);
      });

      it('its file names carry the MAC (the phone with that MAC owns them, whatever other models call theirs)', () => {
        const mac = `${d.ouis[0]}0a0b0c`;
        for (const n of d.fileNames(mac)) expect(n.toLowerCase()).toContain(mac);
      });
    });
  }
});
