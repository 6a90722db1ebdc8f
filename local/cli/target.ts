/**
 * Which formfleet API a CLI talks to, and with which key: the flags (--api-url, --key), else the environment
 * (FORMFLEET_API_URL, FORMFLEET_ADMIN_KEY), else the system `npm start` is running (.formfleet/runtime.json).
 * So the same commands work against a deployed stage and against the laptop.
 */
import type { Env } from '#shared/env';
import { type RuntimeInfo, readRuntimeFile, runtimeFilePath, stateDir } from '../runtime-file.ts';
import { CliError, EXIT } from './io.ts';

export interface Target {
  url: string;
  key: string;
  /** Where the URL came from, for messages. */
  source: 'flags' | 'environment' | 'runtime file';
  /** The local system's runtime file, when that is what the target is. */
  runtime?: RuntimeInfo;
}

export interface TargetInput {
  apiUrl?: string | undefined;
  key?: string | undefined;
  env: Env;
}

/** The target, or undefined when nothing names one (the demo then starts a system of its own). */
export async function findTarget(input: TargetInput): Promise<Target | undefined> {
  const url = input.apiUrl ?? input.env.FORMFLEET_API_URL;
  const key = input.key ?? input.env.FORMFLEET_ADMIN_KEY;
  const dir = stateDir(input.env);
  const file = await readRuntimeFile(dir);
  const runtime = file.kind === 'running' ? file.info : undefined;
  if (url) {
    const sameAsLocal = runtime && runtime.url === url.replace(/\/+$/, '');
    const resolvedKey = key ?? (sameAsLocal ? runtime.keys.admin : undefined);
    if (!resolvedKey) {
      throw new CliError(
        `an API URL is set (${url}) but no admin key: set FORMFLEET_ADMIN_KEY or pass --key`,
        EXIT.usage,
      );
    }
    return {
      url,
      key: resolvedKey,
      source: input.apiUrl ? 'flags' : 'environment',
      ...(sameAsLocal ? { runtime } : {}),
    };
  }
  if (file.kind === 'unreadable')
    throw new CliError(`cannot use ${runtimeFilePath(dir)}: ${file.reason}`, EXIT.unavailable);
  if (!runtime) return undefined;
  return { url: runtime.url, key: key ?? runtime.keys.admin, source: 'runtime file', runtime };
}

/** The target, or a clear error saying how to get one. */
export async function requireTarget(input: TargetInput): Promise<Target> {
  const target = await findTarget(input);
  if (target) return target;
  throw new CliError(
    'no formfleet API to talk to: start one with `npm start` (its .formfleet/runtime.json is found ' +
      'automatically), or set FORMFLEET_API_URL and FORMFLEET_ADMIN_KEY (or pass --api-url and --key)',
    EXIT.unavailable,
  );
}
