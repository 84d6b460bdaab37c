import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import iconv from 'iconv-lite';
import ExcelJS from 'exceljs';
import { readSheet, SheetError, normalizeHeader } from '../src/util/sheet.js';
import { parseMac, macProblem, macHex } from '../src/util/mac.js';
import { fixture } from './helpers/env.js';

describe('readSheet', () => {
  it('reads the English CSV fixture with a quoted comma', async () => {
    const s = await readSheet(fs.readFileSync(fixture('phones-fanvil-en.csv')), 'phones-fanvil-en.csv');
    expect(s.format).toBe('csv');
    expect(s.keys).toEqual(['mac', 'extension', 'name', 'password', 'server', 'ip', 'room']);
    expect(s.rows).toHaveLength(4);
    expect(s.rows[1]!.cells.name).toBe('Moreau, Claire');
    expect(s.rows[1]!.row).toBe(3);
  });

  it('reads BOM + semicolons + accents', async () => {
    const s = await readSheet(fs.readFileSync(fixture('phones-audiocodes-pt.csv')), 'a.csv');
    expect(s.delimiter).toBe(';');
    expect(s.encoding).toBe('utf-8-bom');
    expect(s.keys[0]).toBe('mac');
    expect(s.rows[0]!.cells.nome).toBe('Conceição Brandão');
    expect(s.rows.map((r) => r.cells.sala)).toEqual(['Expedição', 'Jurídico', 'Auditório 2']);
  });

  it('reads Windows-1252', async () => {
    const buf = iconv.encode('mac;nome\r\n00:90:8f:aa:bb:01;Recepção\r\n', 'win1252');
    const s = await readSheet(buf, 'w.csv');
    expect(s.encoding).toBe('windows-1252');
    expect(s.rows[0]!.cells.nome).toBe('Recepção');
  });

  it('reads the XLSX fixture with Portuguese headers and numeric cells', async () => {
    const s = await readSheet(fs.readFileSync(fixture('phones-fanvil-pt.xlsx')), 'phones-fanvil-pt.xlsx');
    expect(s.format).toBe('xlsx');
    expect(s.keys).toEqual(['mac', 'ramal', 'nome', 'senha', 'servidor', 'sala']);
    expect(s.rows.length).toBe(3);
    // Ramal is a number cell on rows 2 and 3 and a text cell on row 4: all read as the same digits.
    expect(s.rows.map((r) => r.cells.ramal)).toEqual(['2411', '2412', '2413']);
    expect(s.rows[0]!.cells).toMatchObject({ nome: 'Secretária', sala: 'Pátio' });
  });

  it('flags formula cells in CSV and XLSX on their row', async () => {
    const csv = await readSheet(Buffer.from('mac,name\n00:11:22:33:44:55,=HYPERLINK("http://x","y")\n'), 'f.csv');
    expect(csv.rows[0]!.issues[0]).toMatch(/name is a formula/);
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('S');
    ws.addRow(['mac', 'name']);
    ws.addRow(['00:11:22:33:44:55', { formula: 'HYPERLINK("http://x","y")', result: 'y' }]);
    const x = await readSheet(Buffer.from(await wb.xlsx.writeBuffer()), 'f.xlsx');
    expect(x.rows[0]!.issues[0]).toMatch(/name is a formula/);
    expect(csv.rows[0]!.formulas).toEqual(['name']);
    expect(x.rows[0]!.formulas).toEqual(['name']);
  });

  it('names a formula cell by column and never echoes its text or its computed result', async () => {
    const csv = await readSheet(Buffer.from('mac,extension,password\n00:11:22:33:44:55,1001,=Secr3t!csv\n'), 'f.csv');
    expect(csv.rows[0]!.issues).toEqual(['password is a formula (column C); paste its value as text instead']);
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('S');
    ws.addRow(['mac', 'extension', 'name', 'password']);
    ws.addRow(['00:11:22:33:44:55', 1001, 'Ana', { formula: 'CONCAT("Secr3t","!xl")', result: 'Secr3t!xl' }]);
    const x = await readSheet(Buffer.from(await wb.xlsx.writeBuffer()), 'f.xlsx');
    expect(x.rows[0]!.issues).toEqual(['password is a formula (column D); paste its value as text instead']);
    expect(JSON.stringify(x.rows[0]!.issues)).not.toMatch(/Secr3t/);
    expect(JSON.stringify(csv.rows[0]!.issues)).not.toMatch(/Secr3t/);
  });

  it('a CSV parse error does not quote the cell it failed on', async () => {
    const err = await readSheet(Buffer.from('mac,password\n1,"Secr3t!q\n'), 'q.csv').catch((e: Error) => e);
    expect(err).toBeInstanceOf(SheetError);
    expect((err as Error).message).toMatch(/^q\.csv is not valid CSV/);
    expect((err as Error).message).not.toMatch(/Secr3t/);
  });

  it('refuses empty, oversized, binary and fake files with specific messages', async () => {
    await expect(readSheet(Buffer.alloc(0), 'e.csv')).rejects.toThrow(/e\.csv is empty/);
    await expect(readSheet(Buffer.alloc(21 * 1024 * 1024, 'a'), 'big.csv', { maxBytes: 20 * 1024 * 1024 })).rejects.toThrow(/21\.0 MB; the limit is 20\.0 MB/);
    await expect(readSheet(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]), 'x.csv')).rejects.toThrow(/binary data/);
    await expect(readSheet(Buffer.from('hello'), 'x.xlsx')).rejects.toThrow(/not an XLSX workbook/);
    await expect(readSheet(Buffer.from('mac,name\n'), 'h.csv')).rejects.toThrow(/no data rows/);
    await expect(readSheet(Buffer.from('mac,"name\n1,2\n'), 'q.csv')).rejects.toThrow(SheetError);
    await expect(readSheet(Buffer.from('mac,mac\n1,2\n'), 'd.csv')).rejects.toThrow(/appears twice/);
  });

  it('normalises header names', () => {
    expect(normalizeHeader(' Número do Ramal ')).toBe('numero_do_ramal');
    expect(normalizeHeader('SALA')).toBe('sala');
  });
});

describe('parseMac', () => {
  it('accepts the common notations and canonicalises', () => {
    for (const m of ['00:11:22:aa:bb:cc', '00-11-22-AA-BB-CC', '0011.22aa.bbcc', '001122aabbcc', '001122AABBCC']) expect(parseMac(m)).toBe('00:11:22:aa:bb:cc');
    expect(macHex('00:11:22:aa:bb:cc')).toBe('001122aabbcc');
  });
  it('rejects everything else with a reason', () => {
    for (const m of ['', 'zz:38:3e:99:99:02', '00:11:22:33:44', '00:11:22:33:44:55:66', '00:11-22:33:44:55', 'hello']) expect(parseMac(m)).toBeNull();
    expect(macProblem('zz:38:3e:99:99:02')).toMatch(/not a MAC address/);
    expect(macProblem('00:11:22:33:44')).toMatch(/10 hex digits, need 12/);
  });
});
