import type { Command } from '../src/app-types.js';
import { UserError } from '../src/core/command.js';
import { isRole } from '../src/core/roles.js';
import { table } from '../src/core/format.js';

const WHO = { name: 'who', required: true, pattern: '^[a-z]+:\\S+$', description: 'platform:user-id, e.g. slack:U0123ABC or console:alice' } as const;

function split(who: string): [string, string] {
  const i = who.indexOf(':');
  return [who.slice(0, i), who.slice(i + 1)];
}

export const commands: Command[] = [
  {
    name: 'users list',
    usage: 'users list',
    example: 'users list',
    summary: 'list people with a role',
    role: 'admin',
    async run(ctx) {
      const rows = await ctx.app.roles.list();
      if (!rows.length) return 'No roles granted yet.';
      return table(
        ['who', 'role', 'name', 'granted by', 'when'],
        rows.map((r) => [`${r.platform}:${r.user_id}`, r.role, r.name ?? '', r.granted_by ?? '', new Date(r.granted_at).toISOString().slice(0, 16).replace('T', ' ')]),
      );
    },
  },
  {
    name: 'users grant',
    usage: 'users grant <platform:user> <viewer|operator|admin>',
    example: 'users grant slack:U024BE7LH operator',
    summary: 'give someone a role',
    role: 'admin',
    args: { positional: [WHO, { name: 'role', required: true, enum: ['viewer', 'operator', 'admin'] }] },
    async run(ctx, args) {
      const [platform, id] = split(String(args.who));
      const role = String(args.role);
      if (!isRole(role)) throw new UserError(`unknown role ${role}`);
      await ctx.app.roles.grant(platform, id, role, `${ctx.caller.platform}:${ctx.caller.id}`);
      return `${platform}:${id} is now ${role}.`;
    },
  },
  {
    name: 'users revoke',
    usage: 'users revoke <platform:user>',
    example: 'users revoke slack:U024BE7LH',
    summary: "take someone's role away",
    role: 'admin',
    args: { positional: [WHO] },
    async run(ctx, args) {
      const [platform, id] = split(String(args.who));
      if (platform === ctx.caller.platform && id === ctx.caller.id) throw new UserError('you cannot revoke your own role');
      const ok = await ctx.app.roles.revoke(platform, id);
      if (!ok) throw new UserError(`${platform}:${id} has no role granted`);
      return `${platform}:${id} no longer has a role.`;
    },
  },
];
