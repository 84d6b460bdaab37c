// Roles viewer < operator < admin, granted to a (platform, user id). The CLI's local user is admin;
// config auth.admins names bootstrap admins; everyone else gets auth.defaultRole (default: none).
import type { DB } from '../store/db.js';
import { now } from '../store/db.js';
import { ROLES, type Role } from './types.js';
import type { RoleReq } from './command.js';

declare module '../store/db.js' {
  interface Tables {
    chat_identities: {
      platform: string;
      user_id: string;
      role: string;
      name: string | null;
      granted_by: string | null;
      granted_at: number;
    };
  }
}

const RANK: Record<RoleReq, number> = { none: 0, viewer: 1, operator: 2, admin: 3 };

export function roleAtLeast(have: RoleReq, need: RoleReq): boolean {
  return RANK[have] >= RANK[need];
}

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

export class Roles {
  constructor(
    private db: DB,
    private opts: { admins: string[]; defaultRole: RoleReq },
  ) {}

  async roleOf(platform: string, userId: string): Promise<RoleReq> {
    if (platform === 'cli') return 'admin';
    if (this.opts.admins.includes(`${platform}:${userId}`)) return 'admin';
    const row = await this.db.selectFrom('chat_identities').select('role').where('platform', '=', platform).where('user_id', '=', userId).executeTakeFirst();
    if (row && isRole(row.role)) return row.role;
    return this.opts.defaultRole;
  }

  async grant(platform: string, userId: string, role: Role, by: string, name?: string): Promise<void> {
    const t = now();
    const updated = await this.db
      .updateTable('chat_identities')
      .set({ role, granted_by: by, granted_at: t, ...(name ? { name } : {}) })
      .where('platform', '=', platform)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      await this.db
        .insertInto('chat_identities')
        .values({ platform, user_id: userId, role, name: name ?? null, granted_by: by, granted_at: t })
        .execute();
    }
  }

  async revoke(platform: string, userId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('chat_identities').where('platform', '=', platform).where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async list(): Promise<{ platform: string; user_id: string; role: string; name: string | null; granted_by: string | null; granted_at: number }[]> {
    return this.db.selectFrom('chat_identities').selectAll().orderBy('platform').orderBy('user_id').execute();
  }
}
