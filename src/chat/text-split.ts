// Splitting long replies into the pieces a chat platform accepts (each platform has its own size limit).

/** Split text into chunks of at most `limit` characters, preferring line breaks; fenced blocks are re-opened. */
export function splitText(text: string, limit: number): string[] {
  if (text.length <= limit) return [text];
  const out: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    let cut = rest.lastIndexOf('\n', limit);
    if (cut < limit / 2) cut = limit;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^\n/, '');
  }
  if (rest) out.push(rest);
  // Keep fences balanced in every chunk.
  let open = false;
  return out.map((c) => {
    let s = open ? '```\n' + c : c;
    const n = (c.match(/```/g) ?? []).length;
    if (n % 2 === 1) open = !open;
    if (open) s += '\n```';
    return s;
  });
}

/** Split text and render each piece so every rendered piece fits `limit` (escaping makes text longer). */
export function renderChunks(text: string, limit: number, render: (s: string) => string): string[] {
  for (let l = limit - 16; l > 200; l = Math.floor(l * 0.8)) {
    const out = splitText(text, l).map(render);
    if (out.every((h) => h.length <= limit)) return out;
  }
  return splitText(render(text), limit);
}
