/**
 * The directories API: list (filtered, paginated, cached briefly in the container), read one with its form
 * definition, and for admins create/replace a definition (validated by the worker's own parser, so the API
 * can never store a definition the worker would refuse) or deactivate a directory.
 */

import type { DirectoryHealthStore } from '#functions/directories/health-store';
import { DefinitionError, type FormDefinition, parseFormDefinition } from '#functions/worker/form-definition';
import { CACHE_TTL } from '#policy';
import { CATEGORY_TAXONOMY, categoryById, resolveCategory, suggestCategories } from '#shared/categories';
import type { Directory, DirectoryCategoryStore, DirectoryStore } from '#shared/directory-store';
import { MetricUnit } from '#shared/telemetry';
import { type CategoryMapPut, canonicalMap, categoriesView } from './categories.ts';
import { CURSOR_PARTS, decodeCursor, encodeCursor } from './cursor.ts';
import type { DirectoryQueries } from './directory-queries.ts';
import { badRequest, json, notFound } from './http.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';
import { DIRECTORY_ID_PATTERN } from './schemas.ts';

export interface DirectoriesApiDeps extends ApiBaseDeps {
  directories: Pick<DirectoryStore, 'get' | 'upsert'> &
    Pick<DirectoryCategoryStore, 'categories' | 'setCategoryMap'>;
  queries: DirectoryQueries;
  /** The pause the daily health check sets (functions/directories/health-store.ts). */
  health: Pick<DirectoryHealthStore, 'unpause'>;
  /** Milliseconds clock for the list cache (tests pass their own). */
  now?: () => number;
}

interface DirectoryListQuery {
  category?: string;
  tier?: number;
  active?: boolean;
  cursor?: string;
  limit: number;
}

interface DirectoryPutBody {
  name: string;
  site?: string;
  submissionUrl?: string;
  category: string;
  tier: number;
  domainAuthority: number;
  active?: boolean;
  hasCaptcha?: boolean;
  requiresLogin?: boolean;
  definition: unknown;
}

const ID = new RegExp(DIRECTORY_ID_PATTERN);

export function makeDirectoriesApi(deps: DirectoriesApiDeps): ApiHandler {
  const now = deps.now ?? Date.now;
  const ttlMs = CACHE_TTL.directoryListSeconds * 1000;
  /** List pages by query; cleared at once by a PUT or DELETE served by this container. */
  const cache = new Map<string, { expires: number; body: unknown }>();

  return makeApiHandler(
    'directories',
    {
      'GET /v1/directories': async ({ query }: RouteRequest<undefined, DirectoryListQuery>) => {
        const key = JSON.stringify([query.category, query.tier, query.active, query.cursor, query.limit]);
        const hit = cache.get(key);
        const headers = { 'cache-control': `private, max-age=${CACHE_TTL.directoryListSeconds}` };
        if (hit && hit.expires > now()) {
          deps.metrics.addMetric('DirectoryListCacheHit', MetricUnit.Count, 1);
          return json(200, hit.body, headers);
        }
        deps.metrics.addMetric('DirectoryListCacheMiss', MetricUnit.Count, 1);
        const after = decodeCursor(query.cursor, [CURSOR_PARTS.directoryId]);
        const page = await deps.queries.list({
          ...(query.category !== undefined ? { category: query.category } : {}),
          ...(query.tier !== undefined ? { tier: query.tier } : {}),
          ...(query.active !== undefined ? { active: query.active } : {}),
          limit: query.limit,
          ...(after ? { afterId: after[0] } : {}),
        });
        const body = { items: page.directories, nextCursor: page.next ? encodeCursor([page.next]) : null };
        cache.set(key, { expires: now() + ttlMs, body });
        return json(200, body, headers);
      },

      'GET /v1/directories/{id}/stats': async ({
        params,
        query,
      }: RouteRequest<undefined, { days: number }>) => {
        const stats =
          params.id && ID.test(params.id) ? await deps.queries.stats(params.id, query.days) : undefined;
        if (!stats) throw notFound('directory');
        return json(200, stats);
      },

      'GET /v1/directories/{id}': async ({ params }: RouteRequest) => {
        const directory = params.id && ID.test(params.id) ? await deps.directories.get(params.id) : undefined;
        if (!directory) throw notFound('directory');
        return json(200, directory);
      },

      'PUT /v1/directories/{id}': async ({ params, body }: RouteRequest<DirectoryPutBody>) => {
        const id = params.id ?? '';
        if (!ID.test(id)) {
          throw badRequest('invalid directory id', [
            {
              field: 'id',
              message: 'must be 1 to 63 lowercase letters, digits or dashes, starting with a letter or digit',
            },
          ]);
        }
        let definition: FormDefinition;
        try {
          definition = parseFormDefinition(body.definition);
        } catch (err) {
          if (!(err instanceof DefinitionError)) throw err;
          const message = err.message.startsWith(`${err.field}: `)
            ? err.message.slice(err.field.length + 2)
            : err.message;
          throw badRequest('invalid form definition', [{ field: err.field, message }]);
        }
        const submissionUrl = body.submissionUrl ?? definition.submissionUrl;
        const input: Omit<Directory, 'version'> = {
          id,
          name: body.name.trim(),
          site: body.site ?? new URL(submissionUrl).origin,
          submissionUrl,
          category: body.category.trim(),
          tier: body.tier,
          domainAuthority: body.domainAuthority,
          active: body.active ?? true,
          hasCaptcha: body.hasCaptcha ?? false,
          requiresLogin: body.requiresLogin ?? false,
          definition,
        };
        const saved = await deps.directories.upsert(input);
        cache.clear();
        deps.logger.info('directory saved', { directoryId: id, version: saved.version });
        return json(saved.version === 1 ? 201 : 200, saved);
      },

      'GET /v1/categories': async ({ query }: RouteRequest<undefined, { q?: string }>) => {
        const entries = query.q === undefined ? CATEGORY_TAXONOMY : undefined;
        if (entries) return json(200, { items: entries.map((c) => ({ ...c, score: null })) });
        const named = resolveCategory(query.q ?? '');
        const near = named
          ? [{ entry: named, score: 1 }]
          : suggestCategories(query.q ?? '').flatMap((s) => {
              const entry = categoryById(s.id);
              return entry ? [{ entry, score: s.score }] : [];
            });
        return json(200, { items: near.map(({ entry, score }) => ({ ...entry, score })) });
      },
      'GET /v1/directories/{id}/categories': async ({ params }: RouteRequest) => {
        const id = params.id ?? '';
        const found = ID.test(id) ? await deps.directories.categories(id) : undefined;
        if (!found) throw notFound('directory');
        return json(200, categoriesView(found));
      },

      'PUT /v1/directories/{id}/categories': async ({ params, body }: RouteRequest<CategoryMapPut>) => {
        const id = params.id ?? '';
        // The map is checked before the directory is looked up: a refusal names the category either way.
        const map = canonicalMap(body);
        const saved = ID.test(id) ? await deps.directories.setCategoryMap(id, map) : undefined;
        if (!saved) throw notFound('directory');
        deps.logger.info('category map saved', {
          directoryId: id,
          version: saved.version,
          mapped: Object.keys(map.mapping).length,
        });
        return json(200, categoriesView(saved));
      },

      'POST /v1/directories/{id}/unpause': async ({ params }: RouteRequest) => {
        const directory =
          params.id && ID.test(params.id) ? await deps.health.unpause(params.id, new Date(now())) : undefined;
        if (!directory) throw notFound('directory');
        cache.clear();
        deps.logger.info('directory unpaused', { directoryId: directory.id });
        return json(200, directory);
      },

      'DELETE /v1/directories/{id}': async ({ params }: RouteRequest) => {
        const id = params.id ?? '';
        if (!ID.test(id) || !(await deps.queries.deactivate(id))) throw notFound('directory');
        cache.clear();
        deps.logger.info('directory deactivated', { directoryId: id });
        return { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' };
      },
    },
    deps,
  );
}
