/** Directories: the sites formfleet submits to, each with the data-driven definition of its form. */

import type { FormDefinition } from '#functions/worker/form-definition';
import type { Sql } from '#shared/db';

export interface Directory {
  id: string;
  name: string;
  site: string;
  submissionUrl: string;
  category: string;
  tier: number;
  domainAuthority: number;
  active: boolean;
  hasCaptcha: boolean;
  requiresLogin: boolean;
  definition: FormDefinition;
  version: number;
}

export type DirectoryInput = Omit<Directory, 'version'>;

export interface DirectoryStore {
  get(id: string): Promise<Directory | undefined>;
  getMany(ids: readonly string[]): Promise<Directory[]>;
  upsert(input: DirectoryInput): Promise<Directory>;
  /** Active directories at or below `maxTier`, highest domain authority first. */
  selectForPackage(maxTier: number, limit: number): Promise<Directory[]>;
}

export interface DirectoryRow {
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
  definition: FormDefinition;
  version: number;
}

/** Every column but the (large) definition, for lists. */
export const DIRECTORY_SUMMARY_COLUMNS =
  'id, name, site, submission_url, category, tier, domain_authority, active, has_captcha, requires_login, version';
const COLUMNS = `${DIRECTORY_SUMMARY_COLUMNS}, definition`;

/** A directory row without its definition, as lists show it. */
export function toDirectorySummary(row: Omit<DirectoryRow, 'definition'>): Omit<Directory, 'definition'> {
  return {
    id: row.id,
    name: row.name,
    site: row.site,
    submissionUrl: row.submission_url,
    category: row.category,
    tier: row.tier,
    domainAuthority: row.domain_authority,
    active: row.active,
    hasCaptcha: row.has_captcha,
    requiresLogin: row.requires_login,
    version: row.version,
  };
}

export function toDirectory(row: DirectoryRow): Directory {
  return { ...toDirectorySummary(row), definition: row.definition };
}

export class PgDirectoryStore implements DirectoryStore {
  constructor(private readonly sql: Sql) {}

  async get(id: string): Promise<Directory | undefined> {
    const { rows } = await this.sql.query<DirectoryRow>(`SELECT ${COLUMNS} FROM directories WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? toDirectory(rows[0]) : undefined;
  }

  async getMany(ids: readonly string[]): Promise<Directory[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.sql.query<DirectoryRow>(
      `SELECT ${COLUMNS} FROM directories WHERE id = ANY($1::text[]) ORDER BY id`,
      [ids],
    );
    return rows.map(toDirectory);
  }

  async upsert(d: DirectoryInput): Promise<Directory> {
    const { rows } = await this.sql.query<DirectoryRow>(
      `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, active,
                                has_captcha, requires_login, definition)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (id) DO UPDATE SET
         name = EXCLUDED.name, site = EXCLUDED.site, submission_url = EXCLUDED.submission_url,
         category = EXCLUDED.category, tier = EXCLUDED.tier, domain_authority = EXCLUDED.domain_authority,
         active = EXCLUDED.active, has_captcha = EXCLUDED.has_captcha, requires_login = EXCLUDED.requires_login,
         definition = EXCLUDED.definition, version = directories.version + 1
       RETURNING ${COLUMNS}`,
      [
        d.id,
        d.name,
        d.site,
        d.submissionUrl,
        d.category,
        d.tier,
        d.domainAuthority,
        d.active,
        d.hasCaptcha,
        d.requiresLogin,
        JSON.stringify(d.definition),
      ],
    );
    return toDirectory(rows[0] as DirectoryRow);
  }

  async selectForPackage(maxTier: number, limit: number): Promise<Directory[]> {
    const { rows } = await this.sql.query<DirectoryRow>(
      `SELECT ${COLUMNS} FROM directories WHERE active AND tier <= $1
       ORDER BY domain_authority DESC, id LIMIT $2`,
      [maxTier, limit],
    );
    return rows.map(toDirectory);
  }
}
