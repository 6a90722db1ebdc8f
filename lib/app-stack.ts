/**
 * The stateless stack: every function of the manifest with its triggers, schedules and subscriptions, the
 * REST API over the route table, the alarms and the dashboard. Everything here can be destroyed and
 * recreated from code; state lives in the data stack, whose resources arrive as props.
 */
import { Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RouteSpec } from '#functions/api/routes';
import { ROUTES } from '#functions/api/routes';
import { FUNCTIONS, type FunctionSpec } from '#functions/manifest';
import { FormfleetApi } from './constructs/formfleet-api.ts';
import { FunctionFleet } from './constructs/function-fleet.ts';
import { OperationalAlarms } from './constructs/operational-alarms.ts';
import { OperationsDashboard } from './constructs/operations-dashboard.ts';
import type { DataStack } from './data-stack.ts';
import { logRetentionOf } from './log-retention.ts';
import { inboundMailNames, type StageConfig } from './stage-config.ts';

export interface AppStackProps extends StackProps {
  readonly stage: StageConfig;
  /** The stateful resources. */
  readonly data: DataStack;
  /** @default FUNCTIONS (functions/manifest.ts) */
  readonly functions?: readonly FunctionSpec[];
  /** @default ROUTES (functions/api/routes.ts) */
  readonly routes?: readonly RouteSpec[];
}

export class AppStack extends Stack {
  readonly fleet: FunctionFleet;
  readonly api: FormfleetApi | undefined;
  readonly alarms: OperationalAlarms;
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const { stage, data } = props;
    const routes = props.routes ?? ROUTES;
    const logRetention = logRetentionOf(stage.logRetentionDays);
    // The usage plans of the data stack, imported by their fixed export names.
    const usagePlans = new Map(
      [...data.keyPlans.planExports].map(([name, exportName]) => [
        name,
        { usagePlanId: Fn.importValue(exportName), exportName },
      ]),
    );

    this.fleet = new FunctionFleet(this, 'Functions', {
      stageName: stage.name,
      prefix: stage.prefix,
      functions: props.functions ?? FUNCTIONS,
      resources: {
        queues: data.queues,
        idempotencyTable: data.idempotency.table,
        alerts: data.alerts,
        databaseSecret: data.databaseSecret,
        databaseDirectSecret: data.databaseDirectSecret,
        databaseCaSecret: data.databaseCaSecret,
        slackWebhookSecret: data.slackWebhookSecret,
        webhooks: { queue: data.webhooks.queue, secretsKey: data.webhooks.secretsKey },
        pagerDutyRoutingKeySecret: data.pagerDutyRoutingKeySecret,
        records: data.records.importInto(this, 'RecordsBucket'),
        ...(stage.inboundMailDomain
          ? { inboundMail: { domain: stage.inboundMailDomain, ...inboundMailNames(stage.prefix) } }
          : {}),
        apiKeys: {
          plans: usagePlans,
          adminKeyId: data.keyPlans.adminKey.keyId,
          namePrefix: `${stage.prefix}formfleet-client-`,
        },
      },
      logRetention,
      concurrency: stage.concurrency,
      worker: stage.worker,
    });

    if (routes.length > 0) {
      this.api = new FormfleetApi(this, 'Api', {
        prefix: stage.prefix,
        stageName: stage.name,
        routes,
        handlers: this.fleet.apiHandlers,
        usagePlans,
        logRetention,
      });
      for (const fn of this.fleet.apiHandlers.values()) fn.bindAdminApiKeys([data.keyPlans.adminKey.keyId]);
    }

    this.alarms = new OperationalAlarms(this, 'Alarms', {
      alarmPrefix: `formfleet-${stage.name}`,
      runbookBaseUrl: stage.runbookBaseUrl,
      topic: data.alerts.topic,
      tiers: data.queues.tiers,
      functions: this.fleet.functions,
      reserved: stage.concurrency.reserved,
      tierConcurrency: stage.concurrency.tiers,
      ...(this.api ? { apiStage: this.api.stage } : {}),
      undeliveredAlerts: data.alerts.undelivered,
      webhookDeadLetters: data.webhooks.deadLetterQueue,
      scheduleFailures: this.fleet.scheduleFailures,
    });
    this.dashboard = new OperationsDashboard(this, 'Dashboard', {
      dashboardName: `formfleet-${stage.name}`,
      tiers: data.queues.tiers,
      functions: this.fleet.functions,
      ...(this.api ? { apiStage: this.api.stage, apiStageName: stage.name } : {}),
      alarms: this.alarms.alarms,
    });
  }
}
