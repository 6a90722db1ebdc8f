/**
 * The stateful stack: what outlives a deploy (the tier queues and their dead-letter queues, the
 * idempotency table, the alerts topic with its key and undelivered-alerts queue, the API's usage plans and
 * admin key, into which the keys API puts client keys, the records bucket of proof screenshots) and references to the secrets that live outside CDK. Kept apart from the stateless app stack so functions, the API and alarms
 * can be replaced freely without touching state. Every resource here is retained on delete unless the
 * stage says `retainData: false`.
 */
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { AlertsTopic } from './constructs/alerts-topic.ts';
import { ApiKeyPlans } from './constructs/api-key-plans.ts';
import { IdempotencyTable } from './constructs/idempotency-table.ts';
import { PriorityQueues } from './constructs/priority-queues.ts';
import { RecordsBucket } from './constructs/records-bucket.ts';
import { inboundMailNames, type StageConfig } from './stage-config.ts';

export interface DataStackProps extends StackProps {
  readonly stage: StageConfig;
}

export class DataStack extends Stack {
  readonly queues: PriorityQueues;
  readonly idempotency: IdempotencyTable;
  readonly alerts: AlertsTopic;
  /** The API's usage plans and admin key (client keys are made into the plans at run time). */
  readonly keyPlans: ApiKeyPlans;
  /** The records bucket: proof screenshots under evidence/ (and other records by prefix, policy RECORDS). */
  readonly records: RecordsBucket;
  /** The Postgres connection string (an existing Postgres: Supabase, RDS...), by ARN from the stage config. */
  readonly databaseSecret: secretsmanager.ISecret;
  /** The direct (session) connection string for migrations, when the stage names one. */
  readonly databaseDirectSecret: secretsmanager.ISecret | undefined;
  /** The CA bundle (PEM) that signs the Postgres server's certificate, when the stage names one. */
  readonly databaseCaSecret: secretsmanager.ISecret | undefined;
  readonly slackWebhookSecret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const removalPolicy = stage.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.queues = new PriorityQueues(this, 'PriorityQueues', { prefix: stage.prefix, removalPolicy });
    this.idempotency = new IdempotencyTable(this, 'Idempotency', {
      tableName: `${stage.prefix}formfleet-idempotency`,
      removalPolicy,
    });
    this.alerts = new AlertsTopic(this, 'Alerts', {
      topicName: `${stage.prefix}formfleet-alerts`,
      undeliveredQueueName: `${stage.prefix}formfleet-alerts-undelivered`,
      removalPolicy,
    });
    this.keyPlans = new ApiKeyPlans(this, 'ApiKeys', { prefix: stage.prefix, removalPolicy });
    this.records = new RecordsBucket(this, 'Records', { exportPrefix: stage.prefix, removalPolicy });
    if (stage.inboundMailDomain) {
      const names = inboundMailNames(stage.prefix);
      this.records.allowReceivedMail(names.ruleSet, names.rule);
    }
    this.databaseSecret = secretsmanager.Secret.fromSecretCompleteArn(
      this,
      'DatabaseSecret',
      stage.databaseSecretArn,
    );
    this.databaseDirectSecret = stage.databaseDirectSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(
          this,
          'DatabaseDirectSecret',
          stage.databaseDirectSecretArn,
        )
      : undefined;
    this.databaseCaSecret = stage.databaseCaSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'DatabaseCaSecret', stage.databaseCaSecretArn)
      : undefined;
    this.slackWebhookSecret = secretsmanager.Secret.fromSecretCompleteArn(
      this,
      'SlackWebhookSecret',
      stage.slackWebhookSecretArn,
    );
    new CfnOutput(this, 'AlertsTopicArn', {
      value: this.alerts.topic.topicArn,
      description: 'Subscribe e-mail or a pager here to receive every alert beside Slack',
    });
  }
}
