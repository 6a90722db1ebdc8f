/**
 * E-mail verification handled by the system (issue 13 item 4), end to end on one machine with real parts:
 * the local runtime (real Postgres, moto S3 for the records bucket, real Chromium behind the network guard),
 * the SMTP stand-in for SES receiving (smtp-server), and fixture directories that verify by e-mail and send
 * their mail with Nodemailer. Counted at the far end: the fixture site's own log of /confirm visits.
 *
 *   - a job's directory that verifies by e-mail is given the job's alias, not the customer's address; the
 *     site's mail comes back through SMTP → S3 → mail-inbound, whose visit confirms it: pending_verification
 *     → under_review, with job events, while the job's other directory is untouched;
 *   - a mail that comes before the worker recorded the submission (the directory mails at the click) is
 *     tried again until the row waits for it, then confirms it;
 *   - bad mail to a pending row (another host's link, no matching link, a stranger's mail, a huge one, a
 *     malformed one) and mail to an unknown alias are refused with their reason, their links never visited,
 *     the row still pending; the genuine mail after them still confirms it.
 */
import { createTransport, type Transporter } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERIFY_SENDER, VERIFY_SUBJECT, verifyingSite } from '#local/fixtures/mail-sites';
import { simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { DEMO_CUSTOMERS } from '#local/seed';
import { MAIL } from '#policy';
import { runOpsRecorded } from '#test/cli';
import { postLocalJob } from '#test/local-jobs';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { FAST_WORKER_ENV } from '#test/worker-jobs';

const SILENT = 'silent-verifying-site';
/** Mails at the click, 1.5 s before its result page answers: the mail comes before the submission is recorded. */
const QUICK = 'quick-mailing-site';

let t: TestDatabase;
let system: LocalSystem;
let mailer: Transporter;
let silent: ReturnType<typeof verifyingSite>;

beforeAll(async () => {
  t = await testDatabase('mail_local', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('mail')}-`,
    fixtures: ({ smtp }) => {
      silent = verifyingSite({ smtp, id: SILENT, sendMail: false });
      return [
        verifyingSite({ smtp }),
        silent,
        verifyingSite({ smtp, id: QUICK, mailFirstByMs: 1_500 }),
        simpleForm,
      ];
    },
    schedules: { timers: false },
    env: FAST_WORKER_ENV,
  });
  mailer = createTransport({
    host: system.smtp.host,
    port: system.smtp.port,
    secure: false,
    ignoreTLS: true,
  });
});
afterAll(async () => {
  mailer?.close();
  await system?.stop();
  await t?.close();
});

interface Result {
  directoryId: string;
  status: string;
  lifecycle: string | null;
}

const postJob = (customerId: string, directoryIds: string[]) =>
  postLocalJob(system, customerId, directoryIds);

async function results(id: string): Promise<{ status: string; results: Result[] }> {
  const res = await fetch(`${system.url}/v1/jobs/${id}`, { headers: { 'x-api-key': system.keys.client } });
  return (await res.json()) as { status: string; results: Result[] };
}

const lifecycleOf = async (id: string, directoryId: string) =>
  (await results(id)).results.find((r) => r.directoryId === directoryId)?.lifecycle;

const confirmVisits = (siteId: string) =>
  system.fixtures.site(siteId).requests.filter((r) => r.path.startsWith('/confirm')).length;

interface MailRow {
  outcome: string;
  reason: string | null;
  visited: boolean;
  job_id: string | null;
  directory_id: string | null;
  detail: string;
}

/** Sends a mail through the SMTP stand-in, waits for mail-inbound, and returns its inbound_mail row. */
async function deliver(message: Parameters<Transporter['sendMail']>[0]): Promise<MailRow> {
  const info = await mailer.sendMail(message);
  const id = /queued as (\w+)/.exec(String(info.response))?.[1];
  expect(id, String(info.response)).toBeDefined();
  await system.smtp.idle();
  const { rows } = await system.db.query<MailRow>(
    'SELECT outcome, reason, visited, job_id, directory_id, detail FROM inbound_mail WHERE message_id = $1',
    [id],
  );
  expect(rows).toHaveLength(1);
  return rows[0] as MailRow;
}

async function aliasOf(jobId: string, directoryId: string): Promise<string> {
  const { rows } = await system.db.query<{ alias: string }>(
    'SELECT alias FROM mail_aliases WHERE job_id = $1 AND directory_id = $2',
    [jobId, directoryId],
  );
  return `${MAIL.aliasPrefix}${rows[0]?.alias}@${system.smtp.domain}`;
}

describe('e-mail verification, locally', () => {
  it('types the job’s alias, receives the directory’s mail, visits its link and confirms the listing', async () => {
    const customer = DEMO_CUSTOMERS[0] as (typeof DEMO_CUSTOMERS)[number];
    const id = await postJob(customer.id, ['verifying-site', 'simple-form']);
    await eventually('the job to complete', async () =>
      (await results(id)).status === 'completed' ? true : undefined,
    );
    // The directory got the alias, not the customer's own address.
    const typed = system.fixtures.site('verifying-site').submissions[0]?.fields.email ?? '';
    expect(typed).toBe(await aliasOf(id, 'verifying-site'));
    expect(typed).not.toBe(customer.email);
    expect(typed).toMatch(new RegExp(`^v-[a-z2-7]{26}@${system.smtp.domain.replace(/\./g, '\\.')}$`));

    // Its mail came back through SMTP → S3 → mail-inbound, which visited the link once and confirmed it.
    await eventually(
      'the listing to be confirmed',
      async () => ((await lifecycleOf(id, 'verifying-site')) === 'under_review' ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(confirmVisits('verifying-site')).toBe(1);
    expect(system.fixtures.site('verifying-site').variant).toBeDefined();
    const { rows: mails } = await system.db.query<MailRow>(
      'SELECT outcome, reason, visited, job_id, directory_id, detail FROM inbound_mail WHERE job_id = $1',
      [id],
    );
    expect(mails).toEqual([
      expect.objectContaining({
        outcome: 'confirmed',
        reason: null,
        visited: true,
        directory_id: 'verifying-site',
      }),
    ]);
    const { rows: events } = await system.db.query<{
      type: string;
      detail: { to?: string; directoryId?: string };
    }>(
      `SELECT type, detail FROM job_events WHERE job_id = $1 AND (type LIKE 'listing.%' OR type LIKE 'mail.%') ORDER BY id`,
      [id],
    );
    const verifying = events.filter((e) => e.detail.directoryId === 'verifying-site').map((e) => e.type);
    expect(verifying).toEqual(['listing.pending_verification', 'listing.under_review', 'mail.confirmed']);
    // The job's other directory entered as it always did, untouched by the mail.
    expect(await lifecycleOf(id, 'simple-form')).toBe('under_review');
    expect(system.metrics.get('mail-inbound.Mail_confirmed')).toBe(1);

    // npm run ops -- jobs show: the listings (the confirmed one under review) and each click's proof, its
    // screenshots as links that open.
    const shown = await runOpsRecorded(['jobs', 'show', id], {
      FORMFLEET_API_URL: system.url,
      FORMFLEET_ADMIN_KEY: system.keys.admin,
    });
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(/^verifying-site\s+under_review\s/m);
    expect(shown.out).toMatch(/^proofs$/m);
    for (const directory of ['verifying-site', 'simple-form']) {
      expect(shown.out).toMatch(
        new RegExp(
          `^${directory}  attempt 1  \\S+ \\S+  HTTP 200  success\\[0\\]  http://127\\.0\\.0\\.1:\\d+/`,
          'm',
        ),
      );
    }
    const links = [...shown.out.matchAll(/^ {2}(?:form|result) +(http\S+)$/gm)].map((m) => m[1] as string);
    expect(links).toHaveLength(4);
    const shot = await fetch(links[0] as string);
    expect(shot.status).toBe(200);
    expect(shot.headers.get('content-type')).toBe('image/jpeg');
  });

  it('refuses bad mail with its reason and never follows its link; the genuine mail still confirms', async () => {
    const customer = DEMO_CUSTOMERS[1] as (typeof DEMO_CUSTOMERS)[number];
    const id = await postJob(customer.id, [SILENT, 'simple-form']);
    await eventually('the job to complete', async () =>
      (await results(id)).status === 'completed' ? true : undefined,
    );
    expect(await lifecycleOf(id, SILENT)).toBe('pending_verification');
    const to = await aliasOf(id, SILENT);
    const [token] = [...silent.state.tokens.keys()];
    const origin = system.fixtures.site(SILENT).origin;
    const link = `${origin}/confirm?token=${token}`;
    const port = new URL(origin).port;
    const from = VERIFY_SENDER;
    const subject = VERIFY_SUBJECT;

    const refused: Array<[string, Parameters<Transporter['sendMail']>[0], string]> = [
      // The right token, on a host the definition does not allow (the same site under another name).
      [
        'link_host',
        { from, to, subject, html: `<a href="http://localhost:${port}/confirm?token=${token}">confirm</a>` },
        'localhost',
      ],
      ['no_link', { from, to, subject, text: `Confirm at ${origin}/unsubscribe` }, ''],
      ['not_verification', { from: 'someone@elsewhere.test', to, subject: 'Hello', text: link }, ''],
      ['too_large', { from, to, subject, text: `${link}\n${'x'.repeat(MAIL.maxBytes + 1_000)}` }, ''],
      [
        'malformed',
        { envelope: { from: 'x@elsewhere.test', to: [to] }, raw: `\u0000\u0001 ${link} not a mail at all` },
        '',
      ],
    ];
    for (const [reason, message, host] of refused) {
      const row = await deliver(message);
      expect({ reason, row }).toMatchObject({
        reason,
        row: { outcome: 'refused', reason, visited: false, job_id: id, directory_id: SILENT },
      });
      if (host) expect(row.detail).toContain(host);
    }
    // A stranger's alias on our domain: refused before the mail is read, tied to no job.
    const stranger = await deliver({
      from,
      to: `${MAIL.aliasPrefix}${'a'.repeat(26)}@${system.smtp.domain}`,
      subject,
      text: link,
    });
    expect(stranger).toMatchObject({
      outcome: 'refused',
      reason: 'unknown_alias',
      visited: false,
      job_id: null,
    });
    // Mail for another domain is not even accepted (as SES answers for a domain it does not receive).
    await expect(
      mailer.sendMail({ from, to: 'someone@elsewhere.test', subject, text: link }),
    ).rejects.toThrow(/550/);

    // Nothing was visited at the far end, nothing moved, and the job's other row is as it was.
    expect(confirmVisits(SILENT)).toBe(0);
    expect(system.fixtures.site(SILENT).requests.some((r) => r.path.startsWith('/confirm'))).toBe(false);
    expect(await lifecycleOf(id, SILENT)).toBe('pending_verification');
    expect(await lifecycleOf(id, 'simple-form')).toBe('under_review');
    const { rows: refusedEvents } = await system.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM job_events WHERE job_id = $1 AND type = 'mail.refused'`,
      [id],
    );
    expect(refusedEvents[0]?.n).toBe(refused.length);

    // The genuine mail still confirms it: one visit.
    const good = await deliver({
      from: `"Directory" <${from}>`,
      to,
      subject,
      html: `<p><a href="${link}">confirm</a></p>`,
    });
    expect(good).toMatchObject({ outcome: 'confirmed', visited: true });
    expect(confirmVisits(SILENT)).toBe(1);
    expect(await lifecycleOf(id, SILENT)).toBe('under_review');
    // A second mail for it finds nothing pending: refused, not visited again.
    const again = await deliver({ from, to, subject, text: link });
    expect(again).toMatchObject({ outcome: 'refused', reason: 'not_pending', visited: false });
    expect(confirmVisits(SILENT)).toBe(1);

    // The dashboard's listings panel: the mail by outcome (both tests' mail) and the newest proofs.
    const data = (await (await fetch(`${system.url}/dashboard/data`)).json()) as {
      lifecycle: {
        mail: Record<string, number>;
        proofs: { jobId: string; directoryId: string; form: string; result: string; matched: string }[];
      };
    };
    expect(data.lifecycle.mail).toEqual({
      confirmed: 2,
      'refused:link_host': 1,
      'refused:no_link': 1,
      'refused:not_verification': 1,
      'refused:too_large': 1,
      'refused:malformed': 1,
      'refused:unknown_alias': 1,
      'refused:not_pending': 1,
    });
    expect(
      data.lifecycle.proofs
        .filter((p) => p.jobId === id)
        .map((p) => p.directoryId)
        .sort(),
    ).toEqual([SILENT, 'simple-form']);
    for (const p of data.lifecycle.proofs) expect(p).toMatchObject({ matched: 'success[0]' });
  });

  it('tries a mail that came before its submission was recorded again, and confirms it once the row waits', async () => {
    const customer = DEMO_CUSTOMERS[2] as (typeof DEMO_CUSTOMERS)[number];
    const id = await postJob(customer.id, [QUICK]);
    await eventually(
      'the early mail to confirm the listing',
      async () => ((await lifecycleOf(id, QUICK)) === 'under_review' ? true : undefined),
      { timeoutMs: 40_000, intervalMs: 200 },
    );
    await system.smtp.idle();
    const { rows } = await system.db.query<MailRow & { tries: number }>(
      'SELECT outcome, reason, visited, job_id, directory_id, detail, tries FROM inbound_mail WHERE job_id = $1',
      [id],
    );
    expect(rows).toHaveLength(1);
    // Refused as early at least once (the row was still being submitted), then confirmed: one visit.
    expect(rows[0]).toMatchObject({ outcome: 'confirmed', visited: true, directory_id: QUICK });
    expect(rows[0]?.tries).toBeGreaterThan(1);
    expect(confirmVisits(QUICK)).toBe(1);
    expect((await results(id)).status).toBe('completed');
  });
});
