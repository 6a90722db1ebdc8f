/**
 * OperationalAlarms: every CloudWatch alarm formfleet raises, each publishing ALARM and OK to the alerts
 * topic (the Slack notifier formats CloudWatch's state-change messages). An alarm's id and name state its
 * condition; its description carries the one-line rationale and the runbook link. Thresholds come from
 * policy ALARMS; the rationale for each number is beside it there and repeated in the description here.
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ALARMS, METRIC_NAMES, SERVICE } from '#policy';
import type { BuiltFunction } from './function-fleet.ts';
import type { TierQueues } from './priority-queues.ts';

/** CloudWatch allows at most this many metrics in one alarm's math expression. */
const MAX_ALARM_METRICS = 10;

export interface OperationalAlarmsProps {
  /** Prefix of every alarm name, e.g. `formfleet-dev`. */
  readonly alarmPrefix: string;
  /** Runbook links are `<runbookBaseUrl><runbook>.md`. */
  readonly runbookBaseUrl: string;
  readonly topic: sns.ITopic;
  readonly tiers: readonly TierQueues[];
  readonly functions: readonly BuiltFunction[];
  /** Reserved concurrency by function name: those functions are throttled on purpose. @default {} */
  readonly reserved?: Readonly<Record<string, number>>;
  /** Each tier's maximum concurrency, by tier name (for the rationale). @default the tier list's */
  readonly tierConcurrency?: Readonly<Record<string, number>>;
  /** The API stage; no API alarms without one. @default none */
  readonly apiStage?: apigw.Stage;
  /** Alerts no subscriber could take. */
  readonly undeliveredAlerts: sqs.IQueue;
  /** Webhook wakes whose drain kept failing. @default none (no alarm) */
  readonly webhookDeadLetters?: sqs.IQueue;
  /** Scheduled runs that failed or could not be delivered. */
  readonly scheduleFailures: sqs.IQueue;
}

interface AlarmSpec {
  /** The condition, stated: "P1 DLQ visible > 0". Becomes the construct id and the alarm name. */
  readonly condition: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly comparison?: cloudwatch.ComparisonOperator;
  readonly periods: number;
  /** Why this threshold, in one line. */
  readonly rationale: string;
  /** docs/runbooks/<runbook>.md */
  readonly runbook: string;
}

/** Heartbeats are emitted by the worker with Powertools' dimensions: service and component. */
export function heartbeatMetric(component: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: SERVICE.metricsNamespace,
    metricName: METRIC_NAMES.workerHeartbeat,
    dimensionsMap: { service: SERVICE.name, component },
    statistic: cloudwatch.Stats.SUM,
    period,
  });
}

export class OperationalAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: OperationalAlarmsProps,
  ) {
    super(scope, id);
    const minute = Duration.seconds(ALARMS.periodSeconds);
    const maxOf = { period: minute, statistic: cloudwatch.Stats.MAXIMUM };

    for (const { tier, queue, deadLetterQueue } of props.tiers) {
      this.raise({
        condition: `${tier.name} DLQ visible > ${ALARMS.dlqVisibleAbove}`,
        metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible(maxOf),
        threshold: ALARMS.dlqVisibleAbove,
        periods: ALARMS.dlqMinutes,
        rationale: `A message in the ${tier.name} dead-letter queue is a job that failed ${tier.name} processing repeatedly; a person must look. No data (an idle queue) is not breaching.`,
        runbook: 'dlq-not-empty',
      });
      this.raise({
        condition: `${tier.name} queue depth > ${ALARMS.queueDepthAbove} for ${ALARMS.queueDepthMinutes} min`,
        metric: queue.metricApproximateNumberOfMessagesVisible(maxOf),
        threshold: ALARMS.queueDepthAbove,
        periods: ALARMS.queueDepthMinutes,
        rationale: `More than ${ALARMS.queueDepthAbove} ${tier.name} jobs waiting for ${ALARMS.queueDepthMinutes} minutes is far more than its concurrency (${props.tierConcurrency?.[tier.name] ?? tier.maxConcurrency}) drains soon: work is piling up.`,
        runbook: 'queue-backlog',
      });
    }

    const window = (minutes: number) => Duration.minutes(minutes);
    for (const { spec, fn } of props.functions) {
      const ratePeriod = window(ALARMS.errorRateMinutes);
      // A trigger runs once per deploy: a rate or a throttle means nothing there, an error everything.
      const perDeploy = spec.kind === 'trigger';
      if (!perDeploy) {
        this.raise({
          condition: `${spec.name} error rate > ${ALARMS.errorRatePercentAbove} %`,
          metric: new cloudwatch.MathExpression({
            expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
            usingMetrics: {
              errors: fn.metricErrors({ period: ratePeriod, statistic: cloudwatch.Stats.SUM }),
              invocations: fn.metricInvocations({ period: ratePeriod, statistic: cloudwatch.Stats.SUM }),
            },
            period: ratePeriod,
            label: `${spec.name} error rate (%)`,
          }),
          threshold: ALARMS.errorRatePercentAbove,
          periods: 1,
          rationale: `More than ${ALARMS.errorRatePercentAbove} % of ${spec.name} invocations failing over ${ALARMS.errorRateMinutes} minutes is a broken function, not bad luck.`,
          runbook: 'function-errors',
        });
      }
      if (spec.kind !== 'api') {
        this.raise({
          condition: `${spec.name} errors > ${ALARMS.backgroundErrorsAbove}`,
          metric: fn.metricErrors({ period: minute, statistic: cloudwatch.Stats.SUM }),
          threshold: ALARMS.backgroundErrorsAbove,
          periods: ALARMS.backgroundErrorsMinutes,
          rationale: `${spec.name} runs with no caller to see its failure (a ${spec.kind} function), so any error is reported here.`,
          runbook: 'function-errors',
        });
      }
      if (props.reserved?.[spec.name] === undefined && !perDeploy) {
        this.raise({
          condition: `${spec.name} throttles > ${ALARMS.throttlesAbove}`,
          metric: fn.metricThrottles({
            period: window(ALARMS.throttlesMinutes),
            statistic: cloudwatch.Stats.SUM,
          }),
          threshold: ALARMS.throttlesAbove,
          periods: 1,
          rationale: `${spec.name} wanted to run and Lambda refused: the account's concurrency is exhausted. (Functions with reserved concurrency are throttled on purpose and not watched.)`,
          runbook: 'function-throttles',
        });
      }
    }

    for (const { spec } of props.functions.filter((f) => f.spec.kind === 'worker')) {
      this.raise({
        condition: `Work queued but no ${spec.name} heartbeat for ${ALARMS.heartbeatMissingMinutes} min`,
        metric: this.workWithoutHeartbeat(spec.name, minute),
        threshold: 1,
        comparison: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        periods: ALARMS.heartbeatMissingMinutes,
        rationale: `Jobs are waiting or in flight yet no worker heartbeat (every 20 s while a job runs) arrived for ${ALARMS.heartbeatMissingMinutes} minutes: workers are not running (mapping disabled, crash loop, permissions). Idle queues never fire it.`,
        runbook: 'worker-heartbeat-missing',
      });
    }

    if (props.apiStage) {
      const period = window(ALARMS.api5xxMinutes);
      this.raise({
        condition: `API 5xx > ${ALARMS.api5xxPercentAbove} % for ${ALARMS.api5xxMinutes} min`,
        metric: new cloudwatch.MathExpression({
          expression: 'IF(requests > 0, 100 * errors / requests, 0)',
          usingMetrics: {
            errors: props.apiStage.metricServerError({ period, statistic: cloudwatch.Stats.SUM }),
            requests: props.apiStage.metricCount({ period, statistic: cloudwatch.Stats.SUM }),
          },
          period,
          label: 'API 5xx (%)',
        }),
        threshold: ALARMS.api5xxPercentAbove,
        periods: 1,
        rationale: `More than ${ALARMS.api5xxPercentAbove} % of API requests failing on our side for ${ALARMS.api5xxMinutes} minutes is a broken handler or dependency (Postgres, SQS), not a blip.`,
        runbook: 'api-5xx',
      });
    }

    this.raise({
      condition: `Undelivered alerts > ${ALARMS.undeliveredAlertsAbove}`,
      metric: props.undeliveredAlerts.metricApproximateNumberOfMessagesVisible(maxOf),
      threshold: ALARMS.undeliveredAlertsAbove,
      periods: 1,
      rationale:
        'An alert reached no subscriber after every retry: the alerting path itself (Slack webhook, notifier) is broken, so other alerts may be lost too. E-mail subscribers of the topic still get this one.',
      runbook: 'alerts-undelivered',
    });
    if (props.webhookDeadLetters) {
      this.raise({
        condition: 'Webhook wakes dead-lettered > 0',
        metric: props.webhookDeadLetters.metricApproximateNumberOfMessagesVisible(maxOf),
        threshold: 0,
        periods: 1,
        rationale:
          'webhook-delivery failed the same wake five times: it cannot reach Postgres or KMS, so no endpoint is being delivered to. The events wait in the outbox; nothing is lost while this is fixed.',
        runbook: 'webhook-endpoint-disabled',
      });
    }
    this.raise({
      condition: `Failed scheduled runs > 0`,
      metric: props.scheduleFailures.metricApproximateNumberOfMessagesVisible(maxOf),
      threshold: 0,
      periods: 1,
      rationale:
        'A scheduled run (stale jobs, DLQ check...) failed or could not be delivered; recovery is not running while this repeats.',
      runbook: 'scheduled-run-failed',
    });
  }

  /**
   * 1 while any tier has messages waiting or in flight and the worker emitted no heartbeat, else 0.
   * FILL turns a silent metric into 0, which is exactly "no heartbeat".
   */
  private workWithoutHeartbeat(component: string, period: Duration): cloudwatch.MathExpression {
    const usingMetrics: Record<string, cloudwatch.IMetric> = { hb: heartbeatMetric(component, period) };
    const work: string[] = [];
    for (const [i, { queue }] of this.props.tiers.entries()) {
      const maxOf = { period, statistic: cloudwatch.Stats.MAXIMUM };
      usingMetrics[`visible${i}`] = queue.metricApproximateNumberOfMessagesVisible(maxOf);
      usingMetrics[`inflight${i}`] = queue.metric('ApproximateNumberOfMessagesNotVisible', maxOf);
      work.push(`FILL(visible${i}, 0)`, `FILL(inflight${i}, 0)`);
    }
    if (Object.keys(usingMetrics).length > MAX_ALARM_METRICS) {
      throw new Error(
        `the heartbeat alarm would need ${Object.keys(usingMetrics).length} metrics; CloudWatch allows ${MAX_ALARM_METRICS} (at most 4 tiers)`,
      );
    }
    return new cloudwatch.MathExpression({
      expression: `IF((${work.join(' + ')}) > 0 AND FILL(hb, 0) == 0, 1, 0)`,
      usingMetrics,
      period,
      label: `work queued without ${component} heartbeat`,
    });
  }

  private raise(spec: AlarmSpec): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, spec.condition, {
      alarmName: `${this.props.alarmPrefix}: ${spec.condition}`,
      alarmDescription: `${spec.rationale} Runbook: ${this.props.runbookBaseUrl}${spec.runbook}.md`,
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: spec.periods,
      datapointsToAlarm: spec.periods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const action = new actions.SnsAction(this.props.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.push(alarm);
    return alarm;
  }
}
