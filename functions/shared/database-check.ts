/**
 * The database check a deploy's preflight runs (and anyone can run against a connection string): connects
 * the way the functions do (the same TLS rules, #shared/database-tls), within a time bound, and reports the
 * server version, whether TLS is in use and what it verified, the role's statement timeout, and which
 * sql/ migrations the database has not applied yet. A connection that fails comes back as a failure with
 * what to change, and for a TLS failure the certificate the server presented (read without verifying it,
 * before any credentials are sent), so "which CA signed this?" has an answer on the spot.
 */
import { connect as netConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { DATABASE } from '#policy';
import type { DatabaseTarget, NamedCa } from '#shared/database-tls';
import { DatabaseConnectionError, explainConnectError, pgConnectionConfig } from '#shared/database-tls';
import { connectSession, type Session } from '#shared/db';
import { ConfigError } from '#shared/env';
import { DEFAULT_MIGRATIONS_DIR, type MigrationStatus, migrationStatus } from '#shared/migrate';

export interface DatabaseCheckOptions {
  connectionString: string;
  /** The stage's CA (DATABASE_CA_FILE / the databaseCaSecretArn secret), when it names one. */
  ca?: NamedCa | undefined;
  /** Bound on the whole check. @default DATABASE.connectTimeoutMs x 2 */
  timeoutMs?: number;
  /** @default the repository's sql/ */
  migrationsDir?: string;
}

/** A certificate in words. */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  /** Names it is valid for (subjectAltName). */
  names: string;
  validTo: string;
  daysLeft: number;
}

export interface DatabaseCheckReport {
  ok: true;
  target: DatabaseTarget;
  serverVersion: string;
  tls: {
    inUse: boolean;
    /** The certificate chains to a trusted CA (always true when TLS is in use: unverified is refused). */
    chainVerified: boolean;
    /** The certificate names the host (false only for sslmode=verify-ca). */
    hostnameVerified: boolean;
    protocol: string | null;
    cipher: string | null;
    certificate: CertificateSummary | null;
  };
  /** The role's statement_timeout, which bounds single statements outside a transaction ('0' = none). */
  statementTimeout: string;
  migrations: MigrationStatus;
  elapsedMs: number;
}

export interface DatabaseCheckFailure {
  ok: false;
  /** What failed, in one sentence (no password). */
  problem: string;
  /** What to change. */
  fix: string;
  kind: DatabaseConnectionError['kind'] | 'config';
  /** For a TLS failure: the certificate the server presented. */
  certificate?: CertificateSummary;
  elapsedMs: number;
}

export type DatabaseCheck = DatabaseCheckReport | DatabaseCheckFailure;

export async function checkDatabase(options: DatabaseCheckOptions): Promise<DatabaseCheck> {
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const timeoutMs = options.timeoutMs ?? DATABASE.connectTimeoutMs * 2;
  let target: DatabaseTarget;
  try {
    target = pgConnectionConfig(options.connectionString, { ca: options.ca }).target;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return {
      ok: false,
      kind: 'config',
      problem: err.message,
      fix: 'Correct the connection string',
      elapsedMs: elapsed(),
    };
  }
  let session: Session | undefined;
  try {
    return await withDeadline(timeoutMs, target, async () => {
      session = await connectSession({
        connectionString: options.connectionString,
        ca: options.ca,
        applicationName: 'formfleet-check',
        connectionTimeoutMillis: timeoutMs,
      });
      const { rows } = await session.query<{ version: string; timeout: string }>(
        `SELECT current_setting('server_version') AS version, current_setting('statement_timeout') AS timeout`,
      );
      const migrations = await migrationStatus(session, options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
      const socket = tlsSocketOf(session);
      return {
        ok: true as const,
        target,
        serverVersion: rows[0]?.version ?? 'unknown',
        tls: {
          inUse: socket !== undefined,
          chainVerified: socket?.authorized === true,
          hostnameVerified: socket?.authorized === true && target.sslmode === 'verify-full',
          protocol: socket?.getProtocol() ?? null,
          cipher: socket?.getCipher()?.name ?? null,
          certificate: socket ? summarize(socket) : null,
        },
        statementTimeout: rows[0]?.timeout ?? 'unknown',
        migrations,
        elapsedMs: elapsed(),
      };
    });
  } catch (err) {
    const failure = explainConnectError(err, target, timeoutMs);
    const certificate = failure.kind.startsWith('tls-')
      ? await peekServerCertificate(target.host, target.port, Math.min(timeoutMs, 3_000)).catch(
          () => undefined,
        )
      : undefined;
    return {
      ok: false,
      kind: failure.kind,
      problem: failure.problem,
      fix: failure.fix,
      ...(certificate ? { certificate } : {}),
      elapsedMs: elapsed(),
    };
  } finally {
    await (session as Session | undefined)?.end().catch(() => {});
  }
}

/** Runs `fn`, or fails with a timeout DatabaseConnectionError once `ms` have passed. */
async function withDeadline<T>(ms: number, target: DatabaseTarget, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DatabaseConnectionError(
            'timeout',
            target,
            `the check did not finish within ${ms} ms`,
            'Check that the server answers queries (it may be overloaded or locked)',
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([fn(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** node-postgres keeps the connection's socket on `connection.stream`: a TLSSocket when TLS is on. */
function tlsSocketOf(session: Session): TLSSocket | undefined {
  const stream = (session.connection as unknown as { stream?: unknown }).stream;
  return stream && typeof (stream as TLSSocket).getPeerCertificate === 'function'
    ? (stream as TLSSocket)
    : undefined;
}

function summarize(socket: TLSSocket): CertificateSummary | null {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return null;
  const name = (dn: Record<string, unknown> | undefined) =>
    dn
      ? Object.entries(dn)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(', ')
      : '';
  const validTo = new Date(cert.valid_to);
  return {
    subject: name(cert.subject as unknown as Record<string, unknown>),
    issuer: name(cert.issuer as unknown as Record<string, unknown>),
    names: cert.subjectaltname ?? '',
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - Date.now()) / 86_400_000),
  };
}

/**
 * The certificate a Postgres server presents, read without verifying it: the SSLRequest, the TLS handshake,
 * and nothing more (no startup message, no credentials). Only for describing a failure.
 */
export function peekServerCertificate(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<CertificateSummary> {
  return new Promise((resolve, reject) => {
    const raw = netConnect({ host, port });
    const timer = setTimeout(() => {
      raw.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      raw.destroy();
      reject(err);
    };
    raw.once('error', fail);
    raw.once('connect', () => {
      // SSLRequest: length 8, code 80877103.
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(80877103, 4);
      raw.write(request);
    });
    raw.once('data', (answer) => {
      if (answer.toString('latin1', 0, 1) !== 'S') return fail(new Error('the server does not offer TLS'));
      const socket = tlsConnect({
        socket: raw,
        rejectUnauthorized: false,
        ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }),
      });
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        const summary = summarize(socket);
        clearTimeout(timer);
        socket.destroy();
        if (summary) resolve(summary);
        else reject(new Error('the server presented no certificate'));
      });
    });
  });
}
