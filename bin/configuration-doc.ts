/**
 * `npm run docs:config`: writes docs/configuration.md from the environment catalog and the policy module
 * (local/configuration/reference.ts). `-- --check` only compares, exiting 1 when the file is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIGURATION_DOC, configurationReference } from '#local/configuration/reference';
import { PROJECT_ROOT } from '#local/services/python';

const path = join(PROJECT_ROOT, CONFIGURATION_DOC);
const generated = await configurationReference();
if (process.argv.includes('--check')) {
  const current = await readFile(path, 'utf8').catch(() => '');
  if (current !== generated) {
    process.stderr.write(`${CONFIGURATION_DOC} is stale: run npm run docs:config\n`);
    process.exit(1);
  }
} else {
  await writeFile(path, generated);
  process.stdout.write(`wrote ${CONFIGURATION_DOC}\n`);
}
