/**
 * AWS SDK client configuration from a handler's environment. In Lambda the SDK's default chain applies
 * (region, role credentials). Locally the environment names moto through the standard AWS_ENDPOINT_URL, and
 * the dummy credentials beside it are passed explicitly, so several local environments can share a process.
 */
import type { Env } from '#shared/env';

export interface AwsClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  maxAttempts?: number;
}

export function awsClientConfig(env: Env): AwsClientConfig {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!env.AWS_ENDPOINT_URL) return region ? { region } : {};
  return {
    region: region ?? 'us-east-1',
    endpoint: env.AWS_ENDPOINT_URL,
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'testing',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'testing',
    },
  };
}
