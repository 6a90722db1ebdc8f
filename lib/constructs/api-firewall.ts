/**
 * ApiFirewall: a regional WAF web ACL in front of the API stage. Rate-based rules per client IP stop floods
 * before they cost a Lambda invocation (the exact per-key and per-IP limits are the API's own); AWS managed
 * rule groups drop known-bad inputs and addresses. Blocked floods get 429 with Retry-After and the same
 * body API Gateway's own throttling returns.
 */
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { API_EDGE } from '#policy';

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

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    const perIp = props.perIpRequests ?? API_EDGE.wafPerIpRequests;
    const anonymous = props.anonymousPerIpRequests ?? API_EDGE.wafAnonymousPerIpRequests;
    const window = props.windowSeconds ?? API_EDGE.wafWindowSeconds;
    const problems: string[] = [];
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
      // The common rule set blocks bodies over 8 KB; the API enforces its own, larger JSON limit (413).
      managed('AWSManagedRulesCommonRuleSet', 12, ['SizeRestrictions_BODY']),
    );

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: props.name,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      customResponseBodies: {
        TooManyRequests: { contentType: 'APPLICATION_JSON', content: '{"message":"Too Many Requests"}' },
      },
      rules,
      visibilityConfig: visibility('WebAcl'),
    });
    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}
