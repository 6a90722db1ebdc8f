/**
 * ApiFirewall: a regional WAF web ACL in front of the API stage. Rate-based rules per client IP stop floods
 * before they cost a Lambda invocation (the exact per-key and per-IP limits are the API's own); AWS managed
 * rule groups drop known-bad inputs and addresses. Blocked floods get 429 with Retry-After and the same
 * body API Gateway's own throttling returns. A body no configuration of the API could accept (over the JSON
 * ceiling, up to API Gateway's 10 MB) gets the API's own 413 here: past Lambda's 6 MB invocation limit API
 * Gateway itself would answer a bare 5xx. What WAF blocks or counts is logged, API keys redacted.
 */
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { API_EDGE, PAYLOAD_LIMITS } from '#policy';

/** Window lengths WAF rate-based rules accept. */
const WAF_WINDOWS = [60, 120, 300, 600];
/** WAF's smallest rate-based limit. */
const WAF_MIN_LIMIT = 10;

export interface ApiFirewallProps {
  /** Web ACL name (also the prefix of its CloudWatch metric names). */
  readonly name: string;
  /** ARN of the API Gateway stage to protect. */
  readonly stageArn: string;
  /** Resource paths (with {param} segments) of the routes callable without an API key. */
  readonly anonymousPaths: readonly string[];
  /** Requests per window one IP may send to any route. @default API_EDGE.wafPerIpRequests */
  readonly perIpRequests?: number;
  /** Requests per window one IP may send to the anonymous routes. @default API_EDGE.wafAnonymousPerIpRequests */
  readonly anonymousPerIpRequests?: number;
  /** @default API_EDGE.wafWindowSeconds */
  readonly windowSeconds?: number;
  /**
   * Bodies declaring a Content-Length above this get 413 at the edge.
   * @default PAYLOAD_LIMITS.jsonBodyCeilingBytes (the most any stage lets the API accept)
   */
  readonly maxBodyBytes?: number;
  /** Retention of the WAF log group (`aws-waf-logs-<name>`). */
  readonly logRetention: logs.RetentionDays;
  /** @default RemovalPolicy.DESTROY (the logs expire with their retention anyway) */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** Request headers whose values never reach the WAF logs. */
export const REDACTED_HEADERS = ['x-api-key', 'authorization'] as const;

/**
 * A regular expression matching the decimal integers at least `n` (leading zeros allowed), for a header WAF
 * can only compare as text: more digits than n, or as many with a higher digit at the first difference, or n.
 */
export function atLeastRegex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`atLeastRegex needs a positive integer (got ${n})`);
  const digits = String(n);
  const width = digits.length;
  const rest = (count: number) => (count > 0 ? `\\d{${count}}` : '');
  const alternatives = [`[1-9]\\d{${width},}`];
  for (let i = 0; i < width; i++) {
    const digit = Number(digits[i]);
    if (digit < 9) alternatives.push(`${digits.slice(0, i)}[${digit + 1}-9]${rest(width - i - 1)}`);
  }
  alternatives.push(digits);
  return `^0*(${alternatives.join('|')})$`;
}

/**
 * A regular expression matching the URI paths of these routes as WAF sees them: directly (custom domain)
 * or under the stage name (execute-api URL, `/dev/health`).
 */
export function pathsRegex(paths: readonly string[]): string {
  const alternatives = paths.map((p) =>
    p
      .split('/')
      .map((seg) => (/^\{.+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
      .join('/'),
  );
  return `^(/[^/]+)?(${alternatives.join('|')})$`;
}

export class ApiFirewall extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  /** Blocked and counted requests (`aws-waf-logs-<name>`). */
  readonly logs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    const perIp = props.perIpRequests ?? API_EDGE.wafPerIpRequests;
    const anonymous = props.anonymousPerIpRequests ?? API_EDGE.wafAnonymousPerIpRequests;
    const window = props.windowSeconds ?? API_EDGE.wafWindowSeconds;
    const maxBody = props.maxBodyBytes ?? PAYLOAD_LIMITS.jsonBodyCeilingBytes;
    const problems: string[] = [];
    if (!Number.isInteger(maxBody) || maxBody < 1 || maxBody >= PAYLOAD_LIMITS.apiGatewayMaxBytes) {
      problems.push(
        `maxBodyBytes must be 1..${PAYLOAD_LIMITS.apiGatewayMaxBytes - 1} (API Gateway refuses more itself)`,
      );
    }
    if (!WAF_WINDOWS.includes(window))
      problems.push(`windowSeconds must be one of ${WAF_WINDOWS.join(', ')}`);
    if (perIp < WAF_MIN_LIMIT || anonymous < WAF_MIN_LIMIT) {
      problems.push(`rate limits must be at least ${WAF_MIN_LIMIT} requests (WAF's minimum)`);
    }
    if (anonymous > perIp) {
      problems.push(
        `anonymousPerIpRequests (${anonymous}) above perIpRequests (${perIp}) could never apply; the anonymous limit must be the tighter one`,
      );
    }
    if (problems.length > 0) throw new Error(`${id}: ${problems.join('; ')}`);

    const visibility = (metric: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${props.name}-${metric}`,
    });
    const tooManyRequests: wafv2.CfnWebACL.RuleActionProperty = {
      block: {
        customResponse: {
          responseCode: 429,
          customResponseBodyKey: 'TooManyRequests',
          responseHeaders: [{ name: 'retry-after', value: String(window) }],
        },
      },
    };
    const rules: wafv2.CfnWebACL.RuleProperty[] = [
      {
        name: 'PerIpFlood',
        priority: 0,
        action: tooManyRequests,
        statement: {
          rateBasedStatement: { limit: perIp, evaluationWindowSec: window, aggregateKeyType: 'IP' },
        },
        visibilityConfig: visibility('PerIpFlood'),
      },
    ];
    rules.push({
      name: 'BodyTooLarge',
      priority: 2,
      action: {
        block: { customResponse: { responseCode: 413, customResponseBodyKey: 'PayloadTooLarge' } },
      },
      statement: {
        regexMatchStatement: {
          regexString: atLeastRegex(maxBody + 1),
          // WAF's field types leave the header name untyped: CloudFormation's spelling, as is.
          fieldToMatch: { singleHeader: { Name: 'content-length' } },
          textTransformations: [{ priority: 0, type: 'NONE' }],
        },
      },
      visibilityConfig: visibility('BodyTooLarge'),
    });
    if (props.anonymousPaths.length > 0) {
      rules.push({
        name: 'AnonymousPerIp',
        priority: 1,
        action: tooManyRequests,
        statement: {
          rateBasedStatement: {
            limit: anonymous,
            evaluationWindowSec: window,
            aggregateKeyType: 'IP',
            scopeDownStatement: {
              regexMatchStatement: {
                regexString: pathsRegex(props.anonymousPaths),
                fieldToMatch: { uriPath: {} },
                textTransformations: [{ priority: 0, type: 'NONE' }],
              },
            },
          },
        },
        visibilityConfig: visibility('AnonymousPerIp'),
      });
    }
    const managed = (
      name: string,
      priority: number,
      overrides: string[] = [],
    ): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ...(overrides.length > 0
            ? { ruleActionOverrides: overrides.map((rule) => ({ name: rule, actionToUse: { count: {} } })) }
            : {}),
        },
      },
      visibilityConfig: visibility(name),
    });
    rules.push(
      managed('AWSManagedRulesAmazonIpReputationList', 10),
      managed('AWSManagedRulesKnownBadInputsRuleSet', 11),
      // The common rule set blocks bodies over 8 KB (the API enforces its own, larger JSON limit with 413,
      // and BodyTooLarge above) and requests without a User-Agent (API clients are authenticated by their
      // key, and many HTTP libraries send no User-Agent): both count, never block.
      managed('AWSManagedRulesCommonRuleSet', 12, ['SizeRestrictions_BODY', 'NoUserAgent_HEADER']),
    );

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: props.name,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      customResponseBodies: {
        TooManyRequests: { contentType: 'APPLICATION_JSON', content: '{"message":"Too Many Requests"}' },
        PayloadTooLarge: {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify({
            error: {
              code: 'payload_too_large',
              message: `request body is larger than the ${maxBody}-byte limit`,
            },
          }),
        },
      },
      rules,
      visibilityConfig: visibility('WebAcl'),
    });
    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stageArn,
      webAclArn: this.webAcl.attrArn,
    });

    // WAF writes only to log groups named aws-waf-logs-*, given by ARN without the ":*" suffix.
    const logGroupName = `aws-waf-logs-${props.name}`;
    this.logs = new logs.LogGroup(this, 'Logs', {
      logGroupName,
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    const logging = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      redactedFields: REDACTED_HEADERS.map((name) => ({ singleHeader: { Name: name } })),
      // Blocked and counted requests only: the API's access log already has every request with its WAF
      // status, so allowed traffic would be paid for twice.
      loggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [
          {
            Behavior: 'KEEP',
            Requirement: 'MEETS_ANY',
            Conditions: ['BLOCK', 'COUNT', 'EXCLUDED_AS_COUNT'].map((action) => ({
              ActionCondition: { Action: action },
            })),
          },
        ],
      },
    });
    logging.node.addDependency(this.logs);
  }
}
