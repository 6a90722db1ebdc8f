/** Lambda entry: the directories routes (see functions/api/routes.ts). */
import { directoriesApiDepsFromEnv } from './api/deps.ts';
import { makeDirectoriesApi } from './api/directories.ts';

export const handler = makeDirectoriesApi(await directoriesApiDepsFromEnv(process.env));
