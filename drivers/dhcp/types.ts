// Shared shapes for the pure DHCP/proxy renderers.
export interface RenderHost {
  mac: string;
  ip: string;
  hostname: string;
  room: string | null;
  owner: string | null;
  comment: string | null;
  access: number;
  bootServer: string | null;
}
export interface RenderSubnet {
  cidr: string;
  network: string;
  netmask: string;
  pool?: string;
  gateway?: string;
  dns?: string[];
}
/** Comment text: one line, printable ASCII (anything else shown as \uXXXX). */
export function commentText(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
export function hostLabel(h: RenderHost): string {
  return [h.hostname, h.room ? `room ${h.room}` : '', h.owner ? `owner ${h.owner}` : '', h.comment ?? ''].filter(Boolean).join(' | ');
}
