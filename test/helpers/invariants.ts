/**
 * "Nothing lost, nothing twice", the invariant every reliability test ends with, checked against the
 * database and the fixture sites' own counters:
 *  - every job is still there and has ended (completed, failed or cancelled);
 *  - every ledger row of those jobs has settled (none left 'prepared' or 'submitting');
 *  - no fixture site received any business more than once;
 *  - a row the ledger calls 'submitted' is a submission the site really received, exactly once.
 */
import { expect } from 'vitest';
import type { LocalSystem } from '#local/runtime';
import { TERMINAL_JOB_STATUSES } from '#shared/job-store';

export interface InvariantReport {
  jobs: Record<string, number>;
  directories: Record<string, number>;
}

export async function expectNothingLostNothingTwice(
  system: LocalSystem,
  jobIds: readonly string[],
): Promise<InvariantReport> {
  const { rows: jobs } = await system.db.query<{ id: string; status: string }>(
    'SELECT id, status FROM jobs WHERE id = ANY($1::uuid[])',
    [jobIds],
  );
  expect(jobs.map((j) => j.id).sort(), 'every job is still there').toEqual([...jobIds].sort());
  const open = jobs.filter((j) => !TERMINAL_JOB_STATUSES.includes(j.status as never));
  expect(open, 'every job has ended').toEqual([]);

  const { rows: ledger } = await system.db.query<{ directory_id: string; status: string; name: string }>(
    `SELECT s.directory_id, s.status, c.name FROM submissions s
     JOIN jobs j ON j.id = s.job_id JOIN customers c ON c.id = j.customer_id
     WHERE s.job_id = ANY($1::uuid[])`,
    [jobIds],
  );
  const unsettled = ledger.filter((r) => r.status === 'prepared' || r.status === 'submitting');
  expect(unsettled, 'every ledger row has settled').toEqual([]);

  const twice = Object.entries(system.fixtures.counts()).flatMap(([site, byName]) =>
    Object.entries(byName)
      .filter(([, n]) => n > 1)
      .map(([name, n]) => `${site}: ${name} × ${n}`),
  );
  expect(twice, 'no site received a business twice').toEqual([]);

  const phantom = ledger
    .filter((r) => r.status === 'submitted')
    .filter((r) => system.fixtures.site(r.directory_id).countsByName()[r.name] !== 1)
    .map((r) => `${r.directory_id}: ${r.name}`);
  expect(phantom, "every 'submitted' row was received by its site").toEqual([]);

  const tally = (values: string[]) =>
    values.reduce<Record<string, number>>((acc, v) => {
      acc[v] = (acc[v] ?? 0) + 1;
      return acc;
    }, {});
  return { jobs: tally(jobs.map((j) => j.status)), directories: tally(ledger.map((r) => r.status)) };
}
