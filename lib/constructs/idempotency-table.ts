/**
 * IdempotencyTable: the DynamoDB table Powertools idempotency keeps its records in (partition key `id`,
 * expiry in `expiration`, the Powertools defaults). On-demand, encrypted with the AWS-managed key, with
 * point-in-time recovery and TTL, so expired records cost nothing and a bad deploy can be undone.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/** Powertools idempotency's default attribute names. */
export const IDEMPOTENCY_KEY_ATTRIBUTE = 'id';
export const IDEMPOTENCY_TTL_ATTRIBUTE = 'expiration';

export interface IdempotencyTableProps {
  readonly tableName: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Refuse DeleteTable while set. @default true unless removalPolicy is DESTROY */
  readonly deletionProtection?: boolean;
}

export class IdempotencyTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: IdempotencyTableProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const deletionProtection = props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY;
    if (deletionProtection && removalPolicy === RemovalPolicy.DESTROY) {
      throw new Error(
        `${id}: deletionProtection and removalPolicy DESTROY contradict each other (a protected table cannot be destroyed with its stack)`,
      );
    }
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: IDEMPOTENCY_KEY_ATTRIBUTE, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: IDEMPOTENCY_TTL_ATTRIBUTE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection,
      removalPolicy,
    });
  }
}
