/**
 * The HTTP client of the ops CLI and the demo: formfleet's public API with an API key, against the local
 * gateway or a deployed stage alike (a stage URL keeps its path, e.g. https://abc.execute-api.../prod).
 * Every failure becomes a CliError a person can act on: the API's own error message and field details for a
 * 4xx, "check the key" for API Gateway's 403, "is it running?" when nothing answers. A 429 is waited out
 * (Retry-After) a few times before it counts as a failure.
 */
import { CliError, EXIT } from './io.ts';

export interface ApiClientOptions {
  baseUrl: string;
  key: string;
  /** Per request. @default 30 s (API Gateway's own limit is 29 s) */
  timeoutMs?: number;
  /** 429 answers waited out per request. @default 3 */
  rateLimitRetries?: number;
  /** Longest Retry-After honoured. @default 10 s */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Statuses that are answers, not failures (GET /v1/health answers 503 with its report). */
  accept?: readonly number[];
  /** Send the key (default true; the local dashboard data needs none). */
  keyed?: boolean;
}

interface ApiErrorBody {
  error?: {
    code?: string;
    message?: string;
    details?: { field: string; message: string }[];
    requestId?: string;
  };
  message?: string;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ApiClient {
  readonly baseUrl: string;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  url(path: string, query?: RequestOptions['query']): string {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  async request<T>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<{ status: number; body: T }> {
    const sleep = this.options.sleep ?? defaultSleep;
    const retries = this.options.rateLimitRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(method, path, options);
      const body = await readBody(res);
      if (res.ok || options.accept?.includes(res.status)) return { status: res.status, body: body as T };
      if (res.status === 429 && attempt < retries) {
        const after = Number(res.headers.get('retry-after'));
        await sleep(
          Math.min(
            this.options.maxRetryAfterMs ?? 10_000,
            Number.isFinite(after) && after > 0 ? after * 1000 : 1000,
          ),
        );
        continue;
      }
      throw this.failure(method, path, res.status, body);
    }
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.keyed !== false) headers['x-api-key'] = this.options.key;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(this.url(path, options.query), {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new CliError(
        `cannot reach the formfleet API at ${this.baseUrl} (${cause}): is \`npm start\` running? ` +
          'Otherwise set FORMFLEET_API_URL (or --api-url) to a running stage',
        EXIT.unavailable,
      );
    }
  }

  private failure(method: string, path: string, status: number, raw: unknown): CliError {
    const body = (raw ?? {}) as ApiErrorBody;
    const what = `${method} ${path}`;
    if (status === 403 && body.message === 'Forbidden') {
      return new CliError(
        `${what}: the API refused the key (403). Check FORMFLEET_ADMIN_KEY (or --key): ` +
          'ops commands need an admin key of this API',
        EXIT.unavailable,
      );
    }
    const message =
      body.error?.message ?? body.message ?? (typeof raw === 'string' && raw ? raw : 'no details');
    const details = (body.error?.details ?? []).map((d) => `\n  ${d.field}: ${d.message}`).join('');
    const code = body.error?.code ? ` ${body.error.code}` : '';
    const request = body.error?.requestId ? ` (request id ${body.error.requestId})` : '';
    return new CliError(
      `${what}: ${message} (HTTP ${status}${code})${request}${details}`,
      status >= 500 || status === 429 ? EXIT.unavailable : EXIT.failed,
    );
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text.slice(0, 500);
  }
}
