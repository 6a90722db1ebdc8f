/**
 * The report's CSV (functions/api/report.ts) read back by an independent RFC 4180 reader: any text a directory
 * name, a status or a URL may hold (commas, quotes, line breaks, Unicode) comes back exactly; a value a
 * spreadsheet would run as a formula comes back defused with a leading apostrophe. And the HTML escapes what
 * it did not write.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REPORT_COLUMNS, type ReportRow, renderReportCsv, renderReportHtml } from '#functions/api/report';
import type { Job } from '#shared/job-store';
import { parseCsv } from '#test/csv';

const rowArb = fc.record(
  Object.fromEntries(
    REPORT_COLUMNS.map((c) => [c, fc.string({ unit: 'grapheme', maxLength: 30 })]),
  ) as Record<keyof ReportRow, fc.Arbitrary<string>>,
);
const defused = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

describe('the report CSV', () => {
  it('parses back to the same rows, formulas defused', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 8 }), (rows) => {
        const [header, ...back] = parseCsv(renderReportCsv(rows));
        expect(header).toEqual([...REPORT_COLUMNS]);
        expect(back).toEqual(rows.map((r) => REPORT_COLUMNS.map((c) => defused(r[c]))));
      }),
      { numRuns: 300 },
    );
  });
});

describe('the report HTML', () => {
  it('escapes directory text and links only http(s) URLs', () => {
    const job = { id: 'j-1', createdAt: '2026-12-04T00:00:00.000Z', status: 'completed' } as Job;
    const html = renderReportHtml(
      { keyId: 'k', displayName: '<script>alert(1)</script>', logoUrl: 'javascript:alert(1)' },
      job,
      { directories: 1, submitted: 1, live: 0, underReview: 1, withPeople: 0, failed: 0, skipped: 0 },
      [
        {
          directoryId: 'd',
          directory: '<img src=x onerror=alert(1)>',
          status: 'submitted',
          lifecycle: 'under_review',
          listingUrl: 'javascript:alert(2)',
          submittedAt: '',
          proofFormUrl: 'https://records.test/form.jpg?sig="x"',
          proofResultUrl: '',
        },
      ],
    );
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('javascript:');
    expect(html).toContain('<a href="https://records.test/form.jpg?sig=&quot;x&quot;">form</a>');
  });
});
