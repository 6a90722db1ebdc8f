/** Lambda entry: webhook delivery (the delivery queue's event source mapping; see functions/webhooks/delivery.ts). */
import { makeDeliveryHandler } from './webhooks/delivery.ts';
import { webhookDeliveryDepsFromEnv } from './webhooks/deps.ts';

export const handler = makeDeliveryHandler(await webhookDeliveryDepsFromEnv(process.env));
