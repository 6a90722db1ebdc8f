/**
 * The stateful stack: what outlives a deploy (queues and their dead-letter queues). Kept apart from the
 * stateless app stack so functions and APIs can be replaced freely without touching state.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { PriorityQueues } from './constructs/priority-queues.ts';
import type { StageConfig } from './stage-config.ts';

export interface DataStackProps extends StackProps {
  readonly stage: StageConfig;
}

export class DataStack extends Stack {
  readonly queues: PriorityQueues;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    this.queues = new PriorityQueues(this, 'PriorityQueues', { prefix: props.stage.prefix });
  }
}
