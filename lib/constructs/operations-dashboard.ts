/**
 * OperationsDashboard: one CloudWatch dashboard with what an operator checks first. Queues: depth and
 * oldest message age per tier, DLQ depth. Work: submissions by outcome, job duration p50/p95, worker
 * concurrency. Health: Lambda error rate per function, API latency, 4xx, 5xx and 429. Then every alarm.
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { DASHBOARD, METRIC_NAMES, SERVICE } from '#policy';
import { SUBMISSION_STATUSES } from '#shared/submission-ledger';
import { API_429_METRIC } from './formfleet-api.ts';
import type { BuiltFunction } from './function-fleet.ts';
import type { TierQueues } from './priority-queues.ts';

/** Outcomes a ledger row can settle in: the statuses after 'prepared' and 'submitting'. */
export const SUBMISSION_OUTCOMES = SUBMISSION_STATUSES.filter((s) => s !== 'prepared' && s !== 'submitting');

export interface OperationsDashboardProps {
  readonly dashboardName: string;
  readonly tiers: readonly TierQueues[];
  readonly functions: readonly BuiltFunction[];
  /** @default no API widgets */
  readonly apiStage?: apigw.Stage;
  /** The API stage name, the dimension of the 429 metric. */
  readonly apiStageName?: string;
  readonly alarms: readonly cloudwatch.IAlarm[];
}

export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const period = Duration.seconds(DASHBOARD.periodSeconds);
    const max = { period, statistic: cloudwatch.Stats.MAXIMUM };
    const sum = { period, statistic: cloudwatch.Stats.SUM };
    const graph = (
      title: string,
      left: cloudwatch.IMetric[],
      extra: Partial<cloudwatch.GraphWidgetProps> = {},
    ) => new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, period, ...extra });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(DASHBOARD.defaultRangeHours),
    });

    this.dashboard.addWidgets(
      graph(
        'Queue depth per tier',
        props.tiers.map((t) =>
          t.queue.metricApproximateNumberOfMessagesVisible({ ...max, label: t.tier.name }),
        ),
      ),
      graph(
        'Oldest message age per tier (s)',
        props.tiers.map((t) => t.queue.metricApproximateAgeOfOldestMessage({ ...max, label: t.tier.name })),
      ),
      graph(
        'DLQ depth per tier',
        props.tiers.map((t) =>
          t.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ ...max, label: `${t.tier.name} DLQ` }),
        ),
      ),
    );

    const workers = props.functions.filter((f) => f.spec.kind === 'worker');
    if (workers.length > 0) {
      const workerMetric = (component: string, metricName: string, options: cloudwatch.MetricOptions) =>
        new cloudwatch.Metric({
          namespace: SERVICE.metricsNamespace,
          metricName,
          dimensionsMap: { service: SERVICE.name, component },
          ...options,
        });
      this.dashboard.addWidgets(
        graph(
          'Submissions by outcome',
          workers.flatMap(({ spec }) =>
            SUBMISSION_OUTCOMES.map((status) =>
              workerMetric(spec.name, `${METRIC_NAMES.submissionPrefix}${status}`, { ...sum, label: status }),
            ),
          ),
          { stacked: true },
        ),
        graph(
          'Job duration p50 / p95 (ms)',
          workers.flatMap(({ spec }) =>
            ['p50', 'p95'].map((statistic) =>
              workerMetric(spec.name, METRIC_NAMES.jobDuration, { period, statistic, label: statistic }),
            ),
          ),
        ),
        graph('Worker concurrency', [
          ...workers.map(({ spec, fn }) =>
            fn.metric('ConcurrentExecutions', { ...max, label: `${spec.name} concurrent executions` }),
          ),
          ...props.tiers.map((t) =>
            t.queue.metric('ApproximateNumberOfMessagesNotVisible', {
              ...max,
              label: `${t.tier.name} in flight`,
            }),
          ),
        ]),
      );
    }

    const health: cloudwatch.IWidget[] = [
      graph(
        'Lambda error rate (%)',
        props.functions.map(
          ({ spec, fn }, i) =>
            new cloudwatch.MathExpression({
              expression: `IF(invocations${i} > 0, 100 * errors${i} / invocations${i}, 0)`,
              usingMetrics: {
                [`errors${i}`]: fn.metricErrors(sum),
                [`invocations${i}`]: fn.metricInvocations(sum),
              },
              period,
              label: spec.name,
            }),
        ),
        { leftYAxis: { min: 0, max: 100 } },
      ),
    ];
    if (props.apiStage) {
      const stage = props.apiStage;
      health.push(
        graph(
          'API latency (ms)',
          ['p50', 'p95', 'p99'].map((statistic) =>
            stage.metricLatency({ period, statistic, label: statistic }),
          ),
        ),
        graph('API 4xx, 5xx and 429', [
          stage.metricClientError({ ...sum, label: '4xx' }),
          stage.metricServerError({ ...sum, label: '5xx' }),
          new cloudwatch.Metric({
            namespace: SERVICE.metricsNamespace,
            metricName: API_429_METRIC,
            dimensionsMap: { stage: props.apiStageName ?? stage.stageName },
            ...sum,
            label: '429',
          }),
        ]),
      );
    }
    this.dashboard.addWidgets(...health);
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 8 }),
    );
  }
}
