/**
 * One attempt: POST the body to the endpoint with its signature headers, connected to the address the
 * destination check admitted (node's `lookup` hook answers with exactly that address, so nothing resolves the
 * name again between check and connection; TLS still verifies the certificate against the name). The attempt
 * is abandoned after WEBHOOKS.timeoutMs, redirects are not followed (a 3xx is a failure), and at most
 * WEBHOOKS.responseExcerptChars of the answer are read: the receiver is a third party.
 * Written by hand on node:http(s): fetch takes no connect-time address.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { WEBHOOKS } from '#policy';

export interface AttemptResult {
  /** The receiver's status, or null when no answer came. */
  status: number | null;
  /** Why it failed, when it did (undefined for a 2xx). */
  error?: string;
  /** The start of the answer's body (control characters replaced). */
  response: string;
  durationMs: number;
}

export const delivered = (r: Pick<AttemptResult, 'status'>) =>
  r.status !== null && r.status >= 200 && r.status < 300;

/** A receiver's text as it may be stored and shown: no NUL or other control characters, bounded. */
export function excerpt(bytes: Buffer, max: number = WEBHOOKS.responseExcerptChars): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point.
  const clean = text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** A lookup that answers every name with the one admitted address. */
function pinnedLookup(address: string): LookupFunction {
  const family = isIP(address);
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [
        { address, family },
      ]);
    } else callback(null, address, family);
  };
}

export interface PostOptions {
  url: URL;
  /** The admitted address to connect to. */
  address: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs?: number;
}

export function postSigned(options: PostOptions): Promise<AttemptResult> {
  const timeoutMs = options.timeoutMs ?? WEBHOOKS.timeoutMs;
  const started = Date.now();
  const max = WEBHOOKS.responseExcerptChars * 4;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Omit<AttemptResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, durationMs: Date.now() - started });
    };
    const https = options.url.protocol === 'https:';
    const request: RequestOptions = {
      method: 'POST',
      host: options.url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: options.url.port || (https ? 443 : 80),
      path: `${options.url.pathname}${options.url.search}`,
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(options.body)),
        'user-agent': 'formfleet-webhooks/1',
        ...options.headers,
      },
      lookup: pinnedLookup(options.address),
      // A fresh connection per attempt: a pooled one could have been made to an address no longer admitted.
      agent: false,
    };
    const req = (https ? httpsRequest : httpRequest)(request, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        const status = res.statusCode ?? null;
        const text = excerpt(Buffer.concat(chunks));
        finish({
          status,
          response: text,
          ...(status !== null && status >= 200 && status < 300 ? {} : { error: statusError(status) }),
        });
        res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= max) done();
      });
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    const timer = setTimeout(() => {
      finish({ status: null, response: '', error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish({ status: null, response: '', error: connectionError(err) });
    });
    req.end(options.body);
  });
}

function statusError(status: number | null): string {
  if (status === null) return 'no status';
  if (status >= 300 && status < 400) return `answered ${status}: redirects are not followed (update the URL)`;
  return `answered ${status}`;
}

function connectionError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return err.code?.startsWith('ERR_TLS') ||
        err.code?.includes('CERT') ||
        err.code === 'DEPTH_ZERO_SELF_SIGNED_CERT'
        ? `TLS: ${err.code}`
        : `connection failed (${err.code ?? err.name})`;
  }
}
