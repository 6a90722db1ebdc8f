/**
 * FormfleetApi: the API Gateway REST API built from the route table. Every route goes to its handler
 * function (Lambda proxy); routes with auth 'client' or 'admin' require an API key (the handler tells admin
 * from client by the key id). Around it: request validation (required path parameters, JSON object bodies),
 * JSON access logs, X-Ray, a stage throttle, method caching with query-string cache keys on cached routes,
 * and the WAF web ACL. The usage plans (rate, burst and daily quota per kind of key) and the keys in them
 * live in the data stack (ApiKeyPlans); this construct attaches its stage to each plan and detaches it when
 * the stage goes. API Gateway's own 10 MB payload ceiling applies in front of the API's smaller JSON limit.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { RouteSpec } from '#functions/api/routes';
import { SCHEMAS } from '#functions/api/schemas';
import { API_EDGE, SERVICE } from '#policy';
import { ApiFirewall } from './api-firewall.ts';

/** A route whose GET responses API Gateway caches, keyed by these query parameters. */
export interface CachedRoute {
  readonly method: 'GET';
  readonly path: string;
  readonly queryParams: readonly string[];
  readonly ttlSeconds: number;
}

/** GET /v1/directories: the directory list changes rarely and every client reads it. */
export const DEFAULT_CACHED_ROUTES: readonly CachedRoute[] = [
  {
    method: 'GET',
    path: '/v1/directories',
    // Every query parameter the route accepts (its request schema) is part of the cache key.
    queryParams: Object.keys(SCHEMAS.DirectoryQuery.properties),
    ttlSeconds: API_EDGE.directoriesCacheTtlSeconds,
  },
];

/** Metric (namespace SERVICE.metricsNamespace, dimension stage) counting 429 answers, from the access log. */
export const API_429_METRIC = 'Api429';

export interface FormfleetApiProps {
  /** Physical name prefix (the stage prefix), e.g. `dev-`. */
  readonly prefix: string;
  /** API Gateway stage name. */
  readonly stageName: string;
  readonly routes: readonly RouteSpec[];
  /** The handler function of each route-table `fn`. */
  readonly handlers: ReadonlyMap<string, lambda.IFunction>;
  readonly logRetention: logs.RetentionDays;
  /** @default RemovalPolicy.DESTROY (access logs expire with their retention) */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default DEFAULT_CACHED_ROUTES (applied to those present in `routes`) */
  readonly cachedRoutes?: readonly CachedRoute[];
  /** @default API_EDGE stage rate and burst */
  readonly stageThrottle?: { readonly rateLimit: number; readonly burstLimit: number };
  /** The usage plans (data stack, ApiKeyPlans) the stage joins, by name. */
  readonly usagePlans: ReadonlyMap<string, { readonly usagePlanId: string }>;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const pathParams = (path: string) => [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);

/** Every problem with the routes and handlers, in one list. */
export function validateApiProps(props: FormfleetApiProps): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const route of props.routes) {
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) problems.push(`route ${key} is declared twice`);
    seen.add(key);
    if (!props.handlers.has(route.fn))
      problems.push(`route ${key} needs function "${route.fn}", which is not built`);
    if (!route.path.startsWith('/')) problems.push(`route ${key} must start with "/"`);
  }
  if (props.usagePlans.size === 0) problems.push('the stage needs at least one usage plan to join');
  for (const cached of props.cachedRoutes ?? []) {
    if (cached.ttlSeconds < 0 || cached.ttlSeconds > 3600) {
      problems.push(`cache TTL of ${cached.path} must be 0..3600 seconds`);
    }
  }
  return problems;
}

export class FormfleetApi extends Construct {
  readonly api: apigw.RestApi;
  readonly stage: apigw.Stage;
  readonly accessLogs: logs.LogGroup;
  readonly firewall: ApiFirewall;

  constructor(scope: Construct, id: string, props: FormfleetApiProps) {
    super(scope, id);
    const problems = validateApiProps(props);
    if (problems.length > 0) throw new Error(`${id}: ${problems.join('; ')}`);
    const throttle = props.stageThrottle ?? {
      rateLimit: API_EDGE.stageRateLimitPerSecond,
      burstLimit: API_EDGE.stageBurstLimit,
    };
    const cached = (props.cachedRoutes ?? DEFAULT_CACHED_ROUTES).filter((c) =>
      props.routes.some((r) => r.method === c.method && r.path === c.path),
    );

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      logGroupName: `/aws/apigateway/${props.prefix}formfleet-access`,
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `${props.prefix}formfleet`,
      description: 'formfleet HTTP API: customers, jobs and their submissions',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      apiKeySourceType: apigw.ApiKeySourceType.HEADER,
      cloudWatchRole: false,
      deployOptions: {
        stageName: props.stageName,
        tracingEnabled: true,
        metricsEnabled: true,
        throttlingRateLimit: throttle.rateLimit,
        throttlingBurstLimit: throttle.burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
        ...(cached.length > 0
          ? {
              cacheClusterEnabled: true,
              cacheClusterSize: '0.5',
              methodOptions: Object.fromEntries(
                cached.map((c) => [
                  `${c.path}/${c.method}`,
                  {
                    cachingEnabled: true,
                    cacheTtl: Duration.seconds(c.ttlSeconds),
                    cacheDataEncrypted: true,
                  },
                ]),
              ),
            }
          : {}),
      },
    });
    this.stage = this.api.deploymentStage;

    const validator = new apigw.RequestValidator(this, 'Validator', {
      restApi: this.api,
      requestValidatorName: 'params-and-json-body',
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const jsonObject = new apigw.Model(this, 'JsonObject', {
      restApi: this.api,
      contentType: 'application/json',
      modelName: 'JsonObject',
      description: 'Any JSON object; the handler validates the fields and names each problem',
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, type: apigw.JsonSchemaType.OBJECT },
    });
    this.api.addGatewayResponse('BadRequestBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      templates: {
        'application/json':
          '{"error":{"code":"bad_request","message":"request body must be a JSON object",' +
          '"details":[{"field":"body","message":"must be a JSON object"}]}}',
      },
    });
    this.api.addGatewayResponse('BadRequestParameters', {
      type: apigw.ResponseType.BAD_REQUEST_PARAMETERS,
      statusCode: '400',
      templates: {
        'application/json':
          '{"error":{"code":"bad_request","message":"a required request parameter is missing"}}',
      },
    });

    for (const route of props.routes) {
      const handler = props.handlers.get(route.fn) as lambda.IFunction;
      const cache = cached.find((c) => c.method === route.method && c.path === route.path);
      const params = pathParams(route.path).map((p) => `method.request.path.${p}`);
      const query = (cache?.queryParams ?? []).map((q) => `method.request.querystring.${q}`);
      const method = this.api.root.resourceForPath(route.path).addMethod(
        route.method,
        new apigw.LambdaIntegration(handler, {
          proxy: true,
          allowTestInvoke: false,
          ...(cache ? { cacheKeyParameters: [...params, ...query] } : {}),
        }),
        {
          apiKeyRequired: route.auth !== 'none',
          requestValidator: validator,
          requestParameters: {
            ...Object.fromEntries(params.map((p) => [p, true])),
            ...Object.fromEntries(query.map((q) => [q, false])),
          },
          ...(BODY_METHODS.has(route.method) ? { requestModels: { 'application/json': jsonObject } } : {}),
        },
      );
      const authReason =
        route.auth === 'none'
          ? `${route.method} ${route.path} is public by design (status only, no data); WAF and the stage throttle rate-limit it per IP.`
          : `${route.method} ${route.path} requires an API key (usage plans per client tier); the handler authorises on the key id API Gateway validated (admin keys by ADMIN_API_KEY_IDS).`;
      Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason: authReason });
      Validations.of(method).acknowledge({ id: 'AwsSolutions-COG4', reason: authReason });
    }

    this.joinUsagePlans(props.usagePlans, props.logRetention, props.logRemovalPolicy);

    new logs.MetricFilter(this, 'Api429Filter', {
      logGroup: this.accessLogs,
      filterPattern: logs.FilterPattern.stringValue('$.status', '=', '429'),
      metricNamespace: SERVICE.metricsNamespace,
      metricName: API_429_METRIC,
      metricValue: '1',
      dimensions: { stage: '$.stage' },
    });

    this.firewall = new ApiFirewall(this, 'Firewall', {
      name: `${props.prefix}formfleet-api`,
      stageArn: this.stage.stageArn,
      anonymousPaths: [...new Set(props.routes.filter((r) => r.auth === 'none').map((r) => r.path))],
      logRetention: props.logRetention,
      ...(props.logRemovalPolicy ? { logRemovalPolicy: props.logRemovalPolicy } : {}),
    });

    Validations.of(this.stage).acknowledge({
      id: 'AwsSolutions-APIG6',
      reason:
        "Execution logging stays off: it logs API Gateway's internals per request (and with data tracing, bodies that hold customers' details), while JSON access logs record every request with status, latency, key id and WAF result. It needs the account's API Gateway CloudWatch role too (docs/infrastructure.md).",
    });

    new CfnOutput(this, 'Url', { value: this.api.url, description: 'Base URL of the API' });
  }

  /**
   * Attaches the stage to each usage plan of the data stack (UpdateUsagePlan, add /apiStages), and detaches
   * it when the stage goes (the stack deleted, or the API replaced): CloudFormation's UsagePlan can only name
   * its stages itself, which would make the data stack depend on this one. One AWS SDK call per plan, run by
   * CDK's AwsCustomResource provider, whose role may PATCH exactly these plans.
   */
  private joinUsagePlans(
    plans: ReadonlyMap<string, { readonly usagePlanId: string }>,
    retention: logs.RetentionDays,
    removalPolicy: RemovalPolicy | undefined,
  ): void {
    const { partition, region } = Stack.of(this);
    const logGroup = new logs.LogGroup(this, 'UsagePlanStageLogs', {
      retention,
      removalPolicy: removalPolicy ?? RemovalPolicy.DESTROY,
    });
    // The provider's own role, without the managed basic-execution policy: its log group and the plans only.
    const role = new iam.Role(this, 'UsagePlanStageRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Attaches the API stage to the usage plans of the data stack (AwsCustomResource provider)',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    for (const [name, plan] of plans) {
      const apiStage = `${this.api.restApiId}:${this.stage.stageName}`;
      const call = (op: 'add' | 'remove'): cr.AwsSdkCall => ({
        service: 'APIGateway',
        action: 'UpdateUsagePlan',
        parameters: {
          usagePlanId: plan.usagePlanId,
          patchOperations: [{ op, path: '/apiStages', value: apiStage }],
        },
        physicalResourceId: cr.PhysicalResourceId.of(`${plan.usagePlanId}:${apiStage}`),
        // Adding a stage already there, or removing one already gone, leaves the plan as wanted.
        ignoreErrorCodesMatching:
          op === 'add' ? 'ConflictException' : 'NotFoundException|BadRequestException',
      });
      const join = new cr.AwsCustomResource(this, `Join${name.charAt(0).toUpperCase()}${name.slice(1)}Plan`, {
        resourceType: 'Custom::UsagePlanStage',
        onCreate: call('add'),
        onUpdate: call('add'),
        onDelete: call('remove'),
        policy: cr.AwsCustomResourcePolicy.fromStatements([
          new iam.PolicyStatement({
            actions: ['apigateway:PATCH'],
            resources: [`arn:${partition}:apigateway:${region}::/usageplans/${plan.usagePlanId}`],
          }),
        ]),
        role,
        logGroup,
        memorySize: 256,
        installLatestAwsSdk: false,
      });
      join.node.addDependency(this.stage);
    }
    const provider = Stack.of(this).node.tryFindChild(
      `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`,
    );
    if (!provider)
      throw new Error('no AwsCustomResource provider function in the stack: did aws-cdk-lib rename it?');
    const why =
      "CDK's AwsCustomResource provider, invoked synchronously by CloudFormation (a failure fails the deploy), one UpdateUsagePlan call per plan per deploy";
    Validations.of(provider).acknowledge({ id: 'Serverless-LambdaDLQ', reason: `${why}: no event to keep.` });
    Validations.of(provider).acknowledge({
      id: 'Serverless-LambdaTracing',
      reason: `${why}: nothing to trace.`,
    });
  }
}

/**
 * JSON access log line (the same fields as API Gateway's standard JSON format and more). Every value is a
 * string, as API Gateway writes "-" for a missing one, so the format is itself valid JSON.
 */
const ACCESS_LOG_FORMAT = `{${[
  '"requestId":"$context.requestId"',
  '"extendedRequestId":"$context.extendedRequestId"',
  '"requestTime":"$context.requestTime"',
  '"stage":"$context.stage"',
  '"ip":"$context.identity.sourceIp"',
  '"userAgent":"$context.identity.userAgent"',
  '"apiKeyId":"$context.identity.apiKeyId"',
  '"method":"$context.httpMethod"',
  '"resourcePath":"$context.resourcePath"',
  '"path":"$context.path"',
  '"protocol":"$context.protocol"',
  '"status":"$context.status"',
  '"responseLength":"$context.responseLength"',
  '"latencyMs":"$context.responseLatency"',
  '"integrationLatencyMs":"$context.integration.latency"',
  '"integrationStatus":"$context.integration.status"',
  '"errorType":"$context.error.responseType"',
  '"errorMessage":"$context.error.message"',
  '"wafStatus":"$context.waf.status"',
  '"xrayTraceId":"$context.xrayTraceId"',
].join(',')}}`;
