// `monitor …` for nodes: enrolment, tokens, enable/disable/remove, the overview and one node's sensors.
// Sensors: monitor-sensors.ts; records and charts: monitor-records.ts; toll fraud: monitor-fraud.ts.
import type { Command, CommandContext } from '../src/app-types.js';
import { loopbackWarning } from '../src/http/base-url.js';
import { UserError, UsageError } from '../src/core/command.js';
import { table, ago, when } from '../src/core/format.js';
import { STATUS, span } from '../src/monitor/types.js';
import { NAME } from '../src/monitor/command-args.js';
import { parseApplyTargets } from '../src/dhcp/apply-agents.js';
import { structured, tablePart } from '../src/core/message.js';

const svc = (ctx: CommandContext) => ctx.app.services.monitor;

export const commands: Command[] = [
  {
    name: 'monitor enroll',
    usage: 'monitor enroll <name> [role=monitor|apply] [targets=isc,kea,keaControl,dnsmasq,proxy]',
    example: 'monitor enroll pbx2',
    summary: 'create a node (a PBX agent, or with role=apply an agent that applies DHCP/proxy files on its server) and DM you its one-time enrolment code',
    details:
      "role=apply targets=isc,proxy: `dhcp apply` hands those backends to this node's agent, which checks, installs and reloads them with the paths and commands of its own agent.yaml (apply.backends) and reports back; the result is posted where the apply was asked. Other backends stay applied by the bot itself.",
    role: 'operator',
    args: { positional: [NAME], named: { role: { enum: ['monitor', 'apply'] }, targets: {} } },
    async run(ctx, args) {
      const role = (args.role as 'monitor' | 'apply' | undefined) ?? 'monitor';
      let applyTargets: string | null = null;
      if (role === 'apply') {
        if (args.targets === undefined) throw new UsageError('role=apply needs targets=<backends>, e.g. targets=isc,proxy');
        try {
          applyTargets = parseApplyTargets(String(args.targets), ctx.app.services.dhcpBackends).join(',');
        } catch (e) {
          throw new UserError((e as Error).message);
        }
        const taken = (await ctx.app.services.dhcpAgents.nodes()).flatMap((n) => n.backends.filter((b) => applyTargets!.split(',').includes(b)).map((b) => `${b} (node ${n.name})`));
        if (taken.length) throw new UserError(`already applied by another node: ${taken.join(', ')}; remove that node first (monitor rm) or choose other targets`);
      } else if (args.targets !== undefined) throw new UsageError('targets= is for role=apply');
      const r = await svc(ctx).createEnrollment(String(args.name), false, { role, applyTargets });
      const extra =
        role === 'apply'
          ? `\nThen add to /etc/switchboard/agent.yaml what this server applies, with its own paths and reload commands, e.g.:\n\`\`\`\ncdrSource: off\napply:\n  backends:\n${applyTargets!
              .split(',')
              .map((b) => `    ${b}: {reload: [systemctl, reload, <service>]}`)
              .join('\n')}\n\`\`\``
          : '';
      await ctx.dm(
        `Enrolment for node ${args.name} (one-time code, valid until ${when(r.expires)} UTC). On the ${role === 'apply' ? 'DHCP/proxy server' : 'PBX'} run:\n\`\`\`\nswitchboard agent enroll --server ${ctx.app.baseUrl()} --code ${r.code} --config /etc/switchboard/agent.yaml\n\`\`\`${extra}`,
        { secret: true },
      );
      const warn = loopbackWarning(ctx.app.baseUrl(), 'The server URL in that command');
      return `Node ${args.name} created (id ${r.nodeId}${role === 'apply' ? `, role apply: ${applyTargets}` : ''}). I sent you the enrolment command by direct message.${warn ? `\n${warn}` : ''}`;
    },
  },
  {
    name: 'monitor token rotate',
    usage: 'monitor token rotate <node>',
    example: 'monitor token rotate pbx1',
    summary: "revoke a node's token now and DM you a new one-time enrolment code",
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'node' }] },
    confirm: (a) => `revoke the token of node ${a.node} (its agent stops until re-enrolled)`,
    async run(ctx, args) {
      const r = await svc(ctx).createEnrollment(String(args.node), true);
      await ctx.dm(`New enrolment for node ${args.node}:\n\`\`\`\nswitchboard agent enroll --server ${ctx.app.baseUrl()} --code ${r.code}\n\`\`\``, { secret: true });
      const warn = loopbackWarning(ctx.app.baseUrl(), 'The server URL in that command');
      return `Token of ${args.node} revoked; a new enrolment code was sent to you by direct message.${warn ? `\n${warn}` : ''}`;
    },
  },
  ...(['disable', 'enable'] as const).map(
    (verb): Command => ({
      name: `monitor ${verb}`,
      usage: `monitor ${verb} <node>`,
      example: `monitor ${verb} pbx1`,
      summary: verb === 'disable' ? 'stop accepting results from a node (no stale alerts)' : 're-enable a node',
      role: 'operator',
      args: { positional: [{ ...NAME, name: 'node' }] },
      async run(ctx, args) {
        const r = await svc(ctx).nodes.setEnabled(String(args.node), verb === 'enable');
        if (verb === 'enable') return `Node ${r.name} enabled.`;
        return `Node ${r.name} disabled${r.closed ? `; ${r.closed} open alert(s) resolved` : ''}.`;
      },
    }),
  ),
  {
    name: 'monitor rm',
    usage: 'monitor rm <node>',
    example: 'monitor rm pbx1',
    summary: 'remove a node with its state, records and alerts',
    role: 'operator',
    args: { positional: [{ ...NAME, name: 'node' }] },
    confirm: (a) => `remove node ${a.node} with all its records and alerts`,
    async run(ctx, args) {
      return `Node ${await svc(ctx).nodes.remove(String(args.node))} removed.`;
    },
  },
  {
    name: 'monitor nodes',
    usage: 'monitor nodes',
    example: 'monitor nodes',
    summary: 'one line per node: state, last seen',
    role: 'viewer',
    async run(ctx) {
      const nodes = await svc(ctx).nodes.overview();
      if (!nodes.length) return 'No nodes yet (monitor enroll <name>).';
      return structured([
        tablePart(
          ['node', 'state', 'sensors', 'last seen', 'agent', 'asterisk'],
          nodes.map((n) => [
            n.node.role === 'apply' ? `${n.node.name} (apply: ${n.node.apply_targets ?? ''})` : n.node.name,
            n.state,
            String(n.sensors),
            ago(n.node.last_seen),
            String(n.facts.agentVersion ?? ''),
            String(n.facts.asterisk ?? ''),
          ]),
          { align: ['left', 'left', 'right', 'left', 'left', 'left'] },
        ),
      ]);
    },
  },
  {
    name: 'monitor node',
    usage: 'monitor node <name>',
    example: 'monitor node pbx1',
    summary: "a node's sensors: state, output, age",
    role: 'viewer',
    args: { positional: [NAME] },
    async run(ctx, args) {
      const { node: n, facts: f, sensors: rows } = await svc(ctx).nodes.detail(String(args.name));
      const clock = n.clock_bad ? `, CLOCK OFF by ${span(n.clock_skew ?? 0)} (${(n.clock_skew ?? 0) > 0 ? 'ahead' : 'behind'})` : '';
      const head = `${n.name}: ${n.enabled ? (n.stale ? 'STALE' : 'enabled') : 'disabled'}, last seen ${ago(n.last_seen)}${clock}${f.hostname ? `, host ${f.hostname} (${f.os ?? ''}${f.asterisk ? `, Asterisk ${f.asterisk}` : ''}), agent ${f.agentVersion ?? '?'}` : ''}`;
      if (!rows.length) return `${head}\nNo sensors assigned.`;
      return `${head}\n${table(
        ['sensor', 'state', 'output', 'age'],
        rows.map((r) => [
          r.name,
          r.status === null || r.status === undefined
            ? 'PENDING'
            : `${STATUS[r.status]}${r.status !== 0 && r.hard_status !== r.status ? ` (soft ${r.attempt}/${r.attempts})` : ''}${r.flapping ? ' FLAPPING' : ''}`,
          r.output ?? '',
          ago(r.at ?? null),
        ]),
        { maxWidth: 80 },
      )}`;
    },
  },
];
