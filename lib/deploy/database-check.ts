/**
 * The preflight's CheckDatabase port on the runtime's own database check (functions/shared/database-check.ts):
 * it connects the way the functions do (the same TLS rules, the stage's CA when it names one), and reports
 * the server, what TLS verified, and the sql/ migrations the next deploy will apply. A failure comes back
 * with what to change, and for a TLS failure the certificate the server presented.
 */
import { checkDatabase as check } from '#shared/database-check';
import type { NamedCa } from '#shared/database-tls';
import type { CheckDatabase } from './preflight.ts';

export const checkDatabase: CheckDatabase = async (connectionString, ca?: NamedCa) => {
  const result = await check({ connectionString, ...(ca ? { ca } : {}) });
  if (!result.ok) {
    const cert = result.certificate;
    return {
      ok: false,
      detail: `${result.problem}${cert ? ` (the server presented ${cert.subject}, issued by ${cert.issuer})` : ''}`,
      fix: result.fix,
    };
  }
  const { target, tls, migrations } = result;
  const where = `${target.host}:${target.port}/${target.database}`;
  const verified = tls.inUse
    ? `TLS ${tls.protocol ?? ''}, certificate verified against ${target.trust}${
        tls.certificate ? ` (${tls.certificate.daysLeft} days left)` : ''
      }`
    : 'no TLS (a server on this machine)';
  const pending =
    migrations.pending.length === 0
      ? 'no migration pending'
      : `${migrations.pending.length} migration(s) the deploy will apply: ${migrations.pending.join(', ')}`;
  const odd = [
    ...(migrations.changed.length > 0
      ? [`changed after they were applied: ${migrations.changed.join(', ')}`]
      : []),
    ...(migrations.unknown.length > 0
      ? [`applied but not in this release: ${migrations.unknown.join(', ')}`]
      : []),
  ];
  if (migrations.changed.length > 0) {
    return {
      ok: false,
      detail: `PostgreSQL ${result.serverVersion} at ${where}; ${odd.join('; ')}: the migrate trigger would refuse them`,
      fix: 'restore those sql/ files as they were applied, and put the change in a new migration',
    };
  }
  return {
    ok: true,
    detail: `PostgreSQL ${result.serverVersion} at ${where}, ${verified}; ${pending}${odd.length > 0 ? `; ${odd.join('; ')}` : ''}`,
  };
};
