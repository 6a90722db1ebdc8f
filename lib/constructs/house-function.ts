/**
 * HouseFunction: formfleet's NodejsFunction with the house defaults (Node.js 22 on x86_64, X-Ray tracing,
 * JSON logs into a log group with a retention, an ESM bundle with source maps and the createRequire banner)
 * and its own role that starts empty: no managed policy, only what `bind*` methods add. Each `bind*` method
 * sets an environment variable and grants exactly the actions that variable is for, in one call, so no
 * handler has an env var without its grant or a grant without a use.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { RecordsAccess } from '#functions/manifest';
import { CLIENT_KEYS, SERVICE } from '#policy';
import { dlqUrlEnvName, queueUrlEnvName } from '#shared/job-queue';
import type { TierQueues } from './priority-queues.ts';
import type { RecordsBinding } from './records-bucket.ts';

/** The repository root: NodejsFunction's project root and where manifest entries and assets are found. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The CA bundle of Lambda's Node.js runtimes that holds the Amazon RDS CAs (and other Amazon CAs). */
export const LAMBDA_CA_BUNDLE = '/var/runtime/ca-cert.pem';

/** Lets the ESM bundle load CommonJS dependencies that call `require` (pg, playwright-core internals). */
export const CREATE_REQUIRE_BANNER =
  "import { createRequire as __ffCreateRequire } from 'node:module'; const require = __ffCreateRequire(import.meta.url);";

export interface HouseFunctionProps {
  /** Physical function name (also names the log group `/aws/lambda/<functionName>`). */
  readonly functionName: string;
  /** Handler entry file, relative to the repository root. */
  readonly entry: string;
  readonly description: string;
  /** Lambda timeout; at most 15 minutes. */
  readonly timeout: Duration;
  /** Memory in MB, 128..10240. */
  readonly memorySize: number;
  /** Retention of the function's log group. */
  readonly logRetention: logs.RetentionDays;
  /**
   * What happens to the log group when the function is removed.
   * @default RemovalPolicy.DESTROY (logs of a deleted function expire with their retention anyway)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Reserved concurrency. @default none (the account's unreserved pool) */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Repository directories copied into the bundle root (found at `$LAMBDA_TASK_ROOT/<dir>` at run time).
   * @default none
   */
  readonly assets?: readonly string[];
  /**
   * Packages installed into the bundle's node_modules by npm (from package-lock.json) instead of being
   * bundled by esbuild, for packages that read files beside their own code. @default none
   */
  readonly nodeModules?: readonly string[];
  /** /tmp size. @default 512 MiB (Lambda's default) */
  readonly ephemeralStorageMb?: number;
  /** Extra environment variables (the `bind*` methods add theirs). @default none */
  readonly environment?: Readonly<Record<string, string>>;
}

/** What a function managing client API keys binds to (`needs.apiKeys`). */
export interface ApiKeyBinding {
  /**
   * Every usage plan by name, with the name of the export its id is imported by; client keys are made in
   * CLIENT_KEYS.plans only.
   */
  readonly plans: ReadonlyMap<string, { readonly usagePlanId: string; readonly exportName: string }>;
  /** The admin key's id: denied to the function outright. */
  readonly adminKeyId: string;
  /** Prefix of the client keys' names in API Gateway. */
  readonly namePrefix: string;
}

/** Collects every problem with a set of props into one error. */
export function validateHouseFunctionProps(props: HouseFunctionProps): string[] {
  const problems: string[] = [];
  if (props.memorySize < 128 || props.memorySize > 10_240) problems.push('memorySize must be 128..10240 MB');
  const timeout = props.timeout.toSeconds();
  if (timeout < 1 || timeout > 900) problems.push('timeout must be 1..900 seconds');
  if (props.reservedConcurrentExecutions !== undefined && props.reservedConcurrentExecutions < 1) {
    problems.push(
      'reservedConcurrentExecutions must be at least 1 when given (0 would disable the function)',
    );
  }
  if (
    props.ephemeralStorageMb !== undefined &&
    (props.ephemeralStorageMb < 512 || props.ephemeralStorageMb > 10_240)
  ) {
    problems.push('ephemeralStorageMb must be 512..10240');
  }
  if (!existsSync(join(PROJECT_ROOT, props.entry))) problems.push(`entry ${props.entry} does not exist`);
  for (const dir of props.assets ?? []) {
    if (!/^[a-z0-9][a-z0-9_-]*$/i.test(dir) || !existsSync(join(PROJECT_ROOT, dir))) {
      problems.push(`asset "${dir}" must be an existing top-level directory of the repository`);
    }
  }
  return problems;
}

/**
 * A Lambda destination that grants exactly sqs:SendMessage, all Lambda needs to deliver a failed event
 * (CDK's SqsDestination also grants GetQueueAttributes and GetQueueUrl).
 */
export class SendOnlyQueueDestination implements lambda.IDestination {
  constructor(private readonly queue: sqs.IQueue) {}

  bind(_scope: Construct, fn: lambda.IFunction): lambda.DestinationConfig {
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }),
    );
    return { destination: this.queue.queueArn };
  }
}

export class HouseFunction extends NodejsFunction {
  /** The function's own role (the inherited `role` is typed optional). */
  readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: HouseFunctionProps) {
    const problems = validateHouseFunctionProps(props);
    if (problems.length > 0) throw new Error(`${id}: ${problems.join('; ')}`);
    // Created in the parent scope because a subclass cannot add children before super().
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      logGroupName: `/aws/lambda/${props.functionName}`,
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.functionName} (least privilege, from its manifest needs)`,
    });
    const assets = props.assets ?? [];
    super(scope, id, {
      functionName: props.functionName,
      description: props.description,
      entry: join(PROJECT_ROOT, props.entry),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      ...(props.ephemeralStorageMb ? { ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageMb) } : {}),
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE.name,
        POWERTOOLS_METRICS_NAMESPACE: SERVICE.metricsNamespace,
        // Stack traces in the logs point at the TypeScript source (the bundle ships its .map file).
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        banner: CREATE_REQUIRE_BANNER,
        // The SDK is bundled too: the version the tests ran is the version that runs.
        externalModules: [],
        ...(props.nodeModules?.length ? { nodeModules: [...props.nodeModules] } : {}),
        // npm installs nodeModules from its cache when it can, so synth works without the registry.
        environment: {
          npm_config_prefer_offline: 'true',
          npm_config_audit: 'false',
          npm_config_fund: 'false',
          npm_config_update_notifier: 'false',
        },
        ...(assets.length > 0
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) =>
                  assets.map((dir) => `cp -R "${join(inputDir, dir)}" "${join(outputDir, dir)}"`),
              },
            }
          : {}),
      },
    });
    this.executionRole = role;
    this.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) has no resource-level permissions; every other statement names its resource.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime formfleet targets and tests (local Node 20.19+ with the same code); moving to a newer runtime is a deliberate, tested change.',
    });
    Validations.of(this).acknowledge({
      id: 'Serverless-LambdaLatestVersion',
      reason:
        'Node.js 22 is the runtime formfleet targets and tests (local Node 20.19+ with the same code); moving to a newer runtime is a deliberate, tested change.',
    });
  }

  /**
   * Postgres: DATABASE_SECRET_ARN (the connection string) and DATABASE_POOL_MAX (connections per container,
   * policy DATABASE.poolMax by kind); NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem, so Node trusts the
   * Amazon RDS CAs (Lambda's Node 20+ runtimes load that bundle only when told to); with `caSecret`,
   * DATABASE_CA_SECRET_ARN (the CA that signs the server's certificate); with `directSecret`,
   * DATABASE_DIRECT_SECRET_ARN (the session connection migrations use). secretsmanager:GetSecretValue on
   * each secret named.
   */
  bindDatabase(
    secret: secretsmanager.ISecret,
    options: {
      readonly poolMax: number;
      readonly caSecret?: secretsmanager.ISecret;
      readonly directSecret?: secretsmanager.ISecret;
    },
  ): this {
    this.addEnvironment('DATABASE_SECRET_ARN', secret.secretArn);
    this.addEnvironment('DATABASE_POOL_MAX', String(options.poolMax));
    this.addEnvironment('NODE_EXTRA_CA_CERTS', LAMBDA_CA_BUNDLE);
    const secrets = [secret, options.caSecret, options.directSecret].filter((s) => s !== undefined);
    if (options.caSecret) this.addEnvironment('DATABASE_CA_SECRET_ARN', options.caSecret.secretArn);
    if (options.directSecret)
      this.addEnvironment('DATABASE_DIRECT_SECRET_ARN', options.directSecret.secretArn);
    this.allow(
      ['secretsmanager:GetSecretValue'],
      secrets.map((s) => s.secretArn),
    );
    return this;
  }

  /** SLACK_WEBHOOK_SECRET_ARN + secretsmanager:GetSecretValue on that secret. */
  bindSlackWebhookSecret(secret: secretsmanager.ISecret): this {
    this.addEnvironment('SLACK_WEBHOOK_SECRET_ARN', secret.secretArn);
    this.allow(['secretsmanager:GetSecretValue'], [secret.secretArn]);
    return this;
  }

  /**
   * QUEUE_URL_<tier> for every tier. 'send' grants sqs:SendMessage (enqueue jobs); 'consume' grants
   * sqs:ChangeMessageVisibility (extend a received message's lease; receiving is the event source
   * mapping's, see `consumeTiers`); 'read' grants sqs:GetQueueAttributes (count messages).
   */
  bindJobQueues(tiers: readonly TierQueues[], modes: readonly ('send' | 'consume' | 'read')[]): this {
    for (const t of tiers) this.addEnvironment(queueUrlEnvName(t.tier), t.queue.queueUrl);
    const arns = tiers.map((t) => t.queue.queueArn);
    for (const mode of modes) {
      switch (mode) {
        case 'send':
          this.allow(['sqs:SendMessage'], arns);
          break;
        case 'consume':
          this.allow(['sqs:ChangeMessageVisibility'], arns);
          break;
        case 'read':
          this.allow(['sqs:GetQueueAttributes'], arns);
          break;
        default:
          throw new Error(`${this.node.id}: unknown jobQueues mode "${mode satisfies never}"`);
      }
    }
    return this;
  }

  /**
   * DLQ_URL_<tier> for every tier. 'count' grants sqs:GetQueueAttributes (depth); 'read' adds
   * sqs:ReceiveMessage and sqs:ChangeMessageVisibility (peek, then hand the message straight back);
   * 'redrive' adds sqs:DeleteMessage on the DLQs and, with QUEUE_URL_<tier>, sqs:SendMessage on the source
   * queues (receive, send back, delete).
   */
  bindDeadLetterQueues(tiers: readonly TierQueues[], mode: 'count' | 'read' | 'redrive'): this {
    for (const t of tiers) this.addEnvironment(dlqUrlEnvName(t.tier), t.deadLetterQueue.queueUrl);
    const dlqArns = tiers.map((t) => t.deadLetterQueue.queueArn);
    if (mode !== 'count' && mode !== 'read' && mode !== 'redrive') {
      throw new Error(`${this.node.id}: unknown deadLetterQueues mode "${mode satisfies never}"`);
    }
    this.allow(['sqs:GetQueueAttributes'], dlqArns);
    if (mode === 'read' || mode === 'redrive') {
      this.allow(['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility'], dlqArns);
    }
    if (mode === 'redrive') {
      this.allow(['sqs:DeleteMessage'], dlqArns);
      this.bindJobQueues(tiers, ['send']);
    }
    return this;
  }

  /**
   * One SQS event source mapping per tier: batch size from the tier list, maximum concurrency from the
   * stage (policy's by default), partial batch responses on, plus what Lambda's poller needs (ReceiveMessage,
   * DeleteMessage, GetQueueAttributes).
   */
  consumeTiers(
    tiers: readonly TierQueues[],
    maxConcurrency: Readonly<Record<string, number>> = {},
  ): lambda.EventSourceMapping[] {
    this.allow(
      ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
      tiers.map((t) => t.queue.queueArn),
    );
    const mappings = tiers.map(
      (t) =>
        new lambda.EventSourceMapping(this, `${t.tier.name}Source`, {
          target: this,
          eventSourceArn: t.queue.queueArn,
          batchSize: t.tier.batchSize,
          maxConcurrency: maxConcurrency[t.tier.name] ?? t.tier.maxConcurrency,
          reportBatchItemFailures: true,
          enabled: true,
        }),
    );
    for (const mapping of mappings) {
      Validations.of(mapping).acknowledge({
        id: 'Serverless-LambdaEventSourceMappingDestination',
        reason:
          "SQS event sources have no on-failure destination in Lambda; a message that keeps failing moves to its tier's FIFO dead-letter queue through the queue's redrive policy.",
      });
    }
    return mappings;
  }

  /** IDEMPOTENCY_TABLE + the item actions Powertools idempotency uses on that table, nothing table-wide. */
  bindIdempotencyTable(table: { readonly tableName: string; readonly tableArn: string }): this {
    this.addEnvironment('IDEMPOTENCY_TABLE', table.tableName);
    this.allow(
      ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      [table.tableArn],
    );
    return this;
  }

  /** ALERTS_TOPIC_ARN + sns:Publish on it, and the KMS data-key actions its encryption needs. */
  bindAlertsTopic(topic: sns.ITopic, key: kms.IKey): this {
    this.addEnvironment('ALERTS_TOPIC_ARN', topic.topicArn);
    this.allow(['sns:Publish'], [topic.topicArn]);
    this.allow(['kms:GenerateDataKey', 'kms:Decrypt'], [key.keyArn]);
    return this;
  }

  /**
   * USAGE_PLAN_IDS (the client plans, `name=id,...`) and API_KEY_NAME_PREFIX, with API Gateway's key calls
   * scoped to them: create API keys (POST /apikeys) and delete them (DELETE /apikeys/*), add keys to, list and
   * remove keys from the client plans (POST, GET /usageplans/<id>/keys, DELETE /usageplans/<id>/keys/*). No
   * GET on /apikeys, so the function cannot read any key's value outside the client plans, and an explicit
   * deny on the admin key.
   */
  bindApiKeys(binding: ApiKeyBinding): this {
    const plans = CLIENT_KEYS.plans.map((name) => {
      const plan = binding.plans.get(name);
      if (!plan) throw new Error(`${this.node.id}: no usage plan named ${name} for client keys`);
      return { name, id: plan.usagePlanId, exportName: plan.exportName };
    });
    const { partition, region } = Stack.of(this);
    const arn = (path: string) => `arn:${partition}:apigateway:${region}::${path}`;
    this.addEnvironment('USAGE_PLAN_IDS', plans.map((p) => `${p.name}=${p.id}`).join(','));
    this.addEnvironment('API_KEY_NAME_PREFIX', binding.namePrefix);
    this.allow(['apigateway:POST'], [arn('/apikeys')]);
    this.allow(['apigateway:DELETE'], [arn('/apikeys/*')]);
    this.allow(
      ['apigateway:POST', 'apigateway:GET'],
      plans.map((p) => arn(`/usageplans/${p.id}/keys`)),
    );
    this.allow(
      ['apigateway:DELETE'],
      plans.map((p) => arn(`/usageplans/${p.id}/keys/*`)),
    );
    this.addToRolePolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: ['apigateway:*'],
        resources: [arn(`/apikeys/${binding.adminKeyId}`)],
      }),
    );
    // cdk-nag names the finding by the resource as written, pseudo parameters as <AWS::Name>.
    const literal = (value: string, name: string) => (Token.isUnresolved(value) ? `<AWS::${name}>` : value);
    const apigatewayArn = `arn:${literal(partition, 'Partition')}:apigateway:${literal(region, 'Region')}::`;
    const why =
      'Client API keys are made at run time, so their ids cannot be named at deploy: revoking one removes it from its client plan and deletes it. The handler does so only for keys it finds in a client plan, the admin key is denied outright, and GET /apikeys (which could read values) is not granted.';
    Validations.of(this.executionRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${apigatewayArn}/apikeys/*]`,
      reason: why,
    });
    for (const p of plans) {
      // The plan id arrives as an import, which cdk-nag names by its export.
      Validations.of(this.executionRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${apigatewayArn}/usageplans/${p.exportName}/keys/*]`,
        reason: why,
      });
    }
    return this;
  }

  /**
   * WEBHOOK_KMS_KEY_ID (the key sealing webhook signing secrets): 'seal' grants kms:Encrypt (the API seals a new
   * endpoint's secret), 'open' kms:Decrypt (delivery signs with it); either only with an `endpoint` encryption
   * context, the one formfleet seals under, so the role cannot use the key for anything else.
   */
  bindWebhookKey(key: kms.IKey, mode: 'seal' | 'open'): this {
    if (mode !== 'seal' && mode !== 'open') {
      throw new Error(`${this.node.id}: unknown webhookKey mode "${mode satisfies never}"`);
    }
    this.addEnvironment('WEBHOOK_KMS_KEY_ID', key.keyArn);
    this.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [mode === 'seal' ? 'kms:Encrypt' : 'kms:Decrypt'],
        resources: [key.keyArn],
        conditions: { StringLike: { 'kms:EncryptionContext:endpoint': '*' } },
      }),
    );
    return this;
  }

  /** WEBHOOK_QUEUE_URL + sqs:SendMessage on the delivery queue (the dispatcher's wakes). */
  bindWebhookQueue(queue: sqs.IQueue): this {
    this.addEnvironment('WEBHOOK_QUEUE_URL', queue.queueUrl);
    this.allow(['sqs:SendMessage'], [queue.queueArn]);
    return this;
  }

  /** PAGERDUTY_ROUTING_KEY_SECRET_ARN + secretsmanager:GetSecretValue on that secret. */
  bindPagerDutyRoutingKey(secret: secretsmanager.ISecret): this {
    this.addEnvironment('PAGERDUTY_ROUTING_KEY_SECRET_ARN', secret.secretArn);
    this.allow(['secretsmanager:GetSecretValue'], [secret.secretArn]);
    return this;
  }

  /**
   * An SQS event source mapping on `queue` (a 'consumer' function): batch size and maximum concurrency as given,
   * partial batch responses on, plus what Lambda's poller needs (ReceiveMessage, DeleteMessage,
   * GetQueueAttributes).
   */
  consumeQueue(
    queue: sqs.IQueue,
    settings: { readonly batchSize: number; readonly maxConcurrency: number },
  ): lambda.EventSourceMapping {
    this.allow(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], [queue.queueArn]);
    const mapping = new lambda.EventSourceMapping(this, 'QueueSource', {
      target: this,
      eventSourceArn: queue.queueArn,
      batchSize: settings.batchSize,
      maxConcurrency: settings.maxConcurrency,
      reportBatchItemFailures: true,
      enabled: true,
    });
    Validations.of(mapping).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        "SQS event sources have no on-failure destination in Lambda; a message that keeps failing moves to the queue's FIFO dead-letter queue through its redrive policy.",
    });
    return mapping;
  }

  /**
   * RECORDS_BUCKET, and per access on the keys under `prefix` (`evidence/`) only: 'read' s3:GetObject (fetch,
   * and presign GET URLs, which S3 honours only while the signer's role may read), 'write' s3:PutObject,
   * 'list' s3:ListBucket on the bucket with the condition s3:prefix `<prefix>*` (whether an object is there:
   * a HEAD without ListBucket answers 403 for a missing key). Never a delete. Call once per prefix.
   */
  bindRecords(records: RecordsBinding, prefix: string, access: readonly RecordsAccess[]): this {
    const { bucket } = records;
    if (!/^[a-z][a-z0-9-]*\/$/.test(prefix)) {
      throw new Error(`${this.node.id}: records prefix "${prefix}" must be lower-case words ending in "/"`);
    }
    this.addEnvironment('RECORDS_BUCKET', bucket.bucketName);
    const objects = bucket.arnForObjects(`${prefix}*`);
    for (const mode of access) {
      switch (mode) {
        case 'read':
          this.allow(['s3:GetObject'], [objects]);
          break;
        case 'write':
          this.allow(['s3:PutObject'], [objects]);
          break;
        case 'list':
          this.addToRolePolicy(
            new iam.PolicyStatement({
              actions: ['s3:ListBucket'],
              resources: [bucket.bucketArn],
              conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
            }),
          );
          break;
        default:
          throw new Error(`${this.node.id}: unknown records access "${mode satisfies never}"`);
      }
    }
    // cdk-nag names the finding by the resource as written: the bucket's ARN arrives as an import, which it
    // names by its export.
    const bucketRef = Token.isUnresolved(bucket.bucketArn) ? records.arnExportName : bucket.bucketArn;
    Validations.of(this.executionRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${bucketRef}/${prefix}*]`,
      reason: `The objects under ${prefix} are named at run time (customer, job, directory, attempt), so the grant covers the prefix; it names the prefix, the actions (${access.join(', ')}) and never a delete.`,
    });
    return this;
  }

  /** ADMIN_API_KEY_IDS: the API Gateway key ids with admin rights (ids, not key values; no grant needed). */
  bindAdminApiKeys(keyIds: readonly string[]): this {
    this.addEnvironment('ADMIN_API_KEY_IDS', keyIds.join(','));
    return this;
  }

  private allow(actions: string[], resources: string[]): void {
    this.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
  }
}
