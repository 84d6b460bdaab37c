import { UserError } from '../src/core/command.js';
import { roleAtLeast } from '../src/core/roles.js';
import { commandUsage } from '../src/core/audit.js';
import { structured, tablePart } from '../src/core/message.js';
import type { App, Command } from '../src/app-types.js';

function describeArgs(cmd: Command): string[] {
  const lines: string[] = [];
  for (const p of cmd.args?.positional ?? []) lines.push(`  <${p.name}>${p.required ? '' : ' (optional)'}${p.description ? ` — ${p.description}` : ''}`);
  for (const [k, n] of Object.entries(cmd.args?.named ?? {})) {
    const allowed = n.enum ? ` (${n.enum.join('|')})` : '';
    lines.push(`  ${k}=${n.required ? '' : ' (optional)'}${allowed}${n.description ? ` — ${n.description}` : ''}`);
  }
  for (const [k, f] of Object.entries(cmd.args?.flags ?? {})) lines.push(`  --${k}${f.value ? '=…' : ''}${f.description ? ` — ${f.description}` : ''}`);
  return lines;
}

/**
 * Capability groups for `help`: a title, what it is for, and the first words of its commands. The three
 * commands shown per group are the ones run most in the last 30 days (audit log), then the `top` ones.
 */
export const HELP_GROUPS: { key: string; title: string; about: string; words: string[]; top: string[] }[] = [
  { key: 'dhcp', title: 'Fixed addresses', about: 'hosts with a fixed IP, room and owner', words: ['dhcp'], top: ['dhcp find', 'dhcp add', 'dhcp list'] },
  { key: 'provision', title: 'Desk phones', about: 'phone provisioning, fetches, re-sync', words: ['provision'], top: ['provision list', 'provision show', 'provision'] },
  { key: 'monitor', title: 'Monitoring', about: 'nodes, sensors, records and charts', words: ['monitor'], top: ['monitor nodes', 'monitor node', 'monitor records'] },
  { key: 'alerts', title: 'Alerts', about: 'open alerts, acknowledge, silence', words: ['alerts', 'ack', 'silence', 'silences', 'unsilence'], top: ['alerts', 'ack', 'silence'] },
  { key: 'calls', title: 'Calls', about: 'who called from where (caller-ID hook)', words: ['call', 'calls'], top: ['calls', 'call last'] },
  { key: 'renew', title: 'PC passwords', about: 'password renewal and the PC inventory', words: ['renew', 'inventory'], top: ['renew run', 'renew log', 'inventory pcs'] },
  { key: 'jobs', title: 'Jobs', about: 'long-running work and its progress', words: ['jobs', 'job', 'cancel'], top: ['jobs', 'job', 'cancel'] },
  { key: 'users', title: 'Access and audit', about: 'roles, who did what', words: ['users', 'audit', 'whoami'], top: ['whoami', 'users list', 'audit'] },
  { key: 'bot', title: 'The bot itself', about: 'help, confirmations, health checks', words: ['help', 'confirm', 'doctor', 'selftest'], top: ['help', 'doctor', 'confirm'] },
];

const firstWord = (c: Command) => c.name.split(' ')[0]!;

/** The group a command belongs to ("other" for a command no group names). */
function groupOf(c: Command): string {
  return HELP_GROUPS.find((g) => g.words.includes(firstWord(c)))?.key ?? 'other';
}

/** How often each command ran (ok) in the last 30 days; an empty map when the audit log cannot be read. */
async function usage(app: App): Promise<Map<string, number>> {
  try {
    return await commandUsage(app.db, Date.now() - 30 * 86_400_000);
  } catch {
    return new Map();
  }
}

/** `help <command>`: usage, what it does, who may run it, its arguments and a worked example. */
function commandHelp(cmd: Command, callerCanRun: boolean) {
  const args = describeArgs(cmd);
  return structured([
    `\`${cmd.usage}\``,
    `${cmd.summary}. Role: ${cmd.role === 'none' ? 'anyone' : cmd.role}${callerCanRun ? '' : ' (you do not have it)'}.`,
    ...(args.length ? [{ kind: 'code' as const, text: args.map((l) => l.replace(/^ {2}/, '')).join('\n') }] : []),
    ...(cmd.example ? [`Example: \`${cmd.example}\``] : []),
    ...(cmd.details ? [cmd.details] : []),
  ]);
}

export const commands: Command[] = [
  {
    name: 'help',
    usage: 'help [group|command]',
    summary: 'what the bot can do by group; `help <group>` lists a group, `help <command>` explains one',
    example: 'help dhcp list',
    role: 'none',
    args: { positional: [{ name: 'topic', rest: true }] },
    async run(ctx, args) {
      const words = (args.topic as string[]) ?? [];
      const all = ctx.app.registry.all();
      const can = (c: Command) => roleAtLeast(ctx.caller.role, c.role);
      if (words.length === 0) {
        const used = await usage(ctx.app);
        const rows: string[][] = [];
        for (const g of [...HELP_GROUPS, { key: 'other', title: 'Other', about: 'commands of no group above', words: [], top: [] }]) {
          const cmds = all.filter((c) => groupOf(c) === g.key);
          if (!cmds.length) continue;
          const rank = (c: Command) => (used.get(c.name) ?? 0) * 1000 - (g.top.includes(c.name) ? g.top.indexOf(c.name) : 999);
          const top = [...cmds].sort((a, b) => rank(b) - rank(a)).slice(0, 3);
          rows.push([g.title, g.about, top.map((c) => c.name).join(', '), `help ${g.key}`]);
        }
        return structured([
          'Switchboard commands by group. `help <group>` lists every command of a group; `help <command>` shows how to use one, with an example.',
          tablePart(['group', 'for', 'most used', 'all of it'], rows, { align: ['left', 'left', 'left', 'left'] }),
        ]);
      }
      const name = words.join(' ').toLowerCase();
      const exact = ctx.app.registry.get(name);
      if (exact) return commandHelp(exact, can(exact));
      const group = HELP_GROUPS.find((g) => g.key === name || g.title.toLowerCase() === name);
      const family = group ? all.filter((c) => groupOf(c) === group.key) : all.filter((c) => c.name.startsWith(`${name} `) || (name === 'other' && groupOf(c) === 'other'));
      if (family.length) {
        const locked = family.some((c) => !can(c));
        return structured([
          `${group ? `${group.title}: ${group.about}` : `${name} commands`} (${family.length}). \`help <command>\` for details and an example.`,
          tablePart(
            ['command', 'what it does', 'role'],
            family.map((c) => [c.usage, c.summary, `${c.role === 'none' ? 'anyone' : c.role}${can(c) ? '' : ' (not you)'}`]),
            { align: ['left', 'left', 'left'] },
          ),
          ...(locked ? ['Commands marked "not you" need a role you do not have.'] : []),
        ]);
      }
      const sug = ctx.app.registry.suggest(words);
      throw new UserError(`No command or group "${name}".${sug.length ? ` Did you mean ${sug.map((s) => `\`${s}\``).join(' or ')}?` : ''} \`help\` lists the groups.`);
    },
  },
  {
    name: 'whoami',
    usage: 'whoami',
    example: 'whoami',
    summary: 'show your platform identity and role',
    role: 'none',
    async run(ctx) {
      return `You are ${ctx.caller.platform}:${ctx.caller.id}${ctx.caller.name && ctx.caller.name !== ctx.caller.id ? ` (${ctx.caller.name})` : ''}, role ${ctx.caller.role}.`;
    },
  },
  {
    name: 'confirm',
    usage: 'confirm <code>',
    example: 'confirm K3X9QA',
    summary: 'go ahead with a command that asked for confirmation',
    role: 'none',
    args: { positional: [{ name: 'code', required: true, pattern: '^[A-Za-z0-9]{6}$', description: 'the 6-character code the bot gave' }] },
    async run(ctx, args) {
      const r = await ctx.app.dispatcher.confirm(ctx.incoming, String(args.code));
      if (r instanceof UserError) throw r;
      return undefined;
    },
  },
];
