/**
 * The rehearsal's custom-resource provider. moto cannot run the Lambda functions behind custom resources,
 * so the patched moto (local/rehearsal/moto_server.py) sends each custom resource's Create event here, and
 * this answers on the event's ResponseURL as the provider would: for the migrate trigger by running the
 * project's own migrate handler in-process, with the deployed function's environment (its secret, read from
 * moto, names the rehearsal's Postgres), so the migration on deploy is rehearsed too. A custom resource it
 * cannot play fails the rehearsal rather than being answered blindly.
 */
import { createServer, type Server } from 'node:http';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { makeMigrateTrigger, migrateTriggerDepsFromEnv } from '#functions/migrate/trigger';
import { awsClientConfig } from '#shared/aws';
import { DEFAULT_MIGRATIONS_DIR } from '#shared/migrate';

/** The fields of a CloudFormation custom-resource event the provider reads. */
export interface CustomResourceEvent {
  RequestType: 'Create' | 'Update' | 'Delete';
  ResponseURL: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  ResourceType: string;
  ResourceProperties: Record<string, unknown>;
}

/** What happened to one custom resource. */
export interface CustomResourceOutcome {
  readonly logicalId: string;
  readonly type: string;
  /** 'ran': played for real; 'not rehearsed': answered because what it acts on is not modelled by moto. */
  readonly outcome: 'ran' | 'not rehearsed' | 'failed';
  readonly detail: string;
}

export interface RehearsalProvider {
  readonly url: string;
  readonly outcomes: readonly CustomResourceOutcome[];
  /** Resolves with the first failure (the deploy can then be stopped instead of waiting on moto). */
  readonly failure: Promise<CustomResourceOutcome>;
  stop(): Promise<void>;
}

export interface ProviderOptions {
  /** Name of the function the migrate trigger invokes (`formfleet-<stage>-migrate`). */
  readonly migrateFunction: string;
  /** AWS SDK environment that reaches moto (endpoint, region, dummy credentials). */
  readonly awsEnv: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
}

/** Marker the patched moto puts where a value comes from a resource it does not model. */
const NOT_MODELLED = /not-rehearsed:/;

export async function startRehearsalProvider(options: ProviderOptions): Promise<RehearsalProvider> {
  const outcomes: CustomResourceOutcome[] = [];
  let fail: (o: CustomResourceOutcome) => void = () => {};
  const failure = new Promise<CustomResourceOutcome>((resolve) => {
    fail = resolve;
  });
  // Made on first use: moto, and so awsEnv, is known only after the provider's URL is.
  let client: LambdaClient | undefined;
  const lambda = () => {
    client ??= new LambdaClient(awsClientConfig(options.awsEnv));
    return client;
  };

  async function play(
    event: CustomResourceEvent,
  ): Promise<{ physicalId: string; outcome: CustomResourceOutcome }> {
    const base = { logicalId: event.LogicalResourceId, type: event.ResourceType };
    if (event.ResourceType === 'Custom::Trigger') {
      const handlerArn = String(event.ResourceProperties.HandlerArn ?? '');
      const name = /:function:([^:]+)/.exec(handlerArn)?.[1];
      if (name !== options.migrateFunction) {
        throw new Error(
          `no rehearsal for a trigger of ${name ?? handlerArn} (only ${options.migrateFunction})`,
        );
      }
      const config = await lambda().send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      const env = {
        ...config.Environment?.Variables,
        ...options.awsEnv,
        // In Lambda $LAMBDA_TASK_ROOT/sql; the bundle's sql/ is the repository's.
        MIGRATIONS_DIR: DEFAULT_MIGRATIONS_DIR,
      };
      const report = await makeMigrateTrigger(await migrateTriggerDepsFromEnv(env))();
      return {
        physicalId: `${name}-migrations`,
        outcome: {
          ...base,
          outcome: 'ran',
          detail: `${name} applied ${report.applied.length} migration(s) (${report.skipped.length} already applied), its secret read from the deployed environment`,
        },
      };
    }
    if (event.ResourceType === 'Custom::UsagePlanStage') {
      const call = String(event.ResourceProperties.Create ?? '');
      if (NOT_MODELLED.test(call)) {
        return {
          physicalId: event.LogicalResourceId,
          outcome: {
            ...base,
            outcome: 'not rehearsed',
            detail: 'UpdateUsagePlan on a usage plan moto does not model (AWS::ApiGateway::UsagePlan)',
          },
        };
      }
      throw new Error(`an UpdateUsagePlan call the rehearsal would have to make for real: ${call}`);
    }
    throw new Error(`the rehearsal cannot play the provider of ${event.ResourceType}`);
  }

  async function respond(event: CustomResourceEvent): Promise<void> {
    let body: Record<string, unknown>;
    try {
      if (event.RequestType !== 'Create') throw new Error(`${event.RequestType} events are not rehearsed`);
      const { physicalId, outcome } = await play(event);
      outcomes.push(outcome);
      options.log(`custom resource ${event.LogicalResourceId} (${event.ResourceType}): ${outcome.detail}`);
      body = { Status: 'SUCCESS', PhysicalResourceId: physicalId, Data: {} };
    } catch (err) {
      const outcome: CustomResourceOutcome = {
        logicalId: event.LogicalResourceId,
        type: event.ResourceType,
        outcome: 'failed',
        detail: (err as Error).message,
      };
      outcomes.push(outcome);
      fail(outcome);
      body = { Status: 'FAILED', Reason: outcome.detail, PhysicalResourceId: event.LogicalResourceId };
    }
    await fetch(event.ResponseURL, {
      method: 'PUT',
      headers: { 'content-type': '' },
      body: JSON.stringify({
        ...body,
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: event.LogicalResourceId,
      }),
    });
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200).end();
      let event: CustomResourceEvent;
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CustomResourceEvent;
      } catch {
        return;
      }
      respond(event).catch((err: Error) =>
        fail({
          logicalId: event.LogicalResourceId,
          type: event.ResourceType,
          outcome: 'failed',
          detail: err.message,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`,
    outcomes,
    failure,
    stop: async () => {
      client?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
