/**
 * FunctionFleet: every Lambda of the function manifest, built generically. Each spec becomes a house
 * function (or the browser variant); its `needs` become environment variables with their least-privilege
 * grants; its `kind` decides how it is invoked: one SQS event source mapping per tier (worker), an
 * EventBridge schedule (scheduled), an SNS subscription with an on-failure destination (subscriber), or a
 * deploy-time trigger that runs before every other function is updated (trigger). API functions are
 * returned by route-table name for the API construct to route to. Adding a function to the manifest adds
 * it here without a CDK change.
 */
import { type CfnResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { CONSUMED_QUEUES, type FunctionSpec } from '#functions/manifest';
import { ASYNC_INVOKE, DATABASE, FUNCTION_DEFAULTS, QUEUES } from '#policy';
import { concurrencyProblems, type StageConcurrency, type StageWorker } from '../stage-config.ts';
import type { AlertsTopic } from './alerts-topic.ts';
import { BrowserFunction } from './browser-function.ts';
import { type ApiKeyBinding, HouseFunction, SendOnlyQueueDestination } from './house-function.ts';
import type { PriorityQueues } from './priority-queues.ts';
import type { RecordsBinding } from './records-bucket.ts';

/** The stateful resources functions bind to (from the data stack). */
export interface FleetResources {
  readonly queues: PriorityQueues;
  readonly idempotencyTable: { readonly tableName: string; readonly tableArn: string };
  readonly alerts: AlertsTopic;
  readonly databaseSecret: secretsmanager.ISecret;
  /** The migrations' direct (session) connection, if the stage names one apart from databaseSecret. */
  readonly databaseDirectSecret?: secretsmanager.ISecret | undefined;
  /** The CA that signs the Postgres server's certificate, if the stage names one. */
  readonly databaseCaSecret?: secretsmanager.ISecret | undefined;
  readonly slackWebhookSecret: secretsmanager.ISecret;
  /** The usage plans client keys are made in, the admin key (never touched), the keys' name prefix. */
  readonly apiKeys: ApiKeyBinding;
  /** Webhook delivery: the delivery queue and the key sealing signing secrets. */
  readonly webhooks: { readonly queue: sqs.IQueue; readonly secretsKey: kms.IKey };
  /** PagerDuty's routing key, when the stage names one (functions `onlyWith: 'pagerDuty'` are built then). */
  readonly pagerDutyRoutingKeySecret?: secretsmanager.ISecret | undefined;
  /** The records bucket (proof screenshots, by prefix). */
  readonly records: RecordsBinding;
  /**
   * The stage's inbound mail domain and its receipt rule names: mail-inbound is invoked by the rule, and
   * INBOUND_MAIL_DOMAIN is set on what `needs.inboundMail`. @default none: no receipt rule
   */
  readonly inboundMail?: { readonly domain: string; readonly ruleSet: string; readonly rule: string };
}

export interface FunctionFleetProps {
  /** Stage name: functions are named `formfleet-<stage>-<name>`. */
  readonly stageName: string;
  /** Physical name prefix of the fleet's own queues (the stage prefix). */
  readonly prefix: string;
  readonly functions: readonly FunctionSpec[];
  readonly resources: FleetResources;
  readonly logRetention: logs.RetentionDays;
  /** The tiers' maximum concurrency and the reservations (the stage's `concurrency`). */
  readonly concurrency: StageConcurrency;
  /** Memory and K (WORKER_DIRECTORIES_IN_FLIGHT) of every function of kind worker (the stage's `worker`). */
  readonly worker: StageWorker;
}

export interface BuiltFunction {
  readonly spec: FunctionSpec;
  readonly fn: HouseFunction;
}

const KINDS = ['api', 'worker', 'scheduled', 'subscriber', 'trigger', 'mail', 'consumer'] as const;
/** Every `needs` key that has a binding; a new need must get its `bind*` method before it can be used. */
const KNOWN_NEEDS: readonly (keyof FunctionSpec['needs'])[] = [
  'database',
  'jobQueues',
  'deadLetterQueues',
  'idempotencyTable',
  'alertsTopic',
  'slackWebhookSecret',
  'apiKeys',
  'webhookKey',
  'webhookQueue',
  'pagerDutyRoutingKey',
  'records',
  'inboundMail',
];
const TOPICS = ['alerts'];
/** The construct id aws-cdk-lib's Trigger gives its per-stack provider. */
const TRIGGER_PROVIDER_ID = 'AWSCDK.TriggerCustomResourceProviderCustomResourceProvider';

/** Every problem with the specs, in one list (a combined error names them all). */
export function validateFunctionSpecs(
  specs: readonly FunctionSpec[],
  resources: FleetResources,
  concurrency: StageConcurrency,
): string[] {
  const problems: string[] = [...concurrencyProblems(concurrency, specs).map((p) => `concurrency: ${p}`)];
  const names = new Set<string>();
  for (const spec of specs) {
    const at = `function ${spec.name}`;
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(spec.name)) problems.push(`${at}: name must be lowercase kebab-case`);
    if (names.has(spec.name)) problems.push(`${at}: name is used twice`);
    names.add(spec.name);
    if (!(KINDS as readonly string[]).includes(spec.kind)) problems.push(`${at}: unknown kind ${spec.kind}`);
    if ((spec.kind === 'scheduled') !== (spec.schedule !== undefined)) {
      problems.push(`${at}: a schedule is required for kind 'scheduled' and only allowed there`);
    }
    if (spec.schedule && (spec.schedule.everySeconds < 60 || spec.schedule.everySeconds % 60 !== 0)) {
      problems.push(`${at}: schedule.everySeconds must be whole minutes (EventBridge rates are in minutes)`);
    }
    const timeout = spec.timeoutSeconds ?? FUNCTION_DEFAULTS[spec.kind]?.timeoutSeconds ?? 0;
    if (spec.schedule && timeout > spec.schedule.everySeconds) {
      problems.push(
        `${at}: its timeout (${timeout} s) must fit its schedule (every ${spec.schedule.everySeconds} s), so one run ends before the next starts`,
      );
    }
    for (const need of Object.keys(spec.needs)) {
      if (!(KNOWN_NEEDS as readonly string[]).includes(need)) {
        problems.push(`${at}: need "${need}" has no binding in lib/constructs/house-function.ts`);
      }
    }
    if (spec.kind === 'worker' && spec.memoryMb !== undefined) {
      problems.push(`${at}: a worker's memory is the stage's (cdk.json worker.memoryMb), not the manifest's`);
    }
    if (spec.subscribesTo !== undefined && !TOPICS.includes(spec.subscribesTo)) {
      problems.push(`${at}: subscribesTo must be one of ${TOPICS.join(', ')}`);
    }
    if ((spec.kind === 'subscriber') !== (spec.subscribesTo !== undefined)) {
      problems.push(`${at}: subscribesTo is required for kind 'subscriber' and only allowed there`);
    }
    if ((spec.kind === 'consumer') !== (spec.consumes !== undefined)) {
      problems.push(`${at}: consumes is required for kind 'consumer' and only allowed there`);
    }
    if (spec.consumes !== undefined && !Object.hasOwn(CONSUMED_QUEUES, spec.consumes)) {
      problems.push(`${at}: consumes must be one of ${Object.keys(CONSUMED_QUEUES).join(', ')}`);
    }
    if (spec.onlyWith !== undefined && spec.onlyWith !== 'pagerDuty') {
      problems.push(`${at}: onlyWith must be 'pagerDuty'`);
    }
    if (spec.needs.pagerDutyRoutingKey && spec.onlyWith !== 'pagerDuty') {
      problems.push(
        `${at}: the PagerDuty routing key exists only in a stage that names it: set onlyWith 'pagerDuty'`,
      );
    }
    if ((spec.kind === 'api') !== (spec.apiFunction !== undefined)) {
      problems.push(`${at}: apiFunction is required for kind 'api' and only allowed there`);
    }
    if (spec.kind === 'worker' && timeout * 6 > resources.queues.visibilityTimeout.toSeconds()) {
      problems.push(
        `${at}: queue visibility (${resources.queues.visibilityTimeout.toSeconds()} s) must be at least 6x the worker timeout (${timeout} s)`,
      );
    }
    if (
      spec.apiFunction !== undefined &&
      specs.filter((f) => f.apiFunction === spec.apiFunction).length > 1
    ) {
      problems.push(`${at}: route-table function "${spec.apiFunction}" is served by more than one function`);
    }
    if (spec.needs.database && DATABASE.poolMax[spec.kind] < 1) {
      problems.push(
        `${at}: needs the database, but policy DATABASE.poolMax gives kind '${spec.kind}' no connection`,
      );
    }
    if (spec.kind === 'api' && spec.timeoutSeconds !== undefined && spec.timeoutSeconds > 29) {
      problems.push(`${at}: an API function's timeout cannot exceed API Gateway's 29 s`);
    }
  }
  return problems;
}

/** `api-jobs` → `ApiJobs`: construct ids stay stable as long as the manifest name does. */
export const constructIdOf = (name: string) =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

export class FunctionFleet extends Construct {
  readonly functions: readonly BuiltFunction[];
  /** API functions by their route-table name (`jobs`, `customers`...). */
  readonly apiHandlers: ReadonlyMap<string, HouseFunction>;
  /** EventBridge dead-letter queue and on-failure destination of every scheduled function. */
  readonly scheduleFailures: sqs.Queue;

  constructor(scope: Construct, id: string, props: FunctionFleetProps) {
    super(scope, id);
    const problems = validateFunctionSpecs(props.functions, props.resources, props.concurrency);
    if (problems.length > 0) throw new Error(`${id}: invalid function manifest:\n  ${problems.join('\n  ')}`);
    const { resources } = props;

    this.scheduleFailures = new sqs.Queue(this, 'ScheduleFailures', {
      queueName: `${props.prefix}formfleet-schedule-failures`,
      retentionPeriod: Duration.seconds(QUEUES.dlqRetentionSeconds),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const endOfTheLine =
      'This queue is itself the dead-letter queue of the schedules (EventBridge DLQ and on-failure destination); an alarm watches it and the next tick repeats the work.';
    Validations.of(this.scheduleFailures).acknowledge({ id: 'AwsSolutions-SQS3', reason: endOfTheLine });
    Validations.of(this.scheduleFailures).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: endOfTheLine,
    });

    // A function `onlyWith` a resource the stage does not provide is not built (PagerDuty without a key).
    const built = props.functions.filter(
      (spec) => spec.onlyWith !== 'pagerDuty' || resources.pagerDutyRoutingKeySecret !== undefined,
    );
    this.functions = built.map((spec) => ({ spec, fn: this.build(spec, props) }));
    for (const built of this.functions) this.wire(built, resources, props);

    this.apiHandlers = new Map(
      this.functions
        .filter((f) => f.spec.kind === 'api' && f.spec.apiFunction)
        .map((f) => [f.spec.apiFunction as string, f.fn]),
    );
    // Triggers (migrations) run after the data stack exists and before any other function's new code.
    const others = this.functions.filter((f) => f.spec.kind !== 'trigger').map((f) => f.fn);
    for (const { spec, fn } of this.functions.filter((f) => f.spec.kind === 'trigger')) {
      const trigger = new triggers.Trigger(this, `${constructIdOf(spec.name)}Trigger`, {
        handler: fn,
        timeout: fn.timeout ?? Duration.seconds(FUNCTION_DEFAULTS.trigger.timeoutSeconds),
        executeOnHandlerChange: true,
        executeBefore: others,
      });
      trigger.node.addDependency(this.triggerProviderLogs(props.logRetention));
    }
  }

  /**
   * CDK's trigger provider (one Lambda per stack, named by CloudFormation) writes to a log group Lambda would
   * create on first use, without a retention. This one, for its generated name, exists before the first
   * trigger runs and keeps the stage's retention.
   */
  private triggerProviderLogs(retention: logs.RetentionDays): logs.LogGroup {
    const existing = this.node.tryFindChild('TriggerProviderLogs');
    if (existing) return existing as logs.LogGroup;
    const provider = Stack.of(this).node.tryFindChild(TRIGGER_PROVIDER_ID);
    const handler = provider?.node.tryFindChild('Handler') as CfnResource | undefined;
    if (!handler) throw new Error(`no ${TRIGGER_PROVIDER_ID} in the stack: did aws-cdk-lib rename it?`);
    return new logs.LogGroup(this, 'TriggerProviderLogs', {
      logGroupName: `/aws/lambda/${handler.ref}`,
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /**
   * The SES receipt rule set of the inbound mail domain: one rule, for every recipient on the domain, that
   * stores the mail in the records bucket under mail/ (S3 action; the bucket's policy lets SES do so, in
   * the data stack) and then invokes `fn` as an event with the envelope recipients and message id (Lambda
   * action). Asynchronous: retried ASYNC_INVOKE.mailRetryAttempts times (a mail that came before its
   * submission was recorded asks for it), then kept by the on-failure queue. CloudFormation cannot activate
   * a rule set (one per account and region is active): the deploy docs say how.
   */
  private receiveMail(
    fn: HouseFunction,
    records: RecordsBinding,
    mail: NonNullable<FleetResources['inboundMail']>,
  ): void {
    const stack = Stack.of(this);
    const ruleArn = `arn:${stack.partition}:ses:${stack.region}:${stack.account}:receipt-rule-set/${mail.ruleSet}:receipt-rule/${mail.rule}`;
    const permission = new lambda.CfnPermission(this, 'MailInboundSesInvoke', {
      action: 'lambda:InvokeFunction',
      functionName: fn.functionArn,
      principal: 'ses.amazonaws.com',
      sourceAccount: stack.account,
      sourceArn: ruleArn,
    });
    fn.configureAsyncInvoke({
      retryAttempts: ASYNC_INVOKE.mailRetryAttempts,
      maxEventAge: Duration.seconds(ASYNC_INVOKE.mailMaxEventAgeSeconds),
      onFailure: new SendOnlyQueueDestination(this.scheduleFailures),
    });
    const ruleSet = new ses.CfnReceiptRuleSet(this, 'InboundMailRuleSet', { ruleSetName: mail.ruleSet });
    const rule = new ses.CfnReceiptRule(this, 'VerificationMailRule', {
      ruleSetName: mail.ruleSet,
      rule: {
        name: mail.rule,
        enabled: true,
        recipients: [mail.domain],
        scanEnabled: true,
        tlsPolicy: 'Require',
        actions: [
          {
            s3Action: {
              bucketName: records.bucket.bucketName,
              objectKeyPrefix: records.prefixOf('mail'),
            },
          },
          { lambdaAction: { functionArn: fn.functionArn, invocationType: 'Event' } },
        ],
      },
    });
    rule.addDependency(ruleSet);
    rule.addDependency(permission);
  }

  private build(spec: FunctionSpec, props: FunctionFleetProps): HouseFunction {
    const defaults = FUNCTION_DEFAULTS[spec.kind];
    const common = {
      functionName: `formfleet-${props.stageName}-${spec.name}`,
      entry: spec.entry,
      description: spec.description.slice(0, 256),
      timeout: Duration.seconds(spec.timeoutSeconds ?? defaults.timeoutSeconds),
      logRetention: props.logRetention,
      ...(props.concurrency.reserved[spec.name] !== undefined
        ? { reservedConcurrentExecutions: props.concurrency.reserved[spec.name] }
        : {}),
      ...(spec.assets ? { assets: spec.assets } : {}),
    };
    const id = constructIdOf(spec.name);
    // The worker's memory is the stage's (its K needs it); other functions take the manifest's or their kind's.
    const memoryMb = spec.kind === 'worker' ? props.worker.memoryMb : spec.memoryMb;
    if (spec.browser) {
      return new BrowserFunction(this, id, {
        ...common,
        ...(memoryMb !== undefined ? { memorySize: memoryMb } : {}),
      });
    }
    return new HouseFunction(this, id, { ...common, memorySize: memoryMb ?? defaults.memoryMb });
  }

  private wire(
    { spec, fn }: BuiltFunction,
    resources: FleetResources,
    { concurrency, worker }: FunctionFleetProps,
  ): void {
    const { needs } = spec;
    const tiers = resources.queues.tiers;
    if (needs.database) {
      fn.bindDatabase(resources.databaseSecret, {
        poolMax: DATABASE.poolMax[spec.kind],
        ...(resources.databaseCaSecret ? { caSecret: resources.databaseCaSecret } : {}),
        ...(needs.database === 'direct' && resources.databaseDirectSecret
          ? { directSecret: resources.databaseDirectSecret }
          : {}),
      });
    }
    if (needs.jobQueues?.length) fn.bindJobQueues(tiers, needs.jobQueues);
    if (needs.deadLetterQueues) fn.bindDeadLetterQueues(tiers, needs.deadLetterQueues);
    if (needs.idempotencyTable) fn.bindIdempotencyTable(resources.idempotencyTable);
    if (needs.alertsTopic) fn.bindAlertsTopic(resources.alerts.topic, resources.alerts.key);
    if (needs.slackWebhookSecret) fn.bindSlackWebhookSecret(resources.slackWebhookSecret);
    if (needs.apiKeys) fn.bindApiKeys(resources.apiKeys);
    if (needs.webhookKey) fn.bindWebhookKey(resources.webhooks.secretsKey, needs.webhookKey);
    if (needs.webhookQueue) fn.bindWebhookQueue(resources.webhooks.queue);
    if (needs.pagerDutyRoutingKey && resources.pagerDutyRoutingKeySecret) {
      fn.bindPagerDutyRoutingKey(resources.pagerDutyRoutingKeySecret);
    }
    for (const grant of needs.records ?? []) {
      fn.bindRecords(resources.records, resources.records.prefixOf(grant.prefix), grant.access);
    }
    if (needs.inboundMail && resources.inboundMail) {
      fn.addEnvironment('INBOUND_MAIL_DOMAIN', resources.inboundMail.domain);
    }

    const noDlq = (reason: string) => Validations.of(fn).acknowledge({ id: 'Serverless-LambdaDLQ', reason });
    switch (spec.kind) {
      case 'worker':
        fn.consumeTiers(tiers, concurrency.tiers);
        fn.addEnvironment('WORKER_DIRECTORIES_IN_FLIGHT', String(worker.directoriesInFlight));
        noDlq(
          "Invoked by SQS event source mappings: a failing message moves to its tier's FIFO DLQ by the queue's redrive policy.",
        );
        break;
      case 'scheduled': {
        const every = Duration.seconds(spec.schedule?.everySeconds ?? 60);
        new events.Rule(this, `${constructIdOf(spec.name)}Schedule`, {
          description: `Runs ${fn.node.id} every ${every.toMinutes()} min (policy SCHEDULES)`,
          schedule: events.Schedule.rate(Duration.minutes(every.toMinutes())),
          targets: [
            new targets.LambdaFunction(fn, {
              deadLetterQueue: this.scheduleFailures,
              retryAttempts: ASYNC_INVOKE.scheduleDeliveryRetryAttempts,
              maxEventAge: every,
            }),
          ],
        });
        fn.configureAsyncInvoke({
          retryAttempts: ASYNC_INVOKE.scheduledRetryAttempts,
          maxEventAge: every,
          onFailure: new SendOnlyQueueDestination(this.scheduleFailures),
        });
        noDlq(
          'Asynchronous failures go to an on-failure destination (the schedule-failures queue), which records the error with the event.',
        );
        break;
      }
      case 'subscriber':
        resources.alerts.topic.addSubscription(
          new subscriptions.LambdaSubscription(fn, { deadLetterQueue: resources.alerts.undelivered }),
        );
        fn.configureAsyncInvoke({
          retryAttempts: ASYNC_INVOKE.subscriberRetryAttempts,
          maxEventAge: Duration.seconds(ASYNC_INVOKE.subscriberMaxEventAgeSeconds),
          onFailure: new SendOnlyQueueDestination(resources.alerts.undelivered),
        });
        noDlq(
          'Asynchronous failures go to an on-failure destination (the undelivered-alerts queue), which records the error with the event.',
        );
        break;
      case 'mail':
        if (resources.inboundMail) this.receiveMail(fn, resources.records, resources.inboundMail);
        noDlq(
          'Invoked asynchronously by the SES receipt rule: failures go to an on-failure destination (the schedule-failures queue), and the mail itself stays in the records bucket with its inbound_mail row.',
        );
        break;
      case 'consumer':
        if (spec.consumes === 'webhooks') fn.consumeQueue(resources.webhooks.queue, CONSUMED_QUEUES.webhooks);
        noDlq(
          "Invoked by an SQS event source mapping: a failing message moves to its queue's FIFO DLQ by the queue's redrive policy.",
        );
        break;
      case 'api':
        noDlq(
          'Invoked synchronously by API Gateway: the caller gets the error response; there is no event to keep.',
        );
        break;
      case 'trigger':
        noDlq(
          'Invoked synchronously by the deploy (CDK Trigger): a failure fails and rolls back the deploy; there is no event to keep.',
        );
        break;
    }
  }
}
