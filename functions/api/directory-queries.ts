/** The directories API's own queries beside the shared DirectoryStore: a filtered keyset list, soft delete. */
import type { Sql } from '#shared/db';
import {
  DIRECTORY_SUMMARY_COLUMNS,
  type Directory,
  type DirectoryRow,
  toDirectorySummary,
} from '#shared/directory-store';

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

type SummaryRow = Omit<DirectoryRow, 'definition'>;

export class PgDirectoryQueries implements DirectoryQueries {
  constructor(private readonly sql: Sql) {}

  async list(filter: DirectoryListFilter): Promise<{ directories: DirectorySummary[]; next: string | null }> {
    const { rows } = await this.sql.query<SummaryRow>(
      `SELECT ${DIRECTORY_SUMMARY_COLUMNS}
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
      directories: page.map(toDirectorySummary),
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
