/**
 * The preflight's AccountPorts on the AWS SDK, for one region, with the SDK's default credentials (and
 * AWS_ENDPOINT_URL, which the tests point at moto). Read-only calls: sts:GetCallerIdentity, ssm:GetParameter,
 * lambda:GetAccountSettings and GetFunctionConcurrency, apigateway:GET on /account,
 * secretsmanager:GetSecretValue and DescribeSecret.
 */
import { APIGatewayClient, GetAccountCommand } from '@aws-sdk/client-api-gateway';
import {
  GetAccountSettingsCommand,
  GetFunctionConcurrencyCommand,
  LambdaClient,
  ResourceNotFoundException as LambdaNotFound,
} from '@aws-sdk/client-lambda';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceNotFoundException as SecretNotFound,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { type AccountPorts, type SecretRead, secretNameOf } from './preflight.ts';

/** Client settings beyond the region (tests: moto's endpoint and an assumed role's credentials). */
export interface AwsAccountOptions {
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export function awsAccount(
  region: string,
  options: AwsAccountOptions = {},
): AccountPorts & { destroy(): void } {
  const config = { region, maxAttempts: 3, ...options };
  const sts = new STSClient(config);
  const ssm = new SSMClient(config);
  const lambda = new LambdaClient(config);
  const apigw = new APIGatewayClient(config);
  const secrets = new SecretsManagerClient(config);
  return {
    async callerIdentity() {
      const id = await sts.send(new GetCallerIdentityCommand({}));
      if (!id.Account || !id.Arn) throw new Error('GetCallerIdentity answered without an account');
      return { account: id.Account, arn: id.Arn };
    },
    async parameter(name) {
      try {
        return (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
      } catch (err) {
        if (err instanceof ParameterNotFound) return undefined;
        throw err;
      }
    },
    async lambdaSettings() {
      const limit = (await lambda.send(new GetAccountSettingsCommand({}))).AccountLimit;
      if (limit?.ConcurrentExecutions === undefined || limit.UnreservedConcurrentExecutions === undefined) {
        throw new Error('GetAccountSettings answered without concurrency limits');
      }
      return {
        concurrentExecutions: limit.ConcurrentExecutions,
        unreservedConcurrentExecutions: limit.UnreservedConcurrentExecutions,
      };
    },
    async functionReservation(functionName) {
      try {
        const res = await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: functionName }));
        return res.ReservedConcurrentExecutions ?? 0;
      } catch (err) {
        if (err instanceof LambdaNotFound) return 0;
        throw err;
      }
    },
    async apiGatewayCloudWatchRole() {
      return (await apigw.send(new GetAccountCommand({}))).cloudwatchRoleArn || undefined;
    },
    async secret(arn): Promise<SecretRead> {
      try {
        const res = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
        if (res.SecretString === undefined) throw new Error(`${arn} holds binary data, not text`);
        return { value: res.SecretString };
      } catch (err) {
        if (!(err instanceof SecretNotFound)) throw err;
      }
      // A complete ARN that does not match: maybe the secret exists under its name with another suffix.
      const name = secretNameOf(arn);
      try {
        const found = await secrets.send(new DescribeSecretCommand({ SecretId: name }));
        return { missing: true, ...(found.ARN ? { existingArn: found.ARN } : {}) };
      } catch (err) {
        if (err instanceof SecretNotFound) return { missing: true };
        throw err;
      }
    },
    destroy() {
      for (const client of [sts, ssm, lambda, apigw, secrets]) client.destroy();
    },
  };
}
