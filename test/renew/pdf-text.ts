// Reading back what pdfkit wrote, for the tests: the text shown on each page (the hex strings of TJ/Tj
// operators in the inflated content streams; pdfkit's standard fonts use WinAnsi, i.e. latin1) and the filled
// rectangles (the QR modules of a label).
import zlib from 'node:zlib';

function contentStreams(pdf: Buffer): string[] {
  const s = pdf.toString('latin1');
  const out: string[] = [];
  for (const m of s.matchAll(/stream\r?\n([\s\S]*?)\r?\nendstream/g)) {
    const raw = Buffer.from(m[1]!, 'latin1');
    try {
      out.push(zlib.inflateSync(raw).toString('latin1'));
    } catch {
      out.push(raw.toString('latin1'));
    }
  }
  return out;
}

/** Text of every text-showing operator, one string per operator, in order. */
export function pdfTextRuns(pdf: Buffer): string[] {
  const runs: string[] = [];
  for (const c of contentStreams(pdf)) {
    for (const m of c.matchAll(/\[((?:<[0-9a-fA-F]*>|[-\d.\s])*)\]\s*TJ|<([0-9a-fA-F]*)>\s*Tj/g)) {
      const hex = m[1] !== undefined ? [...m[1].matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => h[1]!).join('') : m[2]!;
      runs.push(Buffer.from(hex, 'hex').toString('latin1'));
    }
  }
  return runs;
}

/** All the page text, runs joined by newlines. */
export function pdfText(pdf: Buffer): string {
  return pdfTextRuns(pdf).join('\n');
}

/** The `x y w h re` rectangles of the content streams (user space, as pdfkit emits them). */
export function pdfRects(pdf: Buffer): { x: number; y: number; w: number; h: number }[] {
  const rects: { x: number; y: number; w: number; h: number }[] = [];
  for (const c of contentStreams(pdf)) {
    for (const m of c.matchAll(/(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re/g)) rects.push({ x: Number(m[1]), y: Number(m[2]), w: Number(m[3]), h: Number(m[4]) });
  }
  return rects;
}

/** Rasterise square rectangles of one size (QR modules) into RGBA pixels with a 4-module quiet zone. */
export function rasteriseModules(rects: { x: number; y: number; w: number; h: number }[], scale = 6): { data: Uint8ClampedArray; width: number; height: number } {
  const cell = Math.min(...rects.map((r) => r.w));
  const mods = rects.filter((r) => Math.abs(r.w - cell) < cell / 100 && Math.abs(r.h - cell) < cell / 100);
  const minX = Math.min(...mods.map((r) => r.x));
  const minY = Math.min(...mods.map((r) => r.y));
  const cells = mods.map((r) => [Math.round((r.x - minX) / cell), Math.round((r.y - minY) / cell)] as const);
  const n = Math.max(...cells.flat()) + 1;
  const side = (n + 8) * scale;
  const data = new Uint8ClampedArray(side * side * 4).fill(255);
  for (const [cx, cy] of cells) {
    for (let dy = 0; dy < scale; dy++)
      for (let dx = 0; dx < scale; dx++) {
        const p = (((cy + 4) * scale + dy) * side + (cx + 4) * scale + dx) * 4;
        data[p] = data[p + 1] = data[p + 2] = 0;
      }
  }
  return { data, width: side, height: side };
}
