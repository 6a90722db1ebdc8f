/**
 * The account-level stack a stage may opt into (`apiGatewayCloudWatchRole: true` in cdk.json): the IAM role
 * API Gateway writes CloudWatch Logs with, set as the account's API Gateway CloudWatch role for the region.
 * REST API stages refuse access logging until the account has that role, so without it (or this stack) the
 * first deploy of the app stack fails. The setting is per account and region, not per app: one stage per
 * account and region should own it, and none where the account has the role already (the preflight says
 * which). The role is retained when the stack goes, so an account setting never points at a deleted role.
 */
import { RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** The AWS-managed policy AWS documents for exactly this role. */
export const API_GATEWAY_LOGS_POLICY = 'service-role/AmazonAPIGatewayPushToCloudWatchLogs';

export class AccountStack extends Stack {
  readonly cloudWatchRole: iam.Role;

  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    this.cloudWatchRole = new iam.Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description:
        'API Gateway writes access and execution logs to CloudWatch Logs with this role (account setting)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(API_GATEWAY_LOGS_POLICY)],
    });
    this.cloudWatchRole.applyRemovalPolicy(RemovalPolicy.RETAIN);
    const account = new apigw.CfnAccount(this, 'ApiGatewayAccount', {
      cloudWatchRoleArn: this.cloudWatchRole.roleArn,
    });
    account.node.addDependency(this.cloudWatchRole);
    Validations.of(this.cloudWatchRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        "AWS's documented policy for the API Gateway CloudWatch role: it writes to API Gateway's own log groups, which exist before formfleet names them (execution logs).",
    });
  }
}
