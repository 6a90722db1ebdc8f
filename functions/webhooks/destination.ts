/**
 * Where a webhook may be sent. Receivers are third parties, and the delivery function runs next to the Lambda
 * runtime API on loopback, the credentials endpoints on link-local addresses and whatever private network it
 * sees: in AWS an endpoint URL must be https and its name must not resolve to any address in BROWSER_NETWORK's
 * ranges (the same check and code as the worker's browser gate, #shared/destination-guard). The URL is checked
 * when the endpoint is created, and again at every attempt, where the address checked is the one connected
 * to, so a name that later resolves to 127.0.0.1 (DNS rebinding) is refused rather than reached.
 *
 * The local runtime sets WEBHOOK_ALLOW_LOOPBACK: http is allowed and loopback addresses (its receiver sink, the
 * tests' receivers) may be reached; private and link-local ones still may not. Lambda refuses the setting.
 */

import { WEBHOOKS } from '#policy';
import {
  type Admission,
  admitDestination,
  blockedKind,
  type CompiledRanges,
  compileRanges,
  POLICY_RANGES,
  type Resolver,
} from '#shared/destination-guard';
import { ConfigError, type Env } from '#shared/env';

export interface UrlPolicy {
  /** Locally: http and loopback addresses allowed. */
  readonly allowLoopback: boolean;
  /** Name resolution (tests answer for names of their own). @default dns.lookup, every address */
  readonly resolve?: Resolver;
}

export const DEPLOYED_URLS: UrlPolicy = { allowLoopback: false };

export function urlPolicyFromEnv(env: Env): UrlPolicy {
  const allowLoopback = env.WEBHOOK_ALLOW_LOOPBACK === 'true';
  if (allowLoopback && env.AWS_LAMBDA_FUNCTION_NAME) {
    throw new ConfigError(
      'WEBHOOK_ALLOW_LOOPBACK lets webhooks reach loopback and plain http, and is for the local runtime only; remove it from the function',
    );
  }
  if (
    env.WEBHOOK_ALLOW_LOOPBACK !== undefined &&
    env.WEBHOOK_ALLOW_LOOPBACK !== 'true' &&
    env.WEBHOOK_ALLOW_LOOPBACK !== 'false'
  ) {
    throw new ConfigError(
      `WEBHOOK_ALLOW_LOOPBACK must be true or false (got "${env.WEBHOOK_ALLOW_LOOPBACK}")`,
    );
  }
  return { allowLoopback };
}

/** Loopback as BROWSER_NETWORK names it (127.0.0.0/8 and ::1, IPv4-mapped forms included). */
const LOOPBACK: CompiledRanges = compileRanges({
  ipv4: POLICY_RANGES.ipv4.filter((r) => r.kind === 'loopback'),
  ipv6: POLICY_RANGES.ipv6.filter((r) => r.kind === 'loopback'),
});
const isLoopback = (address: string) => blockedKind(address, LOOPBACK) === 'loopback';

/** What is wrong with a URL's form (scheme, credentials, fragment, length), or undefined. */
export function urlFormProblem(raw: string, policy: UrlPolicy): string | undefined {
  if (raw.length > WEBHOOKS.maxUrlLength) return `is longer than ${WEBHOOKS.maxUrlLength} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  const schemes = policy.allowLoopback ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) return `must be ${schemes.map((s) => s.slice(0, -1)).join(' or ')}`;
  if (url.username || url.password)
    return 'must not carry a user name or password (the signature authenticates)';
  if (url.hash) return 'must not have a fragment';
  return undefined;
}

/** The address an attempt connects to, a refusal, or a name that does not resolve. */
export function admitUrl(url: URL, policy: UrlPolicy): Promise<Admission> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return admitDestination(url.hostname, port, {
    ...(policy.allowLoopback ? { permitted: isLoopback } : {}),
    ...(policy.resolve ? { resolve: policy.resolve } : {}),
  });
}

/**
 * The check when an endpoint is created: its form, and in AWS its name's addresses (locally the form only:
 * the local runtime may name anything it can resolve later). Undefined when it may be used.
 */
export async function endpointUrlProblem(raw: string, policy: UrlPolicy): Promise<string | undefined> {
  const form = urlFormProblem(raw, policy);
  if (form || policy.allowLoopback) return form;
  const admission = await admitUrl(new URL(raw), policy);
  if ('refused' in admission) return `is not a public address (${admission.refused})`;
  if ('failed' in admission) return `cannot be checked: ${admission.failed}`;
  return undefined;
}
