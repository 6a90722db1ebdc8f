/**
 * AlertsTopic: the SNS topic every alert goes through (CloudWatch alarms, the DLQ check, stale-job
 * recovery), encrypted with its own rotating KMS key, TLS only, and the queue where an alert ends up when
 * it cannot be delivered to a subscriber after every retry.
 *
 * Stateful, hence in the data stack: people and pagers subscribe to this topic outside CDK, and the
 * undelivered queue holds alerts nobody has seen yet.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUES } from '#policy';

export interface AlertsTopicProps {
  readonly topicName: string;
  /** Name of the queue that keeps alerts no subscriber could take. */
  readonly undeliveredQueueName: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class AlertsTopic extends Construct {
  readonly key: kms.Key;
  readonly topic: sns.Topic;
  /** SNS subscription dead-letter queue and Lambda on-failure destination of every alerts subscriber. */
  readonly undelivered: sqs.Queue;

  constructor(scope: Construct, id: string, props: AlertsTopicProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const { account, region, partition } = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: `Encrypts the ${props.topicName} SNS topic`,
      enableKeyRotation: true,
      removalPolicy,
    });
    // CloudWatch publishes alarm notifications into the encrypted topic, so it needs the data key. This is
    // AWS's documented statement, without conditions: a caller-account condition here is known to make
    // alarm notifications fail silently. The topic policy below limits publishing to this account's alarms.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: props.topicName,
      displayName: 'formfleet alerts',
      masterKey: this.key,
      enforceSSL: true,
    });
    this.topic.applyRemovalPolicy(removalPolicy);
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccountPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      }),
    );
    this.undelivered = new sqs.Queue(this, 'Undelivered', {
      queueName: props.undeliveredQueueName,
      retentionPeriod: Duration.seconds(QUEUES.dlqRetentionSeconds),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy,
    });
    const endOfTheLine =
      'This queue is itself the dead-letter destination of alert delivery (SNS subscription DLQ and Lambda on-failure destination); an alarm watches it.';
    Validations.of(this.undelivered).acknowledge({ id: 'AwsSolutions-SQS3', reason: endOfTheLine });
    Validations.of(this.undelivered).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason: endOfTheLine });
  }
}
