// A fraud group's chat message, rendered from the store: headline (count, title, time span) and its latest calls.
import { DateTime } from 'luxon';
import type { App } from '../app-types.js';
import type { CallRow } from './fraud-detect.js';
import { formatHours } from './fraud-rules.js';
import type { BusinessHours, MonitorConfig } from './types.js';

export class FraudMessages {
  constructor(
    private app: App,
    private cfg: MonitorConfig,
    private zone: string,
    private hoursOf: (nodeId: number) => Promise<BusinessHours>,
  ) {}

  /** A group's message from the store: headline (count, title, time span) and its latest calls. */
  async render(id: number, list: number): Promise<{ headline: string; full: string; count: number } | null> {
    const a = await this.app.db
      .selectFrom('mon_alerts as a')
      .innerJoin('mon_nodes as n', 'n.id', 'a.node_id')
      .select(['a.calls', 'a.open_key', 'a.node_id', 'n.name'])
      .where('a.id', '=', id)
      .executeTakeFirst();
    if (!a) return null;
    const title = a.open_key ? await this.groupTitle(a.node_id, groupOf(a.open_key)) : 'suspicious calls';
    return { ...this.renderCalls(a.name, title, a.calls, await this.callsOf(id, list), await this.rangeOf(id)), count: a.calls };
  }

  /** The latest `limit` calls of a group, oldest first. */
  private async callsOf(alertId: number, limit: number): Promise<CallRow[]> {
    const rows = await this.app.db
      .selectFrom('mon_cdr_calls')
      .select(['id', 'at', 'src', 'dst', 'duration', 'disposition', 'direction', 'peer', 'flagged'])
      .where('alert_id', '=', alertId)
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse();
  }

  private async rangeOf(alertId: number): Promise<{ first: number; last: number } | undefined> {
    const r = await this.app.db
      .selectFrom('mon_cdr_calls')
      .select((eb) => [eb.fn.min<number>('at').as('first'), eb.fn.max<number>('at').as('last')])
      .where('alert_id', '=', alertId)
      .executeTakeFirst();
    return r?.first === null || r?.first === undefined ? undefined : { first: Number(r.first), last: Number(r.last) };
  }

  /** What a group is about (its alert's headline after the count). */
  private async groupTitle(nodeId: number, group: string): Promise<string> {
    if (group === 'offhours') return `calls outside business hours (${formatHours(await this.hoursOf(nodeId), this.zone)})`;
    if (group === 'burst') return `burst: more than ${this.cfg.fraud.burstPerHour} outbound calls within an hour`;
    if (group.startsWith('wangiri:')) return `Wangiri pattern: short calls from ${group.slice(8)}… (and callbacks to it)`;
    const rule = await this.app.db
      .selectFrom('mon_fraud_rules')
      .selectAll()
      .where('id', '=', Number(group.slice(5)))
      .executeTakeFirst();
    if (!rule) return `prefix rule #${group.slice(5)} (removed)`;
    return `${rule.kind === 'limit' ? 'limits on prefix' : `${rule.kind} prefix`} ${rule.prefix}${rule.note ? ` (${rule.note})` : ''}`;
  }

  private time(at: number): string {
    return DateTime.fromMillis(at, { zone: this.zone }).toFormat('yyyy-MM-dd HH:mm:ss');
  }

  private renderCalls(node: string, title: string, count: number, rows: CallRow[], range?: { first: number; last: number }): { headline: string; full: string } {
    if (count === 1 && rows.length === 1) {
      const c = rows[0]!;
      const headline = `TOLL FRAUD? ${node}: call from ${c.src ?? '?'} to ${c.dst} at ${this.time(c.at)} ${this.zone} — ${c.flagged ?? title}`;
      return { headline, full: headline };
    }
    const first = range?.first ?? rows[0]?.at;
    const last = range?.last ?? rows[rows.length - 1]?.at;
    const to = last === undefined ? '' : this.time(last);
    const headline = `TOLL FRAUD? ${node}: ${count} suspicious calls — ${title}${first !== undefined ? ` (${this.time(first)} to ${to.slice(0, 10) === this.time(first).slice(0, 10) ? to.slice(11) : to} ${this.zone})` : ''}`;
    const lines = rows.map(
      (c) => `• ${this.time(c.at).slice(5)} ${c.src ?? '?'} → ${c.dst}${c.duration !== null ? ` ${c.duration}s` : ''}${c.disposition ? ` ${c.disposition}` : ''}${c.flagged ? ` — ${c.flagged}` : ''}`,
    );
    const more = count > rows.length ? `\n… and ${count - rows.length} earlier call(s)` : '';
    return { headline, full: `${headline}\n${lines.join('\n')}${more}` };
  }
}

/** The group of an open fraud alert, from its open key `fraud:<node>:<group>`. */
const groupOf = (openKey: string): string => openKey.split(':').slice(2).join(':');
