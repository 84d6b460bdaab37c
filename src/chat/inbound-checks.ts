// What every inbound event passes before dispatch: the platform's allow-list, and the cluster-wide claim that
// makes a retried or doubly delivered event dispatch once.
import type { Logger } from '../log.js';

/**
 * Claims an inbound event for the whole cluster: true for exactly one call per key (the store's claims), so
 * a retried delivery or the same event from a second connection is dispatched once.
 */
export type InboundClaim = (key: string) => Promise<boolean>;

/** True when this delivery of `key` is the one to handle (always, without a claimer); a repeat is logged. */
export async function firstDelivery(claim: InboundClaim | undefined, key: string, log: Logger, fields: Record<string, unknown> = {}): Promise<boolean> {
  if (!claim || (await claim(key))) return true;
  log.info({ ...fields, event: key }, 'inbound event already handled (a retry, or another connection delivered it); not dispatched again');
  return false;
}

export function allowed(list: readonly string[], id: string | undefined): boolean {
  return id !== undefined && list.includes(String(id));
}
