/** The listings panel in the browser (panels/lifecycle.ts has its markup and figures). */
import type { LifecycleFigures } from '../panels/lifecycle.ts';
import { el, fill, row, set, time } from './dom.ts';

export function renderLifecycle(f: LifecycleFigures): void {
  for (const [state, n] of Object.entries(f.byState)) set(`listings.${state}`, n);
  set('listings.dueNow', f.dueNow);
  set('listings.entering', f.entering);
  set('listings.next', f.nextCheckAt ? new Date(f.nextCheckAt).toLocaleString() : 'none waiting');
  fill(
    'listings.recent',
    f.recent.map((e) =>
      row([
        el('code', e.jobId.slice(0, 8)),
        e.directoryId,
        el('span', `${e.from ?? 'submitted'} → ${e.to}`, `lc-${e.to}`),
        time(e.at),
      ]),
    ),
    'no listing has changed yet',
    4,
  );
  const mail = Object.entries(f.mail);
  set(
    'listings.mail',
    mail.length > 0 ? mail.map(([outcome, n]) => `${outcome} ${n}`).join(' · ') : 'none yet',
  );
  fill(
    'listings.proofs',
    f.proofs.map((p) =>
      row([
        el('code', p.jobId.slice(0, 8)),
        p.directoryId,
        `attempt ${p.attempt}`,
        `HTTP ${p.httpStatus ?? '-'} · ${p.matched ?? 'no indicator'}`,
        p.form,
        p.result,
        time(p.capturedAt),
      ]),
    ),
    'no proof yet',
    7,
  );
}
