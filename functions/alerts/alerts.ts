/**
 * The Alerts port: how a handler tells people something. The SNS adapter publishes to the alerts topic
 * (ALERTS_TOPIC_ARN), which fans out to the Slack notifier (and to anything else subscribed: email, pager).
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { awsClientConfig } from '#shared/aws';
import { type Env, requireEnv } from '#shared/env';
import type { Alert } from './alert.ts';

export type { Alert } from './alert.ts';

export interface Alerts {
  publish(alert: Alert): Promise<void>;
}

/** SNS subjects are at most 100 printable ASCII characters. */
export function snsSubject(alert: Alert): string {
  const ascii = `[${alert.severity}] ${alert.title}`.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 99)}~`;
}

export class SnsAlerts implements Alerts {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(alert: Alert): Promise<void> {
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: snsSubject(alert),
        Message: JSON.stringify(alert),
        // Subscribers may filter on these (a pager subscription taking only critical alerts).
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: alert.kind },
          severity: { DataType: 'String', StringValue: alert.severity },
        },
      }),
    );
  }
}

export function alertsFromEnv(env: Env): SnsAlerts {
  const { ALERTS_TOPIC_ARN } = requireEnv(env, ['ALERTS_TOPIC_ARN']);
  return new SnsAlerts(new SNSClient(awsClientConfig(env)), ALERTS_TOPIC_ARN);
}
