// The mixed office every multi-vendor test provisions: one phone of each of the seven families.
import { file } from './helpers.js';

/** model alias as a technician types it, MAC, extension, and the user agent that model really sends. */
export const MIXED: [model: string, mac: string, ext: string, ua: string][] = [
  ['x1sg', '0c:38:3e:7a:00:01', '7001', 'Fanvil X1SG 2.12.1 0c383e7a0001'],
  ['405hd', '00:90:8f:7a:00:02', '7002', 'AUDC-IPPhone/2.2.12.126 (405HD; 00908F7A0002)'],
  ['yealink', '80:5e:c0:7a:00:03', '7003', 'Yealink SIP-T46S 66.86.0.15 80:5e:c0:7a:00:03'],
  ['grandstream', '00:0b:82:7a:00:04', '7004', 'Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b827a0004'],
  ['polycom', '00:04:f2:7a:00:05', '7005', 'FileTransport PolycomVVX-VVX_411-UA/5.9.5.0614'],
  ['cisco', '00:56:2b:7a:00:06', '7006', 'Cisco-CP-8841-3PCC/11.3.7 (00562b7a0006)'],
  ['snom', '00:04:13:7a:00:07', '7007', 'Mozilla/4.0 (compatible; snomD735-SIP 10.1.54.13 1.1.3-u)'],
];
export const mixedSheet = () => file('mixed-office.csv', ['model,mac,extension,name,password', ...MIXED.map(([m, mac, ext]) => `${m},${mac},${ext},Desk ${ext},Pw#${ext}abcd`)].join('\n'));
