/**
 * The stage configuration (dev, prod): read from cdk.json context once in bin/, validated here into a typed,
 * readonly object that stacks receive as props. Numbers of behaviour (tiers, limits, schedules) are not here:
 * they are in the policy module and the same for every stage. What differs per stage is where it runs, what
 * it connects to, and how long it keeps things.
 */
export interface StageConfig {
  readonly name: string;
  /** Prefix of every physical name, so stages can share an account. */
  readonly prefix: string;
  readonly env: { readonly account?: string; readonly region: string };
  /** ARN of the Secrets Manager secret holding the Postgres connection string (Supabase, RDS, ...). */
  readonly databaseSecretArn: string;
  /**
   * ARN of a secret with the direct (session) connection string that migrations use, when the main secret
   * names a transaction pooler (Supabase's port 6543, PgBouncer, RDS Proxy). @default the main secret
   */
  readonly databaseDirectSecretArn?: string;
  /**
   * ARN of a secret holding the CA certificate(s), PEM, that sign the Postgres server's certificate, when
   * they are not public or Amazon RDS CAs (Supabase's root, a private CA). Trusted instead of the defaults.
   * @default none: Node's CAs plus the Amazon RDS CAs Lambda ships
   */
  readonly databaseCaSecretArn?: string;
  /** ARN of the Secrets Manager secret holding the Slack incoming-webhook URL. */
  readonly slackWebhookSecretArn: string;
  /**
   * Keep stateful resources (queues, tables, the alerts topic and key) when the stack is deleted or they are
   * replaced, and protect the table from deletion. @default true (only a throwaway stage sets false)
   */
  readonly retainData: boolean;
  /** Retention of every log group (function logs, API access logs). @default 30 */
  readonly logRetentionDays: number;
  /**
   * Prefix of runbook links in alarm descriptions: `<runbookBaseUrl><name>.md`, e.g. a repository URL
   * ending in `/docs/runbooks/`. @default 'docs/runbooks/'
   */
  readonly runbookBaseUrl: string;
}

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const ARN = (service: string) => new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:.+$`);

/** Validates raw context; every problem is reported in one error. */
export function parseStageConfig(name: string, raw: unknown): StageConfig {
  const problems: string[] = [];
  const at = (field: string) => `formfleet:stages.${name}.${field}`;
  if (typeof raw !== 'object' || raw === null) {
    throw new Error(`${at('')} is missing from cdk.json context (known stages are keys of formfleet:stages)`);
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.prefix !== 'string' || !/^[a-z][a-z0-9-]{0,20}-$/.test(r.prefix)) {
    problems.push(`${at('prefix')} must be lowercase, end with "-" and be at most 22 characters`);
  }
  if (typeof r.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(r.region)) {
    problems.push(`${at('region')} must be an AWS region such as us-east-1`);
  }
  if (r.account !== undefined && (typeof r.account !== 'string' || !/^\d{12}$/.test(r.account))) {
    problems.push(`${at('account')} must be a 12-digit account id when given`);
  }
  if (typeof r.databaseSecretArn !== 'string' || !ARN('secretsmanager').test(r.databaseSecretArn)) {
    problems.push(`${at('databaseSecretArn')} must be a Secrets Manager secret ARN`);
  }
  for (const field of ['databaseDirectSecretArn', 'databaseCaSecretArn'] as const) {
    const value = r[field];
    if (value !== undefined && (typeof value !== 'string' || !ARN('secretsmanager').test(value))) {
      problems.push(`${at(field)} must be a Secrets Manager secret ARN when given`);
    }
  }
  if (typeof r.slackWebhookSecretArn !== 'string' || !ARN('secretsmanager').test(r.slackWebhookSecretArn)) {
    problems.push(`${at('slackWebhookSecretArn')} must be a Secrets Manager secret ARN`);
  }
  if (r.retainData !== undefined && typeof r.retainData !== 'boolean') {
    problems.push(`${at('retainData')} must be true or false when given`);
  }
  if (
    r.logRetentionDays !== undefined &&
    !(LOG_RETENTION_DAYS as readonly unknown[]).includes(r.logRetentionDays)
  ) {
    problems.push(`${at('logRetentionDays')} must be one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }
  if (
    r.runbookBaseUrl !== undefined &&
    (typeof r.runbookBaseUrl !== 'string' || !r.runbookBaseUrl.endsWith('/'))
  ) {
    problems.push(`${at('runbookBaseUrl')} must be a URL or path ending in "/" when given`);
  }
  if (problems.length > 0) throw new Error(`invalid stage config:\n  ${problems.join('\n  ')}`);
  return {
    name,
    prefix: r.prefix as string,
    env: { region: r.region as string, ...(r.account ? { account: r.account as string } : {}) },
    databaseSecretArn: r.databaseSecretArn as string,
    ...(r.databaseDirectSecretArn ? { databaseDirectSecretArn: r.databaseDirectSecretArn as string } : {}),
    ...(r.databaseCaSecretArn ? { databaseCaSecretArn: r.databaseCaSecretArn as string } : {}),
    slackWebhookSecretArn: r.slackWebhookSecretArn as string,
    retainData: (r.retainData as boolean | undefined) ?? true,
    logRetentionDays: (r.logRetentionDays as number | undefined) ?? 30,
    runbookBaseUrl: (r.runbookBaseUrl as string | undefined) ?? 'docs/runbooks/',
  };
}
