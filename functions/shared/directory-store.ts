/** Directories: the sites formfleet submits to, each with the data-driven definition of its form. */

import type { FormDefinition } from '#functions/worker/form-definition';
import type { CategoryMap, SelectOption } from '#shared/categories';
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
  /** Which of its options each formfleet category is (PUT /v1/directories/{id}/categories); absent until set. */
  categoryMap?: CategoryMap;
  /** What the daily health check saw, and whether the directory is paused (read from the row; never written here). */
  health?: DirectoryHealth;
}

export const HEALTH_STATES = ['unchecked', 'ok', 'drift', 'error'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

/**
 * A directory's health (sql/090_directory_health.sql; functions/directories/health.ts): the last daily dry
 * run's verdict, the step it drifted at and since when, and the pause that jobs honour (skipped,
 * directory_paused) until an admin unpauses it.
 */
export interface DirectoryHealth {
  status: HealthState;
  /** The last check's dry-run outcome (ready, drift, site_down, ...); null before the first check. */
  outcome: string | null;
  checkedAt: string | null;
  driftStep: number | null;
  driftSince: string | null;
  paused: boolean;
  pausedAt: string | null;
  pausedReason: string | null;
}

/** A directory as created or replaced: its category map is set apart (DirectoryCategoryStore), and kept. */
export type DirectoryInput = Omit<Directory, 'version' | 'categoryMap' | 'health'>;

/** Where the options of a directory's category select were last read. */
export type OptionsSource = 'submission' | 'dry_run';

/** A directory's category map and the options its form offered when last seen. */
export interface DirectoryCategories {
  directoryId: string;
  map: CategoryMap | null;
  options: SelectOption[] | null;
  optionsSeenAt: string | null;
  optionsSource: OptionsSource | null;
  version: number;
}

export interface DirectoryCategoryStore {
  categories(id: string): Promise<DirectoryCategories | undefined>;
  /** Sets the map (bumping the directory's version); undefined when there is no such directory. */
  setCategoryMap(id: string, map: CategoryMap): Promise<DirectoryCategories | undefined>;
  /** Records the options the form offered, as seen now (the version stays: this is an observation). */
  recordCategoryOptions(id: string, options: readonly SelectOption[], source: OptionsSource): Promise<void>;
}

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
  category_map?: CategoryMap | null;
  health: HealthState;
  health_outcome: string | null;
  health_checked_at: Date | null;
  drift_step: number | null;
  drift_since: Date | null;
  paused_at: Date | null;
  paused_reason: string | null;
}

/** A row without its (large) definition. */
export type DirectorySummaryRow = Omit<DirectoryRow, 'definition'>;

/** Every column but the (large) definition, for lists. */
export const DIRECTORY_SUMMARY_COLUMNS =
  'id, name, site, submission_url, category, tier, domain_authority, active, has_captcha, requires_login, version, ' +
  'health, health_outcome, health_checked_at, drift_step, drift_since, paused_at, paused_reason';
const COLUMNS = `${DIRECTORY_SUMMARY_COLUMNS}, definition, category_map`;

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
    health: toHealth(row),
  };
}

export function toHealth(row: Omit<DirectoryRow, 'definition'>): DirectoryHealth {
  return {
    status: row.health,
    outcome: row.health_outcome,
    checkedAt: row.health_checked_at?.toISOString() ?? null,
    driftStep: row.drift_step,
    driftSince: row.drift_since?.toISOString() ?? null,
    paused: row.paused_at !== null,
    pausedAt: row.paused_at?.toISOString() ?? null,
    pausedReason: row.paused_reason,
  };
}

export function toDirectory(row: DirectoryRow): Directory {
  return {
    ...toDirectorySummary(row),
    definition: row.definition,
    ...(row.category_map ? { categoryMap: row.category_map } : {}),
  };
}

interface CategoriesRow {
  id: string;
  category_map: CategoryMap | null;
  category_options: SelectOption[] | null;
  category_options_seen_at: Date | null;
  category_options_source: OptionsSource | null;
  version: number;
}

const CATEGORY_COLUMNS =
  'id, category_map, category_options, category_options_seen_at, category_options_source, version';

function toCategories(row: CategoriesRow): DirectoryCategories {
  return {
    directoryId: row.id,
    map: row.category_map,
    options: row.category_options,
    optionsSeenAt: row.category_options_seen_at?.toISOString() ?? null,
    optionsSource: row.category_options_source,
    version: row.version,
  };
}

export class PgDirectoryStore implements DirectoryStore, DirectoryCategoryStore {
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

  async categories(id: string): Promise<DirectoryCategories | undefined> {
    const { rows } = await this.sql.query<CategoriesRow>(
      `SELECT ${CATEGORY_COLUMNS} FROM directories WHERE id = $1`,
      [id],
    );
    return rows[0] ? toCategories(rows[0]) : undefined;
  }

  async setCategoryMap(id: string, map: CategoryMap): Promise<DirectoryCategories | undefined> {
    const { rows } = await this.sql.query<CategoriesRow>(
      `UPDATE directories SET category_map = $2, version = version + 1 WHERE id = $1
       RETURNING ${CATEGORY_COLUMNS}`,
      [id, JSON.stringify(map)],
    );
    return rows[0] ? toCategories(rows[0]) : undefined;
  }

  async recordCategoryOptions(
    id: string,
    options: readonly SelectOption[],
    source: OptionsSource,
  ): Promise<void> {
    await this.sql.query(
      `UPDATE directories SET category_options = $2, category_options_seen_at = now(),
              category_options_source = $3
        WHERE id = $1`,
      [id, JSON.stringify(options), source],
    );
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
