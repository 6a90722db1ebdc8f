/**
 * /dashboard/tasks in real Chromium against a local system (gateway, API handlers, Postgres, moto): a person
 * opens the queue with the admin key, claims the captcha task, sees what doing it by hand needs (the
 * directory's submission page as a link, each profile value with a copy button), reloads without losing the
 * claim, and resolves it: the ledger row and the job change, and the task leaves the list.
 */
import { describe, expect, it } from 'vitest';
import { DEMO_CUSTOMERS } from '#local/seed';
import { useLocalViewer } from '#test/local-viewer';

const local = useLocalViewer('tasks_page');

describe('/dashboard/tasks', () => {
  it('claim → resolve in the browser: the row and the job change and the task leaves the list', async () => {
    const customer = DEMO_CUSTOMERS[1] as { id: string; name: string; email: string };
    const created = await fetch(`${local.system.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'x-api-key': local.system.keys.client, 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: customer.id, directoryIds: ['simple-form'] }),
    });
    const jobId = ((await created.json()) as { id: string }).id;
    // What a worker leaves at a captcha.
    await local.system.db.query(
      `UPDATE submissions SET status = 'needs_manual', error_class = 'captcha', error = 'a captcha stood before the submit',
              attempt = 1, finished_at = now() WHERE job_id = $1`,
      [jobId],
    );
    await local.system.db.query(
      `UPDATE jobs SET status = 'completed', finished_at = now(), progress = '{"total": 1, "done": 1}' WHERE id = $1`,
      [jobId],
    );

    const lease = await local.lease({ viewport: { width: 1300, height: 900 } });
    await lease.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: local.system.url });
    const page = await lease.newPage();
    await page.goto(`${local.system.url}/dashboard/tasks`);
    await page.fill('input[name=key]', local.system.keys.admin);
    await page.fill('input[name=operator]', 'ann');
    await page.keyboard.press('Enter');

    const taskRow = page.locator('tbody[data-figure="tasks.list"] tr', { hasText: 'a captcha stood' });
    await taskRow.waitFor();
    await taskRow.getByRole('button', { name: 'Claim' }).click();
    const detail = page.locator('[data-figure="tasks.detail"]');
    await detail.waitFor({ state: 'visible' });
    const link = page.locator('a[data-figure="task.submissionUrl"]');
    const href = await link.getAttribute('href');
    const { rows: dir } = await local.system.db.query<{ submission_url: string }>(
      `SELECT submission_url FROM directories WHERE id = 'simple-form'`,
    );
    expect(href).toBe(dir[0]?.submission_url);
    await page.locator('tr[data-field="email"]').waitFor();
    expect(await page.locator('tr[data-field="name"] td').nth(1).textContent()).toBe(customer.name);
    const copyEmail = page.getByRole('button', { name: 'Copy email' });
    expect(await copyEmail.getAttribute('data-copy')).toBe(customer.email);
    await copyEmail.click();
    await page.getByRole('button', { name: 'Copy email' }).filter({ hasText: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(customer.email);

    // A reload loses nothing: the claim and its task come back.
    await page.reload();
    await detail.waitFor({ state: 'visible' });
    expect(await page.locator('[data-figure="task.directory"]').textContent()).toBe('Simple Form Directory');

    await page.fill('input[name=listingUrl]', 'https://simple.test/biz/42');
    await page.fill('input[name=note]', 'solved the captcha by hand');
    await page.getByRole('button', { name: 'Submitted' }).click();
    await page.locator('[data-figure="tasks.message"]', { hasText: 'Resolved submitted' }).waitFor();
    await page.locator('tbody[data-figure="tasks.list"]', { hasText: 'Nothing to do' }).waitFor();
    expect(await detail.isHidden()).toBe(true);

    const { rows } = await local.system.db.query<{ status: string; listing_url: string; lifecycle: string }>(
      'SELECT status, listing_url, lifecycle FROM submissions WHERE job_id = $1',
      [jobId],
    );
    expect(rows).toEqual([
      { status: 'submitted', listing_url: 'https://simple.test/biz/42', lifecycle: 'under_review' },
    ]);
    const job = await fetch(`${local.system.url}/v1/jobs/${jobId}`, {
      headers: { 'x-api-key': local.system.keys.client },
    });
    const body = (await job.json()) as { progress: { counts: Record<string, number> } };
    expect(body.progress.counts).toMatchObject({ submitted: 1, needs_manual: 0 });
    const { rows: events } = await local.system.db.query<{ detail: { by: string; note: string } }>(
      `SELECT detail FROM job_events WHERE job_id = $1 AND type = 'task.resolved'`,
      [jobId],
    );
    expect(events.map((e) => [e.detail.by, e.detail.note])).toEqual([['ann', 'solved the captcha by hand']]);
  });
});
