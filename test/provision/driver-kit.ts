// What every phone driver test shares: the settings the golden files are rendered with, a phone as the core
// normalises it, a real XML parser (saxes) for well-formedness, and the golden-file comparison
// (UPDATE_GOLDEN=1 rewrites the files from the driver).
import fs from 'node:fs';
import path from 'node:path';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import type { Phone, PhoneDriver, ProvisionSettings } from '../../drivers/phones/contract.js';
import { GOLDEN } from './helpers.js';

export const SETTINGS: ProvisionSettings = {
  configUrl: 'http://10.20.0.5:8080/provision/',
  ntpServer: 'pool.ntp.org',
  timezone: 'America/Sao_Paulo',
  utcOffsetMinutes: -180,
  adminPassword: 'Adm1n!pass',
  version: 1,
  options: {},
};
export const AUTH = { user: 'phones', password: 'Pr0v!s10n-secret' };
export const FIRMWARE_URL = 'http://10.20.0.5:8080/provision/fw/0123456789abcdef/firmware.bin';

export function phone(driver: PhoneDriver, mac: string, extension: string, name: string, password: string, more: Partial<Phone> = {}): Phone {
  return { mac, model: driver.id, extension, name: name || extension, authUser: extension, password, server: 'pbx.example.lan', port: 5060, line: 1, extra: {}, ...more };
}

export const isXml = (body: string): boolean => /^\s*<(\?xml\b|[A-Za-z])/.test(body);

/** Parsed by saxes: the text and attribute values it holds, or the parser's first error. */
export function parseXml(xml: string): { ok: true; values: string[] } | { ok: false; error: string } {
  const values: string[] = [];
  const parser = new SaxesParser();
  let error: string | undefined;
  parser.on('error', (e) => {
    error ??= e.message;
  });
  parser.on('text', (t) => values.push(t));
  parser.on('opentag', (tag) => {
    for (const v of Object.values(tag.attributes) as unknown[]) values.push(typeof v === 'string' ? v : (v as { value: string }).value);
  });
  parser.write(xml).close();
  return error ? { ok: false, error } : { ok: true, values };
}

/** One golden file per rendered file under test/provision/golden/<dir>/, every XML one well-formed. */
export function goldenSuite(dir: string, driver: PhoneDriver, phones: Phone[], settings: ProvisionSettings = SETTINGS): void {
  describe(`${driver.label}: golden files (${dir})`, () => {
    for (const p of phones) {
      it(`${p.mac} (ext ${p.extension}, line ${p.line}) renders exactly its golden file`, () => {
        expect(driver.validate(p)).toEqual([]);
        const files = driver.render(p, settings);
        expect(files.map((f) => f.name)).toEqual(driver.fileNames(p.mac));
        for (const f of files) {
          if (isXml(f.body)) expect(parseXml(f.body)).toMatchObject({ ok: true });
          const file = path.join(GOLDEN, dir, f.name);
          if (process.env.UPDATE_GOLDEN === '1') {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, f.body);
          }
          expect(Buffer.from(f.body, 'utf8').equals(fs.readFileSync(file)), `${dir}/${f.name} differs from its golden file`).toBe(true);
        }
      });
    }
  });
}
