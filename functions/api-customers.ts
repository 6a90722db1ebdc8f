/** Lambda entry: /v1/customers routes. */
import { makeCustomersApi } from './api/customers.ts';
import { customersApiDepsFromEnv } from './api/deps.ts';

export const handler = makeCustomersApi(await customersApiDepsFromEnv(process.env));
