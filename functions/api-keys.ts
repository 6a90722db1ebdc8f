/** Lambda entry: the keys routes (see functions/api/routes.ts). */
import { keysApiDepsFromEnv } from './api/deps.ts';
import { makeKeysApi } from './api/keys.ts';

export const handler = makeKeysApi(await keysApiDepsFromEnv(process.env));
