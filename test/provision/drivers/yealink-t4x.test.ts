// yealink-t4x: golden files for a plain phone, a second line with accents and XML-special characters, basic auth
// and a firmware wave. The behaviour every driver shares is in driver-contract.test.ts.
import { describe, expect, it } from 'vitest';
import { driver } from '../../../drivers/phones/yealink-t4x.js';
import { AUTH, FIRMWARE_URL, goldenSuite, phone, SETTINGS } from '../driver-kit.js';

const PHONES = [phone(driver, '001565a1b201', '4001', 'Reception', 'Xp4!rT9wq2'), phone(driver, '805ec0a1b202', '4002', 'João & Ana <Sala 2>', 'K8#mq2Lzv7', { line: 2, port: 5080, room: 'Térreo' })];

goldenSuite('yealink-t4x', driver, PHONES);
goldenSuite('yealink-t4x-auth-firmware', driver, PHONES.slice(0, 1), { ...SETTINGS, auth: AUTH, firmwareUrl: FIRMWARE_URL, version: 7 });

describe('yealink-t4x user agent', () => {
  it('recognises the user agent the phone really sends', () => {
    expect(driver.parseUserAgent(driver.sampleUserAgent!)).toMatchObject({ vendor: driver.vendor });
  });
});
