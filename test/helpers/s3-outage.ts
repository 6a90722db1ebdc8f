/**
 * An S3 that can go down: a reverse proxy on loopback in front of moto, which the handlers reach as their S3
 * endpoint (AWS_ENDPOINT_URL_S3). Up, it passes every request through untouched; down, it answers every
 * request as S3 does in an outage (503 ServiceUnavailable, which the SDK retries and then gives up on), or
 * with `down('hang')` never answers at all (a request ends only by its client's timeout), and counts what it
 * refused. moto cannot refuse on demand; this is a real network fault, not a client mock.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface S3Outage {
  /** http://127.0.0.1:PORT: the S3 endpoint to give the handlers. */
  readonly url: string;
  down(how?: 'refuse' | 'hang'): void;
  up(): void;
  /** Requests refused while down, and passed through while up. */
  readonly refused: number;
  readonly passed: number;
  close(): Promise<void>;
}

const OUTAGE_BODY =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>' +
  '<Message>Service is unable to handle request.</Message><RequestId>outage</RequestId></Error>';

export async function s3Outage(motoEndpoint: string): Promise<S3Outage> {
  const target = new URL(motoEndpoint);
  let isDown: false | 'refuse' | 'hang' = false;
  let refused = 0;
  let passed = 0;
  const server: Server = createServer((req, res) => {
    if (isDown) {
      refused += 1;
      req.resume();
      if (isDown === 'hang') return;
      res.writeHead(503, { 'content-type': 'application/xml', 'content-length': OUTAGE_BODY.length });
      res.end(OUTAGE_BODY);
      return;
    }
    passed += 1;
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    down: (how = 'refuse') => {
      isDown = how;
    },
    up: () => {
      isDown = false;
    },
    get refused() {
      return refused;
    },
    get passed() {
      return passed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
