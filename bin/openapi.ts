/** `npm run openapi`: writes docs/openapi.json from the route table, contracts and schemas. */
import { writeFileSync } from 'node:fs';
import { buildOpenApiDocument } from '#functions/api/openapi';

const target = new URL('../docs/openapi.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
