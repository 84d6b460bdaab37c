// MAC addresses in any common notation → one canonical form (lower-case, colon-separated).

const HEX12 = /^[0-9a-f]{12}$/;

/**
 * Accepts 00:11:22:aa:bb:cc, 00-11-22-AA-BB-CC, 0011.22aa.bbcc, 001122aabbcc (and 0011-22aa-bbcc).
 * Returns 00:11:22:aa:bb:cc, or null when it is not a MAC address.
 */
export function parseMac(input: string): string | null {
  const s = String(input ?? '')
    .trim()
    .toLowerCase();
  let hex: string;
  if (/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/.test(s)) {
    if (s.includes(':') && s.includes('-')) return null;
    hex = s.replace(/[:-]/g, '');
  } else if (/^[0-9a-f]{4}([.-])[0-9a-f]{4}\1[0-9a-f]{4}$/.test(s)) hex = s.replace(/[.-]/g, '');
  else if (HEX12.test(s)) hex = s;
  else return null;
  return hex.match(/../g)!.join(':');
}

/** Why a string is not a MAC, for error messages. */
export function macProblem(input: string): string {
  const s = String(input ?? '').trim();
  if (!s) return 'MAC address is empty';
  const hex = s.replace(/[^0-9a-fA-F]/g, '');
  if (/[^0-9a-fA-F:.-]/.test(s)) return `"${s}" is not a MAC address (only hex digits and : - . separators)`;
  if (hex.length !== 12) return `"${s}" is not a MAC address (${hex.length} hex digits, need 12)`;
  return `"${s}" is not a MAC address (use aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff)`;
}

/** 12 hex digits → the colon form (the inverse of macHex). */
export function fmtMac(hex12: string): string {
  return hex12.match(/../g)!.join(':');
}

/** 12 hex digits, no separators (file names such as Fanvil's <mac>.cfg). */
export function macHex(canonical: string): string {
  return canonical.replace(/:/g, '');
}

export function isMulticastMac(canonical: string): boolean {
  return (parseInt(canonical.slice(0, 2), 16) & 1) === 1;
}
