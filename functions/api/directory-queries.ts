/** The directories API's own queries beside the shared DirectoryStore: a filtered keyset list, soft delete. */
import type { Sql } from '#shared/db';
import type { Directory } from '#shared/directory-store';

export type DirectorySummary = Omit<Directory, 'definition'>;

export interface DirectoryListFilter {
  category?: string;
  tier?: number;
  active?: boolean;
  limit: number;
  /** Keyset: the id of the last row of the previous page. */
  afterId?: string;
}

export interface DirectoryQueries {
  list(filter: DirectoryListFilter): Promise<{ directories: DirectorySummary[]; next: string | null }>;
  /** active = false; true if the directory exists. Ledger rows keep referencing it. */
  deactivate(id: string): Promise<boolean>;
}

interface SummaryRow {
  id: string;
  name: string;
  site: string;
  submission_url: string;
  category: string;
  tier: number;
  domain_authority: number;
  active: boolean;
  has_captcha: boolean;
  requires_login: boolean;
  version: number;
}

export class PgDirectoryQueries implements DirectoryQueries {
  constructor(private readonly sql: Sql) {}

  async list(filter: DirectoryListFilter): Promise<{ directories: DirectorySummary[]; next: string | null }> {
    const { rows } = await this.sql.query<SummaryRow>(
      `SELECT id, name, site, submission_url, category, tier, domain_authority, active, has_captcha,
              requires_login, version
       FROM directories
       WHERE ($1::text IS NULL OR category = $1)
         AND ($2::int IS NULL OR tier = $2)
         AND ($3::boolean IS NULL OR active = $3)
         AND ($4::text IS NULL OR id > $4)
       ORDER BY id
       LIMIT $5`,
      [
        filter.category ?? null,
        filter.tier ?? null,
        filter.active ?? null,
        filter.afterId ?? null,
        filter.limit + 1,
      ],
    );
    const page = rows.slice(0, filter.limit);
    return {
      directories: page.map((r) => ({
        id: r.id,
        name: r.name,
        site: r.site,
        submissionUrl: r.submission_url,
        category: r.category,
        tier: r.tier,
        domainAuthority: r.domain_authority,
        active: r.active,
        hasCaptcha: r.has_captcha,
        requiresLogin: r.requires_login,
        version: r.version,
      })),
      next: rows.length > filter.limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  async deactivate(id: string): Promise<boolean> {
    // version + 1: caches that check the version (the worker's) see the change at once.
    const { rowCount } = await this.sql.query(
      `UPDATE directories SET active = false,
              version = CASE WHEN active THEN version + 1 ELSE version END
       WHERE id = $1`,
      [id],
    );
    return rowCount === 1;
  }
}
