/**
 * Environment parsing for handlers: read once at cold start, fail fast and name every missing variable
 * in one error (never `process.env.X || ''`).
 */
export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Returns the named variables, or throws one ConfigError listing all that are missing or empty. */
export function requireEnv<const K extends string>(env: Env, names: readonly K[]): Record<K, string> {
  const missing = names.filter((n) => !env[n]);
  if (missing.length > 0) {
    throw new ConfigError(`missing required environment variable(s): ${missing.join(', ')}`);
  }
  return Object.fromEntries(names.map((n) => [n, env[n] as string])) as Record<K, string>;
}

/** An optional integer variable with a default; a present but non-integer value is an error. */
export function intEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new ConfigError(`${name} must be an integer (got "${raw}")`);
  return n;
}

/** A comma-separated list variable (empty entries dropped). */
export function listEnv(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
