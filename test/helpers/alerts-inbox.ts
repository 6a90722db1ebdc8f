/**
 * An alerts topic on moto with an SQS queue subscribed to it, so a test can read back exactly which alerts a
 * handler published (through the real SNS adapter), without the notifier in between.
 */
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Alert } from '#functions/alerts/alert';
import { motoEnv } from '#local/services/moto';
import { awsClientConfig } from '#shared/aws';

export interface AlertsInbox {
  topicArn: string;
  /** Every alert published since the last drain, oldest first (and removes them from the inbox). */
  drain(): Promise<Alert[]>;
  close(): void;
}

export async function alertsInbox(endpoint: string, name: string): Promise<AlertsInbox> {
  const config = awsClientConfig(motoEnv(endpoint));
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  const topic = await sns.send(new CreateTopicCommand({ Name: `${name}-alerts` }));
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-alerts-inbox` }));
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn: topic.TopicArn,
      Protocol: 'sqs',
      Endpoint: attrs.Attributes?.QueueArn,
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );
  return {
    topicArn: topic.TopicArn as string,
    async drain() {
      const alerts: Alert[] = [];
      for (;;) {
        const res = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.QueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
          }),
        );
        const messages = res.Messages ?? [];
        if (messages.length === 0) break;
        for (const m of messages) alerts.push(JSON.parse(m.Body ?? '{}') as Alert);
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queue.QueueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
      return alerts.sort((a, b) => a.time.localeCompare(b.time));
    },
    close() {
      sns.destroy();
      sqs.destroy();
    },
  };
}
