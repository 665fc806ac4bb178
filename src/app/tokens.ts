/**
 * API tokens: `jb_<random>` bearer tokens, shown once and stored as a SHA-256 hash, with a role
 * (and, for host tokens, scopes), an optional expiry and revocation. While no token exists and no
 * `JIRA_BRIDGE_ADMIN_TOKEN` is set, the API is open (first run, demo) and says so in the log;
 * creating the first token closes it. Creations and revocations are audited.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ROLES, type Principal, type Role } from '../core/access.js';
import { AppError } from '../core/errors.js';
import { fromJson, toJson } from '../store/json.js';
import type { Store } from '../store/store.js';
import { appendAudit } from '../store/audit.js';
import { newId } from '../store/ids.js';

const hash = (token: string): string => createHash('sha256').update(token).digest('hex');

export interface TokenView {
  id: string;
  name: string;
  role: Role;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

export function createTokenService(opts: { store: Store; adminToken?: string | undefined; now?: () => number }) {
  const now = opts.now ?? Date.now;
  let activeCount: { n: number; at: number } | undefined;
  const iso = (t: number | null): string | null => (t === null ? null : new Date(Number(t)).toISOString());

  async function countActive(): Promise<number> {
    // Re-read every few seconds: another replica may have created the first token.
    if (activeCount && now() - activeCount.at < 5000) return activeCount.n;
    const t = now();
    const rows = await opts.store.db
      .selectFrom('api_tokens')
      .select('id')
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', t)]))
      .limit(1)
      .execute();
    activeCount = { n: rows.length, at: t };
    return rows.length;
  }

  return {
    /** Open while there is nothing to authenticate with. */
    async enforced(): Promise<boolean> {
      return Boolean(opts.adminToken) || (await countActive()) > 0;
    },

    async verify(token: string): Promise<Principal | null> {
      if (opts.adminToken) {
        const a = Buffer.from(hash(opts.adminToken));
        const b = Buffer.from(hash(token));
        if (timingSafeEqual(a, b)) return { id: 'env', name: 'JIRA_BRIDGE_ADMIN_TOKEN', role: 'admin', scopes: [] };
      }
      const row = await opts.store.db
        .selectFrom('api_tokens')
        .selectAll()
        .where('hash', '=', hash(token))
        .executeTakeFirst();
      const t = now();
      if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= t)) return null;
      if (row.last_used_at === null || t - row.last_used_at > 60_000) {
        await opts.store.db.updateTable('api_tokens').set({ last_used_at: t }).where('id', '=', row.id).execute();
      }
      return { id: row.id, name: row.name, role: row.role as Role, scopes: fromJson<string[]>(row.scopes) ?? [] };
    },

    async create(
      input: { name: string; role: string; scopes?: string[]; expires_in_days?: number },
      actor: string,
    ): Promise<{ token: string; view: TokenView }> {
      if (!(ROLES as readonly string[]).includes(input.role)) {
        throw new AppError(
          'VALIDATION_FAILED',
          `body.role: "${input.role}" is not a role; use one of ${ROLES.join(', ')}`,
          {
            details: { issues: [{ path: 'body.role', message: `one of ${ROLES.join(', ')}` }] },
          },
        );
      }
      if (input.scopes?.length && input.role !== 'host') {
        throw new AppError('VALIDATION_FAILED', 'body.scopes: only host tokens are limited to scopes', {
          details: { issues: [{ path: 'body.scopes', message: 'only for role host' }] },
        });
      }
      const token = `jb_${randomBytes(32).toString('base64url')}`;
      const t = now();
      const id = newId(t);
      const expires = input.expires_in_days ? t + input.expires_in_days * 86_400_000 : null;
      await opts.store.transaction(async (trx) => {
        await trx
          .insertInto('api_tokens')
          .values({
            id,
            name: input.name,
            role: input.role,
            scopes: toJson(input.scopes ?? []),
            hash: hash(token),
            created_at: t,
            last_used_at: null,
            expires_at: expires,
            revoked_at: null,
          })
          .execute();
        await appendAudit(trx, {
          actor,
          action: 'token.created',
          target: `token:${id}`,
          before: null,
          after: { name: input.name, role: input.role, scopes: input.scopes ?? [], expires_at: expires },
          at: t,
        });
      });
      activeCount = undefined;
      return {
        token,
        view: {
          id,
          name: input.name,
          role: input.role as Role,
          scopes: input.scopes ?? [],
          created_at: iso(t)!,
          last_used_at: null,
          expires_at: iso(expires),
          revoked_at: null,
        },
      };
    },

    async list(): Promise<TokenView[]> {
      const rows = await opts.store.db.selectFrom('api_tokens').selectAll().orderBy('created_at').execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        role: r.role as Role,
        scopes: fromJson<string[]>(r.scopes) ?? [],
        created_at: iso(r.created_at)!,
        last_used_at: iso(r.last_used_at),
        expires_at: iso(r.expires_at),
        revoked_at: iso(r.revoked_at),
      }));
    },

    async revoke(id: string, actor: string): Promise<void> {
      const t = now();
      const done = await opts.store.transaction(async (trx) => {
        const r = await trx
          .updateTable('api_tokens')
          .set({ revoked_at: t })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) return false;
        await appendAudit(trx, {
          actor,
          action: 'token.revoked',
          target: `token:${id}`,
          before: null,
          after: null,
          at: t,
        });
        return true;
      });
      if (!done) throw new AppError('NOT_FOUND', `No active token "${id}"`);
      activeCount = undefined;
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
