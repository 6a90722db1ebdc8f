/**
 * HTTP load: evenly paced (open loop) for a given rate, or autocannon as fast as answers come, keeping every
 * response time (ms, float) for exact percentiles.
 */
import { Agent, request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import { type Summary, summarize } from './stats.ts';

export interface LoadRun {
  latency: Summary;
  requests: number;
  /** Responses per status code. */
  statuses: Record<string, number>;
  non2xx: number;
  errors: number;
  seconds: number;
  perMinute: number;
}

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  /** Origin (and default path) of every request. */
  url: string;
  /** Requests each connection sends in turn, over and over; omitted: GET `url`. */
  requests?: LoadRequest[];
  /** Requests per second across all connections (omit for saturation: as fast as answers come). */
  ratePerSecond?: number;
  seconds: number;
  connections?: number;
}

export async function load(options: LoadOptions): Promise<LoadRun> {
  const samples: number[] = [];
  const instance = autocannon({
    url: options.url,
    ...(options.requests
      ? {
          requests: options.requests.map((r) => ({
            ...r,
            headers: { 'content-type': 'application/json', ...r.headers },
          })),
        }
      : {}),
    connections: options.connections ?? 10,
    duration: options.seconds,
    ...(options.ratePerSecond ? { overallRate: options.ratePerSecond } : {}),
    timeout: 10,
  });
  instance.on('response', (_client, _status, _bytes, ms) => samples.push(ms));
  const result = await instance;
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
  );
  return {
    latency: summarize(samples),
    requests: samples.length,
    statuses,
    non2xx: result.non2xx,
    errors: result.errors,
    seconds: result.duration,
    perMinute: (samples.length / result.duration) * 60,
  };
}

/**
 * Evenly paced, open-loop load: request i is sent at start + i / rate, whether or not earlier ones have
 * been answered, and its latency counts from that scheduled moment (so a slow server cannot hide its
 * queueing by slowing the client down). autocannon's rate option sends each connection's quota at the
 * start of every second instead, i.e. a burst of `rate` simultaneous requests once a second.
 */
export async function paced(options: LoadOptions & { ratePerSecond: number }): Promise<LoadRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const base = new URL(options.url);
  const requests: LoadRequest[] = options.requests ?? [{ method: 'GET', path: base.pathname }];
  const total = Math.round(options.ratePerSecond * options.seconds);
  const gapMs = 1_000 / options.ratePerSecond;
  const samples: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * gapMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const r = requests[i % requests.length] as LoadRequest;
    inFlight.push(
      new Promise<void>((resolve) => {
        const req = httpRequest(
          {
            host: base.hostname,
            port: base.port,
            path: r.path,
            method: r.method,
            agent,
            headers: {
              'content-type': 'application/json',
              ...(r.body !== undefined ? { 'content-length': Buffer.byteLength(r.body) } : {}),
              ...r.headers,
            },
            timeout: 10_000,
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              samples.push(performance.now() - due);
              const code = String(res.statusCode);
              statuses[code] = (statuses[code] ?? 0) + 1;
              resolve();
            });
          },
        );
        req.on('error', () => {
          errors += 1;
          resolve();
        });
        req.end(r.body);
      }),
    );
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - start) / 1_000;
  agent.destroy();
  const non2xx = Object.entries(statuses)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((n, [, c]) => n + c, 0);
  return {
    latency: summarize(samples),
    requests: samples.length,
    statuses,
    non2xx,
    errors,
    seconds,
    perMinute: (samples.length / seconds) * 60,
  };
}
