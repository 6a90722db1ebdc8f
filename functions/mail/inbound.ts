/**
 * mail-inbound: a directory's verification mail, handled by the system (issue 13 item 4).
 *
 * SES's receipt rule for the stage's inbound mail domain stores each mail in the records bucket
 * (`mail/<message id>`) and then invokes this function with the SES event (its envelope recipients and
 * message id); locally the SMTP stand-in does both the same way (local/services/smtp-inbound.ts). Per mail:
 *
 *   1. the envelope recipient on our domain names an alias (mail_aliases) → its (job, directory); an
 *      unknown alias is refused before the mail is read;
 *   2. the mail, at most MAIL.maxBytes (asked before reading), parsed with mailparser: one without a sender
 *      or a body is malformed;
 *   3. the directory's definition says which mail is the verification (`verification.from` / `subject`),
 *      which link (`verification.link`) and on which host (`verification.linkHost`): a matching link on
 *      another host is refused and never visited;
 *   4. the row must be waiting for it (`pending_verification`): a mail that comes before the worker
 *      recorded the submission is retried (the invocation fails; SES's async invocation retries, the local
 *      stand-in too) and recorded 'early' when the tries run out;
 *   5. the link is visited politely (the lifecycle's visitSite: the site's lease, the browser pool and its
 *      network guard) and the page checked for `verification.confirmed`: confirmed moves the listing
 *      pending_verification → under_review (or live, `verification.confirmedState`) through the lifecycle's own fenced
 *      write and its `listing.<state>` job event; not confirmed leaves it pending (rechecks still follow it).
 *
 * Every mail ends with one inbound_mail row (outcome, reason, detail) and, when it matched a job, a
 * `mail.<outcome>` job event. The link itself (it carries the directory's token) is never logged or kept,
 * only its host. Idempotent per message: a mail already handled is not handled again.
 */
import type { SESEvent } from 'aws-lambda';
import { simpleParser } from 'mailparser';
import type { LifecycleStep } from '#functions/lifecycle/lifecycle-rules';
import type { ListingLifecycle } from '#functions/lifecycle/listing-lifecycle';
import type { Clock } from '#functions/lifecycle/recheck';
import { type SiteVisitPorts, visitSite } from '#functions/lifecycle/site-visit';
import type { MailVerification } from '#functions/worker/form-definition';
import { matches } from '#functions/worker/form-engine';
import { SiteBusyError } from '#functions/worker/site-politeness';
import type { DirectoryStore } from '#shared/directory-store';
import type { ObjectStore } from '#shared/object-store';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import { aliasOf, onDomain } from './alias.ts';
import { findVerificationLink } from './links.ts';
import type { MailListing, MailRecord, MailStore } from './mail-store.ts';

export interface MailInboundOptions {
  /** The stage's inbound mail domain (INBOUND_MAIL_DOMAIN). */
  domain: string;
  /** The key prefix SES stores mail under (policy RECORDS.prefixes.mail). */
  prefix: string;
  maxBytes: number;
  maxLinks: number;
  visitTimeoutMs: number;
  siteWaitMaxMs: number;
  /**
   * Tries of a mail that came early (before its submission was recorded) before it is recorded 'early':
   * SES's async invocation gives 3 (one and two retries); the local stand-in its own schedule's.
   */
  maxTries: number;
}

export interface MailInboundDeps extends Omit<SiteVisitPorts, 'siteWaitMaxMs'> {
  store: MailStore;
  objects: Pick<ObjectStore, 'get' | 'size'>;
  directories: Pick<DirectoryStore, 'getMany'>;
  lifecycle: Pick<ListingLifecycle, 'record'>;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  options: MailInboundOptions;
}

/** A mail came before the row was waiting for it: the invocation fails so that it is tried again. */
export class MailEarlyError extends Error {
  override readonly name = 'MailEarlyError';
}

export interface MailReport {
  /** Each message's outcome (or 'duplicate' when it had been handled before). */
  outcomes: Record<string, string>;
}

export type MailInboundHandler = (event: SESEvent) => Promise<MailReport>;

/** An SES message id as a key part: letters, digits and a few marks, never a path. */
const MESSAGE_ID = /^[A-Za-z0-9._=+-]{1,200}$/;

export function makeMailInboundHandler(deps: MailInboundDeps): MailInboundHandler {
  const { options, logger: log } = deps;
  const visits: SiteVisitPorts = { ...deps, siteWaitMaxMs: options.siteWaitMaxMs };

  async function handle(messageId: string, recipients: readonly string[]): Promise<string> {
    const objectKey = `${options.prefix}${messageId}`;
    const { previous, tries } = await deps.store.begin(messageId, objectKey);
    if (previous && previous !== 'processing') return 'duplicate';
    const record: Partial<MailRecord> = {};
    const finish = async (r: Pick<MailRecord, 'outcome' | 'detail'> & Partial<MailRecord>) => {
      const full = { ...record, ...r } as MailRecord;
      await deps.store.finish(messageId, full);
      deps.metrics.addMetric(`Mail_${full.reason ?? full.outcome}`, MetricUnit.Count, 1);
      log.info('inbound mail', {
        outcome: full.outcome,
        reason: full.reason,
        jobId: full.jobId,
        directoryId: full.directoryId,
        visited: full.visited ?? false,
      });
      return full.reason ?? full.outcome;
    };
    const refuse = (reason: NonNullable<MailRecord['reason']>, detail: string, visited = false) =>
      finish({ outcome: 'refused', reason, detail, visited });

    // 1. Whose mail: the envelope recipient on our domain, by alias. Nothing is read before this.
    const ours = recipients.filter((r) => onDomain(r, options.domain));
    record.recipient = ours[0] ?? recipients[0];
    if (ours.length === 0) return refuse('not_our_domain', `no recipient on ${options.domain}`);
    let owner: { alias: string; jobId: string; directoryId: string } | undefined;
    for (const address of ours) {
      const alias = aliasOf(address, options.domain);
      const found = alias ? await deps.store.findAlias(alias) : undefined;
      if (alias && found) {
        owner = { alias, ...found };
        record.recipient = address;
        break;
      }
    }
    if (!owner) return refuse('unknown_alias', 'no job has this address');
    record.jobId = owner.jobId;
    record.directoryId = owner.directoryId;

    // 2. The mail itself, bounded before it is read.
    const size = await deps.objects.size(objectKey);
    if (size === undefined) return refuse('malformed', 'the mail is not in the records bucket');
    record.sizeBytes = size;
    if (size > options.maxBytes) {
      return refuse('too_large', `the mail is ${size} bytes; at most ${options.maxBytes} are read`);
    }
    const raw = await deps.objects.get(objectKey);
    if (!raw) return refuse('malformed', 'the mail is not in the records bucket');
    let parsed: Awaited<ReturnType<typeof simpleParser>>;
    try {
      parsed = await simpleParser(Buffer.from(raw), { skipImageLinks: true, maxHtmlLengthToParse: size });
    } catch (err) {
      return refuse('malformed', `the mail could not be parsed (${describeError(err).name})`);
    }
    const sender = parsed.from?.value[0]?.address;
    record.sender = sender;
    record.subject = parsed.subject;
    const html = typeof parsed.html === 'string' ? parsed.html : '';
    const text = parsed.text ?? '';
    if (!sender) return refuse('malformed', 'the mail has no sender (From)');
    if (!html.trim() && !text.trim()) return refuse('malformed', 'the mail has no body');

    // 3. Is it the directory's verification mail, and which link.
    const [directory] = await deps.directories.getMany([owner.directoryId]);
    const verification = directory?.definition.verification;
    if (!directory || !verification) {
      return refuse('no_definition', 'the directory’s definition expects no verification mail');
    }
    if (!isVerificationMail(verification, sender, parsed.subject ?? '')) {
      return refuse('not_verification', 'neither the sender nor the subject is the directory’s');
    }
    const link = findVerificationLink({ html, text }, verification, options.maxLinks);
    if (link.kind === 'none') return refuse('no_link', 'no link in the mail matches the definition');
    if (link.kind === 'other_host') {
      record.linkHost = link.host;
      return refuse('link_host', `the matching link is on ${link.host}, not ${verification.linkHost}`);
    }
    record.linkHost = link.url.host;

    // 4. The row must be waiting for it.
    const listing = await deps.store.listing(owner.jobId, owner.directoryId);
    if (!listing) return refuse('not_pending', 'the submission no longer exists');
    record.submissionId = listing.submissionId;
    if (
      listing.lifecycleState === null &&
      ['submitting', 'submitted', 'unverified'].includes(listing.status)
    ) {
      return early(tries, finish, 'its submission was not recorded yet');
    }
    if (listing.lifecycleState !== 'pending_verification') {
      return refuse(
        'not_pending',
        `the listing is ${listing.lifecycleState ?? listing.status}, not waiting for a verification mail`,
      );
    }

    // 5. The visit, and the lifecycle's fenced write.
    let seen: { confirmed: boolean; url: URL };
    try {
      seen = await visitSite(visits, directory.site, async (page) => {
        await page.goto(link.url.href, { timeout: options.visitTimeoutMs, waitUntil: 'load' });
        return { confirmed: await matches(page, verification.confirmed), url: new URL(page.url()) };
      });
    } catch (err) {
      if (err instanceof SiteBusyError) return early(tries, finish, 'its site stayed busy');
      return refuse('visit_failed', `visiting the link failed (${describeError(err).name})`, true);
    }
    if (!seen.confirmed) {
      return finish({
        outcome: 'unconfirmed',
        detail:
          'the link was visited, but the page did not show the confirmation; rechecks follow the listing',
        visited: true,
      });
    }
    const step = confirmedStep(listing, verification, seen.url);
    if (!(await deps.lifecycle.record(listing, step, deps.clock.now()))) {
      return refuse('not_pending', 'the listing changed while its link was visited', true);
    }
    return finish({ outcome: 'confirmed', detail: step.reason, visited: true });
  }

  async function early(
    tries: number,
    finish: (r: Pick<MailRecord, 'outcome' | 'detail'>) => Promise<string>,
    why: string,
  ): Promise<string> {
    if (tries >= options.maxTries) {
      return finish({ outcome: 'early', detail: `${why}, through ${tries} tries` });
    }
    throw new MailEarlyError(`${why}; try ${tries} of ${options.maxTries}`);
  }

  return async function mailInbound(event) {
    const report: MailReport = { outcomes: {} };
    try {
      for (const record of event.Records ?? []) {
        const messageId = record.ses?.mail?.messageId ?? '';
        if (!MESSAGE_ID.test(messageId)) {
          log.warn('inbound mail event without a usable message id; ignored');
          continue;
        }
        report.outcomes[messageId] = await handle(messageId, record.ses.receipt?.recipients ?? []);
      }
      return report;
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}

function isVerificationMail(v: MailVerification, sender: string, subject: string): boolean {
  if (v.from !== undefined && !new RegExp(v.from, 'i').test(sender)) return false;
  if (v.subject !== undefined && !new RegExp(v.subject).test(subject)) return false;
  return true;
}

/** The lifecycle write of a confirmed verification: under_review keeps its next recheck; live settles. */
function confirmedStep(listing: MailListing, v: MailVerification, page: URL): LifecycleStep {
  if (v.confirmedState === 'live') {
    return {
      to: 'live',
      nextCheckAt: null,
      inconclusiveChecks: 0,
      // The confirmation page, without its query and fragment (they may carry the token).
      listingUrl: `${page.origin}${page.pathname}`,
      reason: 'the verification link was visited and the directory confirmed and published the listing',
    };
  }
  return {
    to: 'under_review',
    nextCheckAt: listing.nextCheckAt,
    inconclusiveChecks: listing.inconclusiveChecks,
    listingUrl: null,
    reason: 'the verification link was visited and the directory confirmed it; waiting for it to publish',
  };
}
