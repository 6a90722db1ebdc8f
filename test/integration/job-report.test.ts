/**
 * The customer's report (issue 14 item 3) over real HTTP against a local system (gateway, API handlers,
 * Postgres, moto): an admin brands a client key, the key's job ends with a mix of outcomes (one resolved by a
 * person through the task queue), and the report is read the way a customer reads it: the HTML rendered in
 * Chromium shows the numbers GET /v1/jobs/{id} returns, under the key's own name and logo (no formfleet), and
 * the CSV parses back to the same rows.
 */
import { describe, expect, it } from 'vitest';
import { REPORT_COLUMNS } from '#functions/api/report';
import { parseCsv } from '#test/csv';
import { useLocalViewer } from '#test/local-viewer';
import { uniqueName } from '#test/services';

const local = useLocalViewer('job_report');

async function http(method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(`${local.system.url}${path}`, {
    method,
    headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    // biome-ignore lint/suspicious/noExplicitAny: answers are inspected freely.
    body: (type.startsWith('application/json') ? await res.json() : await res.text()) as any,
  };
}

describe('GET /v1/jobs/{id}/report', () => {
  it("renders the API's numbers under the key's white label, and the CSV parses back to the same rows", async () => {
    const admin = local.system.keys.admin;
    const key = await http('POST', '/v1/keys', admin, { name: uniqueName('agency') });
    expect(key.status).toBe(201);
    const client = key.body.value as string;
    const brand = await http('PUT', `/v1/keys/${key.body.id}/brand`, admin, {
      displayName: 'Acme Local, "Listings" & <Co>',
      logoUrl: 'https://cdn.acme.test/logo.png',
    });
    expect(brand.status).toBe(200);
    expect((await http('PUT', '/v1/keys/no-such-key/brand', admin, { displayName: 'X' })).status).toBe(404);

    const customer = await http('POST', '/v1/customers', client, { name: 'Report Co', email: 'r@co.test' });
    const directories = ['simple-form', 'http-500', 'captcha-widget'];
    const job = await http('POST', '/v1/jobs', client, {
      customerId: customer.body.id,
      directoryIds: directories,
    });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const jobId = job.body.id as string;
    // What a worker leaves: one submitted, one failed, one captcha for a person.
    await local.system.db.query(
      `UPDATE submissions SET attempt = 1, finished_at = now(),
              status = CASE directory_id WHEN 'simple-form' THEN 'submitted' WHEN 'http-500' THEN 'failed' ELSE 'needs_manual' END,
              error_class = CASE directory_id WHEN 'simple-form' THEN NULL WHEN 'http-500' THEN 'site_down' ELSE 'captcha' END,
              error = CASE directory_id WHEN 'simple-form' THEN NULL WHEN 'http-500' THEN 'HTTP 500, "twice", then, gave up' ELSE 'a captcha' END
        WHERE job_id = $1`,
      [jobId],
    );
    await local.system.db.query(
      `UPDATE jobs SET status = 'completed', finished_at = now(), progress = '{"total": 3, "done": 3}' WHERE id = $1`,
      [jobId],
    );
    // A person submits the captcha directory by hand: it counts as a submission in the report.
    const tasks = await http('GET', `/v1/tasks?jobId=${jobId}`, admin);
    const resolved = await http('POST', `/v1/tasks/${tasks.body.items[0].id}/resolve`, admin, {
      outcome: 'submitted',
      listingUrl: 'https://captcha.test/biz/report-co',
    });
    expect(resolved.status).toBe(200);

    const api = await http('GET', `/v1/jobs/${jobId}`, client);
    const results = api.body.results as {
      directoryId: string;
      status: string;
      lifecycle: string | null;
      listingUrl: string | null;
      finishedAt: string | null;
    }[];
    const count = (status: string) => results.filter((r) => r.status === status).length;
    expect(count('submitted')).toBe(2);

    // The HTML, rendered by Chromium as the customer's browser renders it.
    const html = await http('GET', `/v1/jobs/${jobId}/report`, client);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-security-policy')).toContain("default-src 'none'");
    const lease = await local.lease({ extraHTTPHeaders: { 'x-api-key': client } });
    const page = await lease.newPage();
    const loaded = await page.goto(`${local.system.url}/v1/jobs/${jobId}/report`);
    expect(loaded?.status()).toBe(200);
    const shown = await page.evaluate(() => ({
      title: document.title,
      text: document.body.innerText,
      logo: document.querySelector('header img')?.getAttribute('src') ?? null,
      counts: Object.fromEntries(
        Array.from(document.querySelectorAll('[data-count]')).map((e) => [
          e.getAttribute('data-count'),
          Number(e.textContent),
        ]),
      ),
      rows: Array.from(document.querySelectorAll('tbody tr')).map((tr) => ({
        directoryId: tr.getAttribute('data-directory'),
        status: tr.querySelector('.status')?.textContent,
        lifecycle: tr.querySelector('.lifecycle')?.textContent,
        link: tr.querySelector('a')?.getAttribute('href') ?? null,
      })),
    }));
    expect(shown.title).toBe('Acme Local, "Listings" & <Co>: listing report');
    expect(shown.logo).toBe('https://cdn.acme.test/logo.png');
    expect(shown.text.toLowerCase()).not.toContain('formfleet');
    expect(shown.counts).toEqual({
      directories: results.length,
      submitted: count('submitted'),
      live: results.filter((r) => r.lifecycle === 'live').length,
      underReview: results.filter((r) => r.lifecycle === 'under_review').length,
      withPeople: count('needs_manual') + count('unknown'),
      failed: count('failed'),
      skipped: count('skipped'),
    });
    expect(shown.rows).toEqual(
      results.map((r) => ({
        directoryId: r.directoryId,
        status: r.status,
        lifecycle: r.lifecycle ?? '',
        link: r.listingUrl,
      })),
    );

    // The CSV: the same rows, parsed back.
    const csv = await http('GET', `/v1/jobs/${jobId}/report?format=csv`, client);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const [header, ...rows] = parseCsv(csv.body as string);
    expect(header).toEqual([...REPORT_COLUMNS]);
    const dirs = await http('GET', '/v1/directories?limit=200', client);
    const names = new Map(
      (dirs.body.items as { id: string; name: string }[]).map((d) => [d.id, d.name] as [string, string]),
    );
    expect(rows).toEqual(
      results.map((r) => [
        r.directoryId,
        names.get(r.directoryId),
        r.status,
        r.lifecycle ?? '',
        r.listingUrl ?? '',
        r.status === 'submitted' ? (r.finishedAt ?? '') : '',
        '',
        '',
      ]),
    );

    // Another client's key sees no such job; an admin sees the client's own white label.
    expect((await http('GET', `/v1/jobs/${jobId}/report`, local.system.keys.client)).status).toBe(404);
    const asAdmin = await http('GET', `/v1/jobs/${jobId}/report`, admin);
    expect(asAdmin.body).toContain('<h1>Acme Local, &quot;Listings&quot; &amp; &lt;Co&gt;</h1>');
    expect((await http('GET', `/v1/jobs/${jobId}/report?format=pdf`, client)).status).toBe(400);
  });

  it("goes under formfleet's name for a key without a brand", async () => {
    const customer = await http('POST', '/v1/customers', local.system.keys.client, {
      name: 'Plain',
      email: 'p@co.test',
    });
    const job = await http('POST', '/v1/jobs', local.system.keys.client, {
      customerId: customer.body.id,
      directoryIds: ['simple-form'],
    });
    const html = await http('GET', `/v1/jobs/${job.body.id}/report`, local.system.keys.client);
    expect(html.body).toContain('<title>formfleet: listing report</title>');
    expect(html.body).not.toContain('<img');
  });
});
