/**
 * The probes API (admin): a directory's form tried outside a job, in Chromium, without ever submitting.
 * `POST /v1/directories/{id}/dry-run` runs the stored definition up to, never including, the submit and
 * answers per step what it found, with a screenshot of the filled form in the records bucket (a presigned
 * link). The visit is polite: the site's site_visits lease, the very one jobs and listing rechecks take, so
 * a dry run never visits a site while a job does, and the site's minimum gap holds between them.
 *
 * A Lambda function of its own (api-probes, with the browser): the other API functions stay small.
 */
import type { Page } from 'playwright-core';
import { type Discovery, DiscoveryError, discoverForm } from '#functions/directories/discover';
import { type DryRun, dryRun } from '#functions/directories/dry-run';
import { SAMPLE_PROFILE } from '#functions/directories/sample-profile';
import { recordsScreenshots } from '#functions/directories/screenshots';
import { type SiteVisitPorts, visitSite } from '#functions/lifecycle/site-visit';
import type { CapturePolicy } from '#functions/worker/evidence-capture';
import { parseFormDefinition } from '#functions/worker/form-definition';
import { SiteBusyError } from '#functions/worker/site-politeness';
import type { CustomerStore, Profile } from '#shared/customer-store';
import type { DirectoryCategoryStore, DirectoryStore } from '#shared/directory-store';
import type { ObjectStore } from '#shared/object-store';
import { MetricUnit } from '#shared/telemetry';
import { HttpError, json, notFound } from './http.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';
import { DIRECTORY_ID_PATTERN } from './schemas.ts';

export interface ProbeOptions {
  stepTimeoutMs: number;
  directoryTimeoutMs: number;
  transientRetries: number;
  retryDelayMs: number;
  siteWaitMaxMs: number;
  presignedUrlSeconds: number;
  uploadTimeoutMs: number;
  screenshots: CapturePolicy;
  /** Discovery: a script-rendered form's time to draw, the pages followed, the screenshots kept. */
  formWaitMs: number;
  maxPages: number;
  screenshotsPerProbe: number;
}

export interface ProbesApiDeps extends ApiBaseDeps {
  directories: Pick<DirectoryStore, 'get'> & Pick<DirectoryCategoryStore, 'recordCategoryOptions'>;
  customers: Pick<CustomerStore, 'get'>;
  /** The browser and the site leases (the worker's politeness); `holder` names this function. */
  visits: Omit<SiteVisitPorts, 'siteWaitMaxMs'>;
  /** The records bucket: the screenshots under `probes/`. */
  objects: Pick<ObjectStore, 'put' | 'presignGet'>;
  options: ProbeOptions;
}

interface DiscoverBody {
  url: string;
}

interface DryRunBody {
  customerId?: string;
}

/** A dry run as the API answers it. */
export interface DryRunView extends DryRun {
  directoryId: string;
  version: number;
  /** Whose profile was typed: a customer's id, or null for the sample profile. */
  customerId: string | null;
  /** Always false: a dry run never submits (the fixture sites' counters are the tests' proof). */
  submitted: false;
}

const ID = new RegExp(DIRECTORY_ID_PATTERN);

export function makeProbesApi(deps: ProbesApiDeps): ApiHandler {
  const { options } = deps;
  /** A polite visit to `site` (the worker's lease): 409 directory_busy when it stays busy. */
  const visit = async <T>(site: string, look: (page: Page) => Promise<T>): Promise<T> => {
    try {
      return await visitSite({ ...deps.visits, siteWaitMaxMs: options.siteWaitMaxMs }, site, look);
    } catch (err) {
      if (err instanceof SiteBusyError) {
        throw new HttpError(
          409,
          'directory_busy',
          `${site} is being visited (a job or a recheck); try again shortly`,
          undefined,
          { 'retry-after': String(Math.ceil(options.siteWaitMaxMs / 1000)) },
        );
      }
      throw err;
    }
  };
  const store = (scope: string) =>
    recordsScreenshots(deps.objects, {
      scope,
      expiresInSeconds: options.presignedUrlSeconds,
      uploadTimeoutMs: options.uploadTimeoutMs,
    });

  return makeApiHandler(
    'probes',
    {
      'POST /v1/directories/discover': async ({ body }: RouteRequest<DiscoverBody>) => {
        let discovery: Discovery;
        try {
          discovery = await visit(new URL(body.url).origin, (page) =>
            discoverForm(page, body.url, {
              pageTimeoutMs: options.stepTimeoutMs,
              formWaitMs: options.formWaitMs,
              maxPages: options.maxPages,
              siteDownRetries: options.transientRetries,
              retryDelayMs: options.retryDelayMs,
              profile: SAMPLE_PROFILE,
              screenshots: { ...options.screenshots, perProbe: options.screenshotsPerProbe },
              store: store('discover'),
            }),
          );
        } catch (err) {
          if (err instanceof DiscoveryError) throw new HttpError(409, err.reason, err.message);
          throw err;
        }
        deps.metrics.addMetric('Discovery', MetricUnit.Count, 1);
        deps.logger.info('discovery', {
          site: new URL(body.url).origin,
          outcome: discovery.outcome,
          confidence: discovery.confidence,
          pages: discovery.pages,
        });
        return json(200, discovery, { 'cache-control': 'no-store' });
      },

      'POST /v1/directories/{id}/dry-run': async ({ params, body }: RouteRequest<DryRunBody>) => {
        const id = params.id ?? '';
        const directory = ID.test(id) ? await deps.directories.get(id) : undefined;
        if (!directory) throw notFound('directory');
        let profile: Profile = SAMPLE_PROFILE;
        if (body.customerId !== undefined) {
          const customer = await deps.customers.get(body.customerId);
          if (!customer) throw notFound('customer');
          profile = customer;
        }
        const definition = parseFormDefinition(directory.definition);
        const { categoryOptions, ...result } = await dryRun(
          (look) => visit(directory.site, look),
          definition,
          profile,
          {
            stepTimeoutMs: options.stepTimeoutMs,
            directoryTimeoutMs: options.directoryTimeoutMs,
            transientRetries: options.transientRetries,
            retryDelayMs: options.retryDelayMs,
            screenshots: options.screenshots,
            store: store(id),
            ...(directory.categoryMap ? { categoryMap: directory.categoryMap } : {}),
          },
        );
        // What the form's category select offers, as GET /v1/directories/{id}/categories shows it.
        if (categoryOptions) await deps.directories.recordCategoryOptions(id, categoryOptions, 'dry_run');
        deps.metrics.addMetric('DryRun', MetricUnit.Count, 1);
        deps.metrics.addMetric(`DryRun_${result.outcome}`, MetricUnit.Count, 1);
        deps.logger.info('dry run', {
          directoryId: id,
          outcome: result.outcome,
          driftStep: result.driftStep,
          ms: result.ms,
        });
        const view: DryRunView = {
          directoryId: id,
          version: directory.version,
          customerId: body.customerId ?? null,
          submitted: false,
          ...result,
        };
        return json(200, view, { 'cache-control': 'no-store' });
      },
    },
    deps,
  );
}
