/**
 * The customer's report of one job (GET /v1/jobs/{id}/report; issue 14): summary counts and, per directory,
 * its name, the ledger status, the listing's lifecycle state, the listing URL, when it was submitted and the
 * proof screenshots (presigned links). Print-friendly HTML under the job owner's white label (the API key's
 * display name and logo, set by an admin; formfleet's name only when unset), or the same rows as CSV
 * (RFC 4180). Every value from the ledger, a directory or a brand is escaped: they are not ours.
 */
import type { Brand } from '#shared/brand-store';
import type { Job } from '#shared/job-store';
import { countByStatus, type Submission } from '#shared/submission-ledger';
import type { ApiResult } from './http.ts';
import type { ProofView } from './proofs.ts';

export const REPORT_FORMATS = ['html', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The name a report goes under when the key has no brand. */
export const DEFAULT_BRAND_NAME = 'formfleet';

export interface ReportRow {
  directoryId: string;
  directory: string;
  status: string;
  lifecycle: string;
  listingUrl: string;
  submittedAt: string;
  proofFormUrl: string;
  proofResultUrl: string;
}

/** The CSV's columns, in order: the header row names them. */
export const REPORT_COLUMNS: readonly (keyof ReportRow)[] = [
  'directoryId',
  'directory',
  'status',
  'lifecycle',
  'listingUrl',
  'submittedAt',
  'proofFormUrl',
  'proofResultUrl',
];

export interface ReportSummary {
  directories: number;
  submitted: number;
  live: number;
  underReview: number;
  /** Waiting for a person (captcha, login wall, in doubt). */
  withPeople: number;
  failed: number;
  skipped: number;
}

export function reportRows(
  submissions: readonly Submission[],
  names: ReadonlyMap<string, string>,
  proofs: ReadonlyMap<number, ProofView[]>,
): ReportRow[] {
  return submissions.map((s) => {
    const last = proofs.get(s.id)?.at(-1);
    return {
      directoryId: s.directoryId,
      directory: names.get(s.directoryId) ?? s.directoryId,
      status: s.status,
      lifecycle: s.lifecycle ?? '',
      listingUrl: s.listingUrl ?? '',
      submittedAt: s.status === 'submitted' ? (s.finishedAt ?? '') : '',
      proofFormUrl: last?.screenshots.form.url ?? '',
      proofResultUrl: last?.screenshots.result.url ?? '',
    };
  });
}

export function reportSummary(submissions: readonly Submission[]): ReportSummary {
  const c = countByStatus(submissions);
  return {
    directories: submissions.length,
    submitted: c.submitted,
    live: submissions.filter((s) => s.lifecycle === 'live').length,
    underReview: submissions.filter(
      (s) => s.lifecycle === 'under_review' || s.lifecycle === 'pending_verification',
    ).length,
    withPeople:
      c.needs_manual +
      c.unknown +
      submissions.filter((s) => s.status === 'skipped' && s.errorClass === 'login_required').length,
    failed: c.failed,
    skipped: c.skipped,
  };
}

const escapeHtml = (v: string) =>
  v.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch,
  );

/** Only http(s) links are rendered as links (a ledger URL read from a directory page is untrusted). */
const link = (url: string, text: string) =>
  /^https?:\/\//i.test(url) ? `<a href="${escapeHtml(url)}">${escapeHtml(text)}</a>` : '';

const SUMMARY_LABELS: Record<keyof ReportSummary, string> = {
  directories: 'Directories',
  submitted: 'Submitted',
  live: 'Live',
  underReview: 'Under review',
  withPeople: 'Being handled by our team',
  failed: 'Failed',
  skipped: 'Skipped',
};

export function renderReportHtml(
  brand: Brand | undefined,
  job: Job,
  summary: ReportSummary,
  rows: readonly ReportRow[],
): string {
  const name = brand?.displayName ?? DEFAULT_BRAND_NAME;
  const logo = brand?.logoUrl && /^https?:\/\//i.test(brand.logoUrl);
  const cells = rows
    .map(
      (r) =>
        `<tr data-directory="${escapeHtml(r.directoryId)}"><td>${escapeHtml(r.directory)}</td>` +
        `<td class="status">${escapeHtml(r.status)}</td><td class="lifecycle">${escapeHtml(r.lifecycle)}</td>` +
        `<td>${link(r.listingUrl, 'listing')}</td><td>${escapeHtml(r.submittedAt)}</td>` +
        `<td>${[link(r.proofFormUrl, 'form'), link(r.proofResultUrl, 'result')].filter(Boolean).join(' · ')}</td></tr>`,
    )
    .join('\n');
  const figures = (Object.keys(SUMMARY_LABELS) as (keyof ReportSummary)[])
    .map(
      (k) =>
        `<div class="figure"><span class="n" data-count="${k}">${summary[k]}</span> ${escapeHtml(SUMMARY_LABELS[k])}</div>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${escapeHtml(name)}: listing report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#111}
header{display:flex;align-items:center;gap:1rem}header img{max-height:64px;max-width:240px}
.summary{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}.figure{border:1px solid #ccc;padding:.5rem 1rem}
.n{font-size:1.5rem;font-weight:600}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
@media print{a{color:inherit}body{margin:0}}
</style></head>
<body><header>${logo ? `<img src="${escapeHtml(brand?.logoUrl ?? '')}" alt="${escapeHtml(name)}">` : ''}<h1>${escapeHtml(name)}</h1></header>
<p>Listing report for job <code>${escapeHtml(job.id)}</code>, created ${escapeHtml(job.createdAt)}, ${escapeHtml(job.status)}.</p>
<section class="summary">${figures}</section>
<table><thead><tr><th>Directory</th><th>Status</th><th>Listing</th><th>Listing URL</th><th>Submitted at</th><th>Proof</th></tr></thead>
<tbody>
${cells}
</tbody></table>
</body></html>
`;
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; a leading =+-@ is defused. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function renderReportCsv(rows: readonly ReportRow[]): string {
  const lines = [
    REPORT_COLUMNS.join(','),
    ...rows.map((r) => REPORT_COLUMNS.map((c) => csvField(r[c])).join(',')),
  ];
  return `${lines.join('\r\n')}\r\n`;
}

/** The report as an HTTP answer: never cached (its proof links expire), never sniffed, no scripts. */
export function reportResponse(format: ReportFormat, jobId: string, body: string): ApiResult {
  const common = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
  return format === 'csv'
    ? {
        statusCode: 200,
        headers: {
          ...common,
          'content-type': 'text/csv; charset=utf-8',
          'content-disposition': `attachment; filename="report-${jobId}.csv"`,
        },
        body,
      }
    : {
        statusCode: 200,
        headers: {
          ...common,
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy':
            "default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline'",
        },
        body,
      };
}
