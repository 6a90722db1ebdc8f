/**
 * A throwaway PKI made with the openssl CLI, for the TLS Postgres tests: a CA, a server certificate it signs
 * for 127.0.0.1 and localhost, an expired one, one for another host name, and a second, unrelated CA (the
 * "wrong CA" a client may be given).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ServerCertificate } from '#local/services/postgres';

const run = promisify(execFile);

export interface TestPki {
  readonly dir: string;
  /** The CA that signs every server certificate below (PEM file). */
  readonly caFile: string;
  /** A CA that signs nothing here. */
  readonly otherCaFile: string;
  /** For IP 127.0.0.1 and DNS localhost, valid for 30 days. */
  readonly server: ServerCertificate;
  /** For 127.0.0.1 and localhost, but expired yesterday. */
  readonly expired: ServerCertificate;
  /** Valid, but only for db.example.test. */
  readonly mismatched: ServerCertificate;
  remove(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

/** A new RSA key `<name>.key`, and with it `out`: a self-signed certificate (`extra` -x509 ...) or a request. */
const newKey = (dir: string, name: string, out: string, subject: string, extra: string[]) =>
  openssl(
    [
      'req',
      ...extra,
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      out,
      '-subj',
      subject,
    ],
    dir,
  );

async function makeCa(dir: string, name: string, cn: string): Promise<string> {
  await newKey(dir, name, `${name}.crt`, `/CN=${cn}`, ['-x509', '-days', '3650']);
  return join(dir, `${name}.crt`);
}

async function makeServer(dir: string, name: string, sans: string, days: number): Promise<ServerCertificate> {
  await writeFile(
    join(dir, `${name}.ext`),
    `subjectAltName=${sans}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
  );
  await newKey(dir, name, `${name}.csr`, `/CN=${name}`, []);
  // A negative -days gives a notAfter in the past: an expired certificate.
  await openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      `${name}.crt`,
      '-days',
      String(days),
      '-extfile',
      `${name}.ext`,
    ]),
    dir,
  );
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'formfleet-pki-'));
  const caFile = await makeCa(dir, 'ca', 'formfleet test CA');
  const otherCaFile = await makeCa(dir, 'other-ca', 'some other CA');
  // One after another: they share the CA's serial file.
  const server = await makeServer(dir, 'server', 'IP:127.0.0.1,DNS:localhost', 30);
  const expired = await makeServer(dir, 'expired', 'IP:127.0.0.1,DNS:localhost', -1);
  const mismatched = await makeServer(dir, 'mismatched', 'DNS:db.example.test', 30);
  return {
    dir,
    caFile,
    otherCaFile,
    server,
    expired,
    mismatched,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
