// Printables: the user sheet (PDF, carries the password: DM only) and the PC label (PNG + PDF) with a QR
// code encoding the PC's inventory record.
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { createCanvas } from '@napi-rs/canvas';

function pdf(build: (doc: PDFKit.PDFDocument) => void, opts: PDFKit.PDFDocumentOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({ size: 'A4', margin: 56, info: { Title: 'Switchboard', Producer: 'switchboard' }, ...opts });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    build(doc);
    doc.end();
  });
}

export interface UserSheet {
  account: string;
  password: string;
  hostname: string;
  ip: string;
  mac: string;
  date: Date;
  requestId: number;
}

export function userSheetPdf(s: UserSheet): Promise<Buffer> {
  return pdf((doc) => {
    doc.fontSize(20).text('Workstation account', { underline: false });
    doc
      .moveDown(0.5)
      .fontSize(10)
      .fillColor('#555')
      .text(`Request #${s.requestId} — ${s.date.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
    doc.moveDown(1.5).fillColor('#000').fontSize(12);
    const row = (k: string, v: string, mono = false) => {
      doc.font('Helvetica-Bold').text(`${k}: `, { continued: true });
      doc.font(mono ? 'Courier-Bold' : 'Helvetica').text(v);
      doc.moveDown(0.4);
    };
    row('PC', `${s.hostname} (${s.ip}, ${s.mac})`);
    row('Account', s.account, true);
    row('Password', s.password, true);
    row('Date', s.date.toISOString().slice(0, 10));
    row('Request', `#${s.requestId}`);
    doc.moveDown(2).font('Helvetica').fontSize(9).fillColor('#555').text('Keep this sheet private. Hand it to the account holder in person and destroy any copy.');
  });
}

export interface PcRecord {
  mac: string;
  hostname: string;
  serial: string;
  url: string;
}

/** The QR payload: the PC's inventory record as compact JSON. */
export function qrPayload(r: PcRecord): string {
  return JSON.stringify({ mac: r.mac, hostname: r.hostname, serial: r.serial, url: r.url });
}

function modules(text: string): { size: number; dark: (x: number, y: number) => boolean } {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const size = qr.modules.size;
  return { size, dark: (x, y) => qr.modules.get(y, x) === 1 };
}

export function labelPng(r: PcRecord): Buffer {
  const q = modules(qrPayload(r));
  const scale = 6;
  const quiet = 4;
  const qrPx = (q.size + quiet * 2) * scale;
  const W = qrPx + 420;
  const H = Math.max(qrPx, 220);
  const c = createCanvas(W, H);
  const g = c.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, W, H);
  g.fillStyle = '#000';
  for (let y = 0; y < q.size; y++) for (let x = 0; x < q.size; x++) if (q.dark(x, y)) g.fillRect((x + quiet) * scale, (y + quiet) * scale, scale, scale);
  g.font = 'bold 28px DejaVu Sans';
  g.fillText(r.hostname || '(no hostname)', qrPx + 10, 60);
  g.font = '20px DejaVu Sans Mono';
  g.fillText(r.mac, qrPx + 10, 100);
  g.fillText(`S/N ${r.serial}`, qrPx + 10, 135);
  g.font = '14px DejaVu Sans';
  g.fillText('Switchboard inventory', qrPx + 10, 175);
  return c.toBuffer('image/png');
}

export function labelPdf(r: PcRecord): Promise<Buffer> {
  const q = modules(qrPayload(r));
  // 90 × 40 mm label.
  const mm = 72 / 25.4;
  return pdf(
    (doc) => {
      const side = 34 * mm;
      const cell = side / (q.size + 8);
      const x0 = 3 * mm + 4 * cell;
      const y0 = 3 * mm + 4 * cell;
      for (let y = 0; y < q.size; y++) for (let x = 0; x < q.size; x++) if (q.dark(x, y)) doc.rect(x0 + x * cell, y0 + y * cell, cell, cell);
      doc.fill('#000');
      doc
        .font('Helvetica-Bold')
        .fontSize(11)
        .text(r.hostname || '(no hostname)', 40 * mm, 6 * mm, { width: 48 * mm });
      doc
        .font('Courier')
        .fontSize(8)
        .text(r.mac, 40 * mm, 14 * mm)
        .text(`S/N ${r.serial}`, 40 * mm, 19 * mm);
      doc
        .font('Helvetica')
        .fontSize(6)
        .text('Switchboard inventory', 40 * mm, 30 * mm);
    },
    { size: [90 * mm, 40 * mm], margin: 0 },
  );
}
