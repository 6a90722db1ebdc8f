/**
 * TLS for every Postgres connection formfleet makes (request pools, migrations, the preflight's database
 * check), one way: the connection string's libpq TLS parameters (sslmode, sslrootcert, sslcert, sslkey) are
 * read here, not by node-postgres, and become explicit Node TLS options.
 *
 * Why not leave them to node-postgres: pg 8 quietly treats sslmode=require, prefer and verify-ca as
 * verify-full, pg 9 will give them libpq's meaning (no certificate check), and a connection string's TLS
 * parameters replace an `ssl` object passed beside them. Here the meaning is fixed: formfleet connects with
 * verified TLS (verify-full; or verify-ca when the deployment names its CA), or without TLS when told so
 * (sslmode=disable) or when the server is on loopback. A mode that would connect unverified is refused with
 * a ConfigError saying what to write instead, so it fails at cold start, never silently.
 *
 * Trust: a CA the deployment names (the stage's CA from a secret or file, the connection string's
 * sslrootcert) replaces the defaults, as libpq's sslrootcert does. Otherwise Node's default store is used:
 * Mozilla's CAs plus NODE_EXTRA_CA_CERTS, which CDK points at Lambda's /var/runtime/ca-cert.pem, the bundle
 * with the Amazon RDS CAs (Node 20+ runtimes load it only when told to). No `ca` option is passed then:
 * an explicit `ca` makes Node ignore both.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '#shared/env';

export type SslMode = 'disable' | 'verify-ca' | 'verify-full';

/** Where a connection goes, without its password: for error messages and reports. */
export interface DatabaseTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly sslmode: SslMode;
  /** What the server's certificate is checked against, in words. */
  readonly trust: string;
}

/** A CA certificate bundle (PEM) named by the deployment, and where it came from (for messages). */
export interface NamedCa {
  readonly pem: string;
  readonly source: string;
}

export interface PgConnectionConfig {
  /** For node-postgres: the connection string without its TLS parameters, and the TLS options. */
  readonly config: { readonly connectionString: string; readonly ssl: false | ConnectionOptions };
  readonly target: DatabaseTarget;
}

/** Connection-string parameters this module reads and node-postgres must not see. */
const TLS_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'ssl', 'uselibpqcompat'];

const VERIFY_FULL_HINT =
  "write sslmode=verify-full: the Amazon RDS CAs are trusted in Lambda already; for Supabase or a private CA, name its root certificate in the stage's databaseCaSecretArn (DATABASE_CA_FILE locally) or with sslrootcert=<file>";

const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

/**
 * Reads the TLS meaning of `connectionString` (and the stage's CA, if any) into node-postgres options.
 * Throws ConfigError, never naming the password, for a string that would connect unverified.
 */
export function pgConnectionConfig(
  connectionString: string,
  options: { ca?: NamedCa } = {},
): PgConnectionConfig {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new ConfigError('the database connection string is not a postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(
      `the database connection string must start with postgres:// (got ${url.protocol}//)`,
    );
  }
  const params = url.searchParams;
  const socket = params.get('host')?.startsWith('/') ?? false;
  const host = params.get('host') ?? url.hostname.replace(/^\[(.*)\]$/, '$1');
  const user = decodeURIComponent(url.username) || params.get('user') || '(default user)';
  const base = {
    host,
    port: Number(url.port || params.get('port') || 5432),
    database: decodeURIComponent(url.pathname.slice(1)) || user,
    user,
  };
  const where = `${base.host}:${base.port}`;
  if (params.has('ssl')) {
    throw new ConfigError(
      `database ${where}: ssl=${params.get('ssl')} is node-postgres shorthand; ${VERIFY_FULL_HINT}`,
    );
  }
  const requested = params.get('sslmode');
  let sslmode: SslMode;
  if (requested === null) {
    if (!socket && !isLoopback(host)) {
      throw new ConfigError(
        `database ${where}: the connection string names no sslmode; ${VERIFY_FULL_HINT} (or sslmode=disable to send the password unencrypted, on a trusted network only)`,
      );
    }
    sslmode = 'disable';
  } else if (requested === 'disable' || requested === 'verify-ca' || requested === 'verify-full') {
    sslmode = requested;
  } else if (['allow', 'prefer', 'require', 'no-verify'].includes(requested)) {
    throw new ConfigError(
      `database ${where}: sslmode=${requested} does not verify the server's certificate (in libpq, and in node-postgres from version 9), and formfleet does not connect unverified; ${VERIFY_FULL_HINT}`,
    );
  } else {
    throw new ConfigError(
      `database ${where}: unknown sslmode=${requested} (formfleet accepts verify-full, verify-ca with a named CA, or disable)`,
    );
  }

  const named: NamedCa[] = [];
  if (options.ca) named.push(options.ca);
  const rootcert = params.get('sslrootcert');
  if (rootcert && rootcert !== 'system')
    named.push({ pem: readPem(rootcert, 'sslrootcert'), source: `sslrootcert ${rootcert}` });
  const certs = named.flatMap((ca) => certificatesIn(ca));
  if (sslmode === 'verify-ca' && certs.length === 0) {
    throw new ConfigError(
      `database ${where}: sslmode=verify-ca skips the host name check, which is safe only against a CA you name (any certificate a public CA issued would pass); name the CA, or write sslmode=verify-full`,
    );
  }
  const clientCert = params.get('sslcert');
  const clientKey = params.get('sslkey');
  if (Boolean(clientCert) !== Boolean(clientKey)) {
    throw new ConfigError(
      `database ${where}: sslcert and sslkey go together (a client certificate and its key)`,
    );
  }
  for (const name of TLS_PARAMS) params.delete(name);

  const trust =
    sslmode === 'disable'
      ? 'nothing (no TLS)'
      : certs.length > 0
        ? `the named CA (${named.map(describeCa).join('; ')})`
        : `Node's default CAs${process.env.NODE_EXTRA_CA_CERTS ? ` and NODE_EXTRA_CA_CERTS (${process.env.NODE_EXTRA_CA_CERTS})` : ' (NODE_EXTRA_CA_CERTS unset)'}`;
  const ssl: false | ConnectionOptions =
    sslmode === 'disable'
      ? false
      : {
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          ...(certs.length > 0 ? { ca: certs } : {}),
          ...(sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
          ...(clientCert && clientKey
            ? { cert: readPem(clientCert, 'sslcert'), key: readPem(clientKey, 'sslkey') }
            : {}),
        };
  return { config: { connectionString: url.toString(), ssl }, target: { ...base, sslmode, trust } };
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`${what} file ${path} cannot be read (${code})`);
  }
}

/** The certificates of a PEM bundle, each checked to parse; a bundle without one is a ConfigError. */
export function certificatesIn(ca: NamedCa): string[] {
  const certs = ca.pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certs.length === 0) {
    throw new ConfigError(`${ca.source} holds no PEM certificate (-----BEGIN CERTIFICATE----- ...)`);
  }
  for (const pem of certs) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new ConfigError(
        `${ca.source} holds a certificate that does not parse: ${(err as Error).message}`,
      );
    }
  }
  return certs;
}

/** "DATABASE_CA_FILE /x.pem: CN=Example Root CA, valid until 2035-01-01" (first certificate; count of more). */
function describeCa(ca: NamedCa): string {
  const certs = certificatesIn(ca);
  const first = new X509Certificate(certs[0] as string);
  const cn = first.subject.split('\n').find((l) => l.startsWith('CN=')) ?? first.subject.split('\n')[0];
  const more = certs.length > 1 ? ` and ${certs.length - 1} more` : '';
  return `${ca.source}: ${cn}, valid until ${new Date(first.validTo).toISOString().slice(0, 10)}${more}`;
}

export type ConnectionFailure =
  | 'tls-untrusted'
  | 'tls-expired'
  | 'tls-hostname'
  | 'tls-refused'
  | 'auth'
  | 'no-database'
  | 'no-slots'
  | 'timeout'
  | 'unreachable'
  | 'other';

/** Failures that configuration must fix; the others (an outage, a full server) may pass by themselves. */
const PERMANENT: readonly ConnectionFailure[] = [
  'tls-untrusted',
  'tls-expired',
  'tls-hostname',
  'tls-refused',
  'auth',
  'no-database',
];

/** A connection that could not be made, said in words with what to do about it (never the password). */
export class DatabaseConnectionError extends Error {
  override readonly name = 'DatabaseConnectionError';
  /** What failed, without the fix. */
  readonly problem: string;

  constructor(
    readonly kind: ConnectionFailure,
    readonly target: DatabaseTarget,
    readonly reason: string,
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    const problem = `cannot connect to Postgres at ${target.host}:${target.port}/${target.database} as ${target.user} (sslmode=${target.sslmode}): ${reason}`;
    super(`${problem}. ${fix}`, options);
    this.problem = problem;
  }

  /** True when waiting will not help: the configuration (certificates, credentials, names) must change. */
  get permanent(): boolean {
    return PERMANENT.includes(this.kind);
  }
}

const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
]);
const TIMEOUT_MESSAGES = [
  'timeout expired',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
];

/** Every error code and message along an error's cause chain. */
function chain(err: unknown): { codes: string[]; messages: string[]; names?: string } {
  const codes: string[] = [];
  const messages: string[] = [];
  let names: string | undefined;
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, message, cert, cause } = e as {
      code?: unknown;
      message?: unknown;
      cert?: { subjectaltname?: unknown };
      cause?: unknown;
    };
    if (typeof code === 'string') codes.push(code);
    if (typeof message === 'string') messages.push(message);
    // Node's host name check attaches the peer certificate.
    if (names === undefined && typeof cert?.subjectaltname === 'string') names = cert.subjectaltname;
    e = cause;
  }
  return { codes, messages, ...(names !== undefined ? { names } : {}) };
}

/** Turns whatever node-postgres or Node's TLS threw while connecting into a DatabaseConnectionError. */
export function explainConnectError(
  err: unknown,
  target: DatabaseTarget,
  timeoutMs: number,
): DatabaseConnectionError {
  if (err instanceof DatabaseConnectionError) return err;
  const { codes, messages, names } = chain(err);
  const has = (code: string) => codes.includes(code);
  const said = (text: string) => messages.some((m) => m.includes(text));
  const make = (kind: ConnectionFailure, what: string, fix: string) =>
    new DatabaseConnectionError(kind, target, what, fix, { cause: err });
  if (has('CERT_HAS_EXPIRED') || has('CERT_NOT_YET_VALID')) {
    return make(
      'tls-expired',
      has('CERT_HAS_EXPIRED')
        ? "the server's TLS certificate has expired"
        : "the server's TLS certificate is not valid yet (check the clocks)",
      'Renew the server certificate (RDS: move the instance to a current CA such as rds-ca-rsa2048-g1; a self-managed server: issue a new certificate)',
    );
  }
  if (has('ERR_TLS_CERT_ALTNAME_INVALID')) {
    return make(
      'tls-hostname',
      `the server's TLS certificate is not for ${target.host} (it names ${names ?? 'other hosts'})`,
      'Connect by a name the certificate lists: the endpoint shown by RDS or Supabase, not an IP address or a CNAME of your own',
    );
  }
  if (codes.some((c) => UNTRUSTED_CODES.has(c))) {
    return make(
      'tls-untrusted',
      `the server's TLS certificate does not chain to a trusted CA (${codes.find((c) => UNTRUSTED_CODES.has(c))}; trusted: ${target.trust})`,
      "RDS: the functions trust the RDS CAs through NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem (CDK sets it); elsewhere pass AWS's RDS bundle as DATABASE_CA_FILE. Supabase or a private CA: put its root certificate (PEM) in the secret the stage's databaseCaSecretArn names (DATABASE_CA_FILE locally)",
    );
  }
  if (said('does not support SSL')) {
    return make(
      'tls-refused',
      'the server does not offer TLS',
      'Turn TLS on at the server; only on a trusted network, write sslmode=disable instead',
    );
  }
  if (has('28P01') || has('28000')) {
    return make(
      'auth',
      `the server refused the login (${messages[0] ?? 'authentication failed'})`,
      'Check the user and password in the database secret, and that the server accepts this user over TLS from here',
    );
  }
  if (has('3D000')) {
    return make(
      'no-database',
      `the database does not exist (${messages[0]})`,
      'Check the database name in the connection string',
    );
  }
  if (has('53300') || said('too many clients') || said('remaining connection slots')) {
    return make(
      'no-slots',
      'the server has no free connection slot',
      'Put a transaction pooler in front or lower the pool sizes: see "Connections" in docs/infrastructure.md',
    );
  }
  if (TIMEOUT_MESSAGES.some(said)) {
    return make(
      'timeout',
      `no answer within ${timeoutMs} ms`,
      'Check the host and port, that the server is up, and that it accepts connections from here (security group, network restrictions)',
    );
  }
  if (codes.some((c) => UNREACHABLE_CODES.has(c)) || said('Connection terminated unexpectedly')) {
    return make(
      'unreachable',
      `the connection failed (${codes.find((c) => UNREACHABLE_CODES.has(c)) ?? messages[0]})`,
      'Check the host and port, and that the server is up and reachable from here',
    );
  }
  return make('other', messages[0] ?? String(err), 'See the cause for details');
}
