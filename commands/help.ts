import type { Command } from '../src/core/command.js';
import { UserError } from '../src/core/command.js';
import { roleAtLeast } from '../src/core/roles.js';

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

export const commands: Command[] = [
  {
    name: 'help',
    usage: 'help [command]',
    summary: 'list commands, or show how to use one',
    role: 'none',
    args: { positional: [{ name: 'topic', rest: true }] },
    async run(ctx, args) {
      const words = (args.topic as string[]) ?? [];
      const all = ctx.app.registry.all();
      if (words.length === 0) {
        const width = Math.min(28, Math.max(...all.map((c) => c.name.length)));
        const rows = all.map((c) => {
          const mark = roleAtLeast(ctx.caller.role, c.role) ? ' ' : '*';
          return `${mark}${c.name.padEnd(width)}  ${c.summary}`;
        });
        const locked = all.some((c) => !roleAtLeast(ctx.caller.role, c.role));
        return { text: `Switchboard commands (\`help <command>\` for details):\n\`\`\`\n${rows.join('\n')}\n\`\`\`${locked ? '\n* needs a role you do not have.' : ''}` };
      }
      const name = words.join(' ').toLowerCase();
      const exact = ctx.app.registry.get(name);
      if (exact) {
        const lines = [`\`${exact.usage}\``, exact.summary, `Role: ${exact.role === 'none' ? 'anyone' : exact.role}`, ...describeArgs(exact)];
        if (exact.details) lines.push('', exact.details);
        return lines.join('\n');
      }
      const family = all.filter((c) => c.name.startsWith(`${name} `));
      if (family.length) return { text: `\`\`\`\n${family.map((c) => `${c.usage}\n    ${c.summary}`).join('\n')}\n\`\`\`` };
      const sug = ctx.app.registry.suggest(words);
      throw new UserError(`No command "${name}".${sug.length ? ` Did you mean ${sug.map((s) => `\`${s}\``).join(' or ')}?` : ''}`);
    },
  },
  {
    name: 'whoami',
    usage: 'whoami',
    summary: 'show your platform identity and role',
    role: 'none',
    async run(ctx) {
      return `You are ${ctx.caller.platform}:${ctx.caller.id}${ctx.caller.name && ctx.caller.name !== ctx.caller.id ? ` (${ctx.caller.name})` : ''}, role ${ctx.caller.role}.`;
    },
  },
  {
    name: 'confirm',
    usage: 'confirm <code>',
    summary: 'go ahead with a command that asked for confirmation',
    role: 'none',
    args: { positional: [{ name: 'code', required: true, pattern: '^[A-Za-z0-9]{6}$', description: 'the 6-character code the bot gave' }] },
    async run(ctx, args) {
      const r = await ctx.app.dispatcher.confirm(ctx.incoming, String(args.code));
      if (typeof r === 'string') throw new UserError(r);
      return undefined;
    },
  },
];
