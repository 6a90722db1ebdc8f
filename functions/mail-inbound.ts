/** Lambda entry: inbound mail (SES receipt rule: stored in the records bucket, then this; Chromium). */
import { mailInboundDepsFromEnv } from './mail/deps.ts';
import { makeMailInboundHandler } from './mail/inbound.ts';

export const handler = makeMailInboundHandler(await mailInboundDepsFromEnv(process.env));
